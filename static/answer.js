/*
 * Showing the server's answer: the number read, one mark at a time.
 *
 * A single digit is shown as it always was: the digit, how sure the network
 * is, its ten probabilities and the 28 x 28 image the network read. For
 * several, each digit of the number is a button that shows its own details
 * when hovered, focused or pressed, and a box is drawn around its ink on the
 * drawing with its certainty. A mark the server says is not a digit is said
 * to be so, never shown as a guessed digit.
 */

import { SURFACE_HEIGHT } from "./surface.js";

const N_CLASSES = 10;
const BOX_LENGTH = 4; // [left, top, width, height]
const PERCENT = 100;
const SURE_PERCENT = 99.9; // Above this, say "over 99.9%": never "100%".
const NOT_A_DIGIT = "?"; // How a mark that is not a digit stands in a number.
const LABEL_ROOM = 28; // Drawing units a digit box's label needs above or below it.
const LABEL_GAP_PX = 2; // Labels of neighbouring boxes keep at least this far apart.

export const NOT_A_DIGIT_MESSAGE = "That doesn't look like a digit. Write a digit, 0 to 9, or a number.";

function isMark(entry) {
  return entry !== null && typeof entry === "object"
    && Number.isInteger(entry.digit)
    && Array.isArray(entry.probabilities) && entry.probabilities.length === N_CLASSES
    && Array.isArray(entry.box) && entry.box.length === BOX_LENGTH
    && entry.box.every(Number.isFinite);
}

// True when `body` is a /predict/number answer this page can show.
export function isNumberAnswer(body) {
  return body !== null && typeof body === "object"
    && typeof body.number === "string"
    && Array.isArray(body.digits) && body.digits.length > 0
    && body.digits.every(isMark);
}

// A probability as a person should read it: never "100%" for a network's answer.
function formatPercent(probability) {
  const percent = probability * PERCENT;
  if (percent > SURE_PERCENT) {
    return "over " + SURE_PERCENT + "%";
  }
  if (Math.round(percent) === PERCENT) {
    return percent.toFixed(1) + "%";
  }
  return Math.round(percent) + "%";
}

// "1st", "2nd", "3rd", "4th", ... "11th", "12th".
function ordinal(position) {
  const teens = position % 100 >= 11 && position % 100 <= 13;
  const suffix = teens ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[position % 10] || "th");
  return position + suffix;
}

// "a 7", "an 8": the digit as it is read aloud.
function withArticle(digit) {
  return (digit === 8 ? "an " : "a ") + digit;
}

function listOfWords(words) {
  if (words.length <= 1) {
    return words.join("");
  }
  return words.slice(0, -1).join(", ") + " and " + words[words.length - 1];
}

// One mark of the answer, with its box moved from the upload's pixels to drawing units.
function markFrom(entry, crop) {
  const isDigit = entry.is_digit !== false;
  const confidence = typeof entry.confidence === "number"
    ? entry.confidence : entry.probabilities[entry.digit];
  return {
    digit: entry.digit,
    isDigit: isDigit,
    confident: isDigit && entry.confident !== false,
    confidence: confidence,
    probabilities: entry.probabilities.map(function (value) {
      return Math.min(Math.max(Number(value) || 0, 0), 1);
    }),
    preview: typeof entry.preview === "string" && entry.preview.startsWith("data:image/")
      ? entry.preview : null,
    box: {
      x: entry.box[0] + crop.x,
      y: entry.box[1] + crop.y,
      width: entry.box[2],
      height: entry.box[3],
    },
  };
}

function markText(mark) {
  return mark.isDigit ? String(mark.digit) : NOT_A_DIGIT;
}

// What a mark's certainty is, in a few words: "98% sure", "not sure: 62%", "not a digit".
function markCertainty(mark) {
  if (!mark.isDigit) {
    return "not a digit";
  }
  const sure = formatPercent(mark.confidence);
  return mark.confident ? sure + " sure" : "not sure: " + sure;
}

// The same in as few characters as can say it, for a label with no room: "98%", "62%?", "?".
function shortCertainty(mark) {
  if (!mark.isDigit) {
    return NOT_A_DIGIT;
  }
  const percent = mark.confidence * PERCENT > SURE_PERCENT ? ">" + SURE_PERCENT + "%" : formatPercent(mark.confidence);
  return mark.confident ? percent : percent + "?";
}

function intersects(a, b) {
  return a.left < b.right + LABEL_GAP_PX && b.left < a.right + LABEL_GAP_PX
    && a.top < b.bottom + LABEL_GAP_PX && b.top < a.bottom + LABEL_GAP_PX;
}

// Place each label, left to right, where it overlaps none placed before:
// above its box, else below (or inside), else in its short form, else hidden.
// The full words stay in the label's title and in the digit's button.
function separateLabels(outlines, marks) {
  const placed = [];
  const fits = function (label) {
    const box = label.getBoundingClientRect();
    return !placed.some(function (other) { return intersects(box, other); });
  };
  outlines.forEach(function (outline, index) {
    const label = outline.firstChild;
    const side = outline.classList.contains("label-below") || outline.classList.contains("label-inside")
      ? null : "label-below";
    const tries = [function () {}, function () {
      if (side !== null) { outline.classList.add(side); }
    }, function () {
      label.textContent = shortCertainty(marks[index]);
    }, function () {
      if (side !== null) { outline.classList.remove(side); }
    }];
    const placedWell = tries.some(function (change) {
      change();
      return fits(label);
    });
    if (placedWell) {
      placed.push(label.getBoundingClientRect());
    } else {
      label.hidden = true;
    }
  });
}

// The sentence the status line says about an answer, and whether the page
// shows all it says already ("answer": announce it, do not print it twice).
function describe(marks) {
  const single = marks.length === 1;
  const number = marks.map(markText).join("");
  const places = function (subset) {
    return listOfWords(subset.map(function (mark) { return ordinal(marks.indexOf(mark) + 1); }));
  };
  const notDigits = marks.filter(function (mark) { return !mark.isDigit; });
  const unsure = marks.filter(function (mark) { return mark.isDigit && !mark.confident; });
  if (single && notDigits.length === 1) {
    return { text: NOT_A_DIGIT_MESSAGE, kind: "message" };
  }
  if (notDigits.length > 0) {
    return { text: "Read as " + number + ", but the " + places(notDigits) + " mark"
      + (notDigits.length > 1 ? "s don't" : " doesn't") + " look like a digit.", kind: "message" };
  }
  if (single && unsure.length === 1) {
    return { text: "Not sure: perhaps " + withArticle(marks[0].digit) + " ("
      + formatPercent(marks[0].confidence) + "). Try drawing it larger and clearer.", kind: "message" };
  }
  if (unsure.length > 0) {
    const many = unsure.length > 1;
    return { text: "Not sure: perhaps " + number + ", but the " + places(unsure) + " digit"
      + (many ? "s are" : " is") + " unclear. Try writing " + (many ? "them" : "it")
      + " larger and clearer.", kind: "message" };
  }
  if (single) {
    return { text: "Read as " + number + ", " + formatPercent(marks[0].confidence) + " sure.", kind: "answer" };
  }
  return { text: "Read as the number " + number + ".", kind: "answer" };
}

export class AnswerView {
  // drawing: the Drawing, whose width places the boxes around the digits.
  constructor(drawing) {
    this.drawing = drawing;
    this.result = document.getElementById("result");
    this.statusLine = document.getElementById("status");
    this.numberOutput = document.getElementById("number");
    this.digitOutput = document.getElementById("digit");
    this.notDigitNote = document.getElementById("not-digit");
    this.selectionLine = document.getElementById("selection");
    this.confidenceOutput = document.getElementById("confidence");
    this.unsureBadge = document.getElementById("unsure");
    this.previewImage = document.getElementById("preview");
    this.boxLayer = document.getElementById("digit-boxes");
    this.probabilityRows = this.buildProbabilityRows(document.getElementById("probabilities"));
    this.marks = []; // The answer shown: one entry per mark read, left to right.
    this.selected = 0; // Index into marks of the mark whose details are shown.
    this.selectMark = this.selectMark.bind(this);
  }

  buildProbabilityRows(list) {
    const rows = [];
    for (let digit = 0; digit < N_CLASSES; digit += 1) {
      const item = document.createElement("li");
      item.className = "probability";
      item.dataset.digit = String(digit);

      const label = document.createElement("span");
      label.className = "probability-digit";
      label.textContent = String(digit);
      const separator = document.createElement("span");
      separator.className = "visually-hidden";
      separator.textContent = ": ";
      const bar = document.createElement("span");
      bar.className = "probability-bar";
      bar.setAttribute("aria-hidden", "true");
      const fill = document.createElement("span");
      fill.className = "probability-fill";
      bar.appendChild(fill);
      const value = document.createElement("span");
      value.className = "probability-value";
      const top = document.createElement("span");
      top.className = "visually-hidden probability-top";

      item.append(label, separator, bar, value, top);
      list.appendChild(item);
      rows.push({ item: item, fill: fill, value: value, top: top });
    }
    return rows;
  }

  setStatus(message, kind) {
    this.statusLine.textContent = message;
    this.statusLine.classList.toggle("is-error", kind === "error");
    // An answer the page already shows in full is still announced, but not printed twice.
    this.statusLine.classList.toggle("is-announcement", kind === "answer");
  }

  // No answer: an instruction, or an error, in the status line.
  showMessage(message, isError) {
    this.reset();
    this.setStatus(message, isError ? "error" : "message");
  }

  reset() {
    this.marks = [];
    this.selected = 0;
    this.digitOutput.textContent = "";
    this.numberOutput.replaceChildren(this.digitOutput);
    this.notDigitNote.hidden = true;
    this.result.classList.remove("is-unsure", "has-prediction", "is-number", "is-not-digit");
    this.resetDetails();
    this.drawBoxes();
  }

  resetDetails() {
    this.selectionLine.hidden = true;
    this.selectionLine.textContent = "";
    this.confidenceOutput.textContent = "–";
    this.confidenceOutput.parentElement.hidden = true;
    this.unsureBadge.hidden = true;
    this.probabilityRows.forEach(function (row) {
      row.item.classList.remove("is-top");
      row.fill.style.setProperty("--share", "0");
      row.value.textContent = "–";
      row.top.textContent = "";
    });
    this.previewImage.hidden = true;
    this.previewImage.removeAttribute("src");
  }

  // Show a /predict/number answer to the upload cut at `crop`.
  // Return {answer, confident, marks} for the history: answer is "" for one
  // mark that is not a digit; marks are {text, unsure} as #number shows them.
  show(body, crop) {
    const previous = this.marks.length;
    const marks = body.digits.map(function (entry) { return markFrom(entry, crop); });
    this.marks = marks;
    if (marks.length !== previous || this.selected >= marks.length) {
      this.selected = 0;
    }
    const single = marks.length === 1;
    const notDigit = single && !marks[0].isDigit;
    const confident = body.confident !== false && marks.every(function (mark) { return mark.confident; });

    this.result.classList.add("has-prediction");
    this.result.classList.toggle("is-number", !single);
    this.result.classList.toggle("is-unsure", !confident);
    this.result.classList.toggle("is-not-digit", notDigit);
    this.notDigitNote.hidden = !notDigit;
    this.digitOutput.textContent = single && !notDigit ? String(marks[0].digit) : "";
    this.numberOutput.replaceChildren(this.digitOutput);
    if (!single) {
      marks.forEach(function (mark, index) {
        this.numberOutput.appendChild(this.digitButton(mark, index));
      }, this);
    }
    this.showDetails(this.selected);
    this.drawBoxes();
    const sentence = describe(marks);
    this.setStatus(sentence.text, sentence.kind);
    return {
      answer: notDigit ? "" : marks.map(markText).join(""),
      confident: confident,
      marks: marks.map(function (mark) { return { text: markText(mark), unsure: !mark.confident }; }),
    };
  }

  // A digit of a number as a button: hovering, focusing or pressing it shows its details.
  digitButton(mark, index) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "number-digit";
    button.classList.toggle("is-unsure", mark.isDigit && !mark.confident);
    button.classList.toggle("is-not-digit", !mark.isDigit);
    button.textContent = markText(mark);
    button.dataset.index = String(index);
    button.setAttribute("aria-label", ordinal(index + 1) + " mark: "
      + (mark.isDigit ? mark.digit + ", " : "") + markCertainty(mark));
    button.addEventListener("click", this.selectMark);
    button.addEventListener("focus", this.selectMark);
    button.addEventListener("pointerenter", this.selectMark);
    return button;
  }

  selectMark(event) {
    const index = Number(event.currentTarget.dataset.index);
    if (index !== this.selected) {
      this.showDetails(index);
      this.drawBoxes();
    }
  }

  // Show one mark's certainty, probabilities and preview.
  showDetails(index) {
    this.selected = index;
    const mark = this.marks[index];
    this.resetDetails();
    this.numberOutput.querySelectorAll(".number-digit").forEach(function (button) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.index) === index));
    });
    if (this.marks.length > 1) {
      this.selectionLine.textContent = "The " + ordinal(index + 1) + " mark of " + this.marks.length
        + (mark.isDigit ? ", read as " + mark.digit : ", not a digit");
      this.selectionLine.hidden = false;
    }
    if (mark.preview !== null) {
      this.previewImage.src = mark.preview;
      this.previewImage.hidden = false;
    }
    if (!mark.isDigit) {
      return;
    }
    this.confidenceOutput.textContent = formatPercent(mark.confidence);
    this.confidenceOutput.parentElement.hidden = false;
    this.unsureBadge.hidden = mark.confident;
    this.probabilityRows.forEach(function (row, digit) {
      const probability = mark.probabilities[digit];
      const isTop = digit === mark.digit;
      row.item.classList.toggle("is-top", isTop);
      row.fill.style.setProperty("--share", String(probability));
      row.value.textContent = formatPercent(probability);
      row.top.textContent = isTop ? " (most likely)" : "";
    });
  }

  // Draw a box around each mark of a number on the drawing, with its certainty.
  // Positions are shares of the surface, so they follow the canvas when it is resized.
  drawBoxes() {
    const surfaceWidth = this.drawing.width;
    const boxes = this.marks.length > 1 ? this.marks : [];
    const outlines = boxes.map(function (mark, index) {
      const outline = document.createElement("div");
      outline.className = "digit-outline";
      outline.classList.toggle("is-selected", index === this.selected);
      outline.classList.toggle("is-unsure", mark.isDigit && !mark.confident);
      outline.classList.toggle("is-not-digit", !mark.isDigit);
      if (mark.box.y < LABEL_ROOM) {
        const roomBelow = mark.box.y + mark.box.height <= SURFACE_HEIGHT - LABEL_ROOM;
        outline.classList.add(roomBelow ? "label-below" : "label-inside");
      }
      outline.style.left = (PERCENT * mark.box.x) / surfaceWidth + "%";
      outline.style.top = (PERCENT * mark.box.y) / SURFACE_HEIGHT + "%";
      outline.style.width = (PERCENT * mark.box.width) / surfaceWidth + "%";
      outline.style.height = (PERCENT * mark.box.height) / SURFACE_HEIGHT + "%";
      const label = document.createElement("span");
      label.className = "digit-outline-label";
      label.textContent = markCertainty(mark);
      label.title = markCertainty(mark);
      outline.appendChild(label);
      return outline;
    }, this);
    this.boxLayer.replaceChildren.apply(this.boxLayer, outlines);
    separateLabels(outlines, boxes);
  }
}
