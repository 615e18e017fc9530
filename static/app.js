/*
 * The drawing page: write a digit or a number, send it to /predict/number,
 * show the answer.
 *
 * Strokes are kept as lists of points in drawing units: the surface is 280
 * units high and as many units wide as its shape on screen gives, so a point
 * (x, y) is at (left + x * k, top + y * k) with k = the canvas's CSS height /
 * 280, whatever the screen's size or pixel density. The screen canvas is
 * redrawn from that list (after Undo, or when its size changes). The image
 * sent to the server is drawn from the same list, one pixel per unit, cropped
 * to the ink's box (kept up to date from the points as they arrive) plus a
 * margin of one pen width, and posted as a raw image/png body: every device
 * sends the same picture for the same strokes, and the server decodes only
 * the part with ink. Ink is black on a transparent canvas: the ink is in the
 * alpha channel and the server detects the polarity. The pen width is the
 * canvas's data-stroke-width, set by the server.
 *
 * The answer is a number, one element per mark read: a single digit is shown
 * as it always was (the digit, its probabilities and its 28 x 28 preview);
 * for several, each digit of the number is a button that shows its own, and
 * a box is drawn around its ink on the drawing. A mark the server says is
 * not a digit is shown as such, never as a guessed digit.
 *
 * Each drawing and its latest answer go into a short history: a thumbnail
 * drawn from the same strokes, kept only in this page.
 */
(function () {
  "use strict";

  const SURFACE_HEIGHT = 280; // Drawing units, top to bottom.
  const INK_COLOUR = "#000";
  // At most one prediction request per this many milliseconds during a stroke.
  const PREDICT_INTERVAL_MS = 300;
  const N_CLASSES = 10;
  const BOX_LENGTH = 4; // [left, top, width, height]
  const PERCENT = 100;
  const SURE_PERCENT = 99.9; // Above this, say "over 99.9%": never "100%".
  const MAIN_MOUSE_BUTTON = 0;
  const HISTORY_LENGTH = 8;
  // Height of a history thumbnail's backing store: 56 CSS pixels at up to 2x density.
  const THUMB_PIXELS = 112;
  // A thumbnail is at most this many times as wide as it is high.
  const THUMB_MAX_ASPECT = 3;
  const NOT_A_DIGIT = "?"; // How a mark that is not a digit stands in a number.
  const LABEL_ROOM = 28; // Drawing units a digit box's label needs above or below it.

  const MESSAGES = {
    empty: "Write a digit or a number",
    notDigit: "That doesn't look like a digit. Write a digit, 0 to 9, or a number.",
    network: "Could not reach the server to read your drawing. Check your connection, then draw again.",
    unexpected: "The server sent an answer this page does not understand.",
    encode: "Your browser could not turn the drawing into an image.",
  };

  const page = document.querySelector("[data-predict-url]");
  const canvas = document.getElementById("pad");
  const context = canvas.getContext("2d");
  const boxLayer = document.getElementById("digit-boxes");
  const undoButton = document.getElementById("undo");
  const clearButton = document.getElementById("clear");
  const result = document.getElementById("result");
  const statusLine = document.getElementById("status");
  const numberOutput = document.getElementById("number");
  const digitOutput = document.getElementById("digit");
  const notDigitNote = document.getElementById("not-digit");
  const selectionLine = document.getElementById("selection");
  const confidenceOutput = document.getElementById("confidence");
  const unsureBadge = document.getElementById("unsure");
  const probabilityList = document.getElementById("probabilities");
  const previewImage = document.getElementById("preview");
  const historyList = document.getElementById("history");
  const historyEmpty = document.getElementById("history-empty");
  const historyHeading = document.getElementById("history-heading");
  const forgetHistoryButton = document.getElementById("forget-history");

  // Pen width in drawing units: the page's data-stroke-width.
  const STROKE_WIDTH = Number(canvas.dataset.strokeWidth);
  if (!(STROKE_WIDTH > 0)) {
    throw new Error("The canvas needs a positive data-stroke-width, got "
      + JSON.stringify(canvas.dataset.strokeWidth));
  }
  // The upload keeps this much paper around the ink: the pen's half width, plus one pen width.
  const CROP_MARGIN = STROKE_WIDTH / 2 + STROKE_WIDTH;

  const exportCanvas = document.createElement("canvas");
  const exportContext = exportCanvas.getContext("2d");
  const thumbCanvas = document.createElement("canvas");
  const thumbContext = thumbCanvas.getContext("2d");

  const predictUrl = new URL(page.dataset.predictUrl, document.baseURI);
  predictUrl.searchParams.set("preview", "1");

  const probabilityRows = buildProbabilityRows();

  const state = {
    strokes: [], // Each stroke is an array of {x, y} in drawing units.
    inkBox: null, // {left, top, right, bottom} of the stroke points, or null.
    surfaceWidth: SURFACE_HEIGHT, // Drawing units, left to right, from the canvas's shape.
    activeStroke: null,
    activePointerId: null,
    lastIssued: 0, // Sequence number of the newest request sent.
    lastShown: 0, // Sequence number of the newest answer shown.
    staleUpTo: 0, // Answers to requests numbered up to this are out of date.
    pending: new Map(), // Sequence number -> AbortController.
    lastRequestAt: -Infinity,
    scheduled: null,
    marks: [], // The answer shown: one entry per mark read, left to right.
    selected: 0, // Index into marks of the mark whose details are shown.
    historyEntry: null, // The history item of the drawing on the canvas, once answered.
  };

  // ---- Drawing --------------------------------------------------------

  function setInk(ctx) {
    ctx.strokeStyle = INK_COLOUR;
    ctx.fillStyle = INK_COLOUR;
    ctx.lineWidth = STROKE_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  // Draw a round dot: a tap with no movement must leave ink too.
  function drawDot(ctx, point) {
    ctx.beginPath();
    ctx.arc(point.x, point.y, STROKE_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  // Draw the polyline through points[from - 1 ...]: the part of a stroke not yet on screen.
  function drawPolyline(ctx, points, from) {
    if (points.length - from < 1) {
      return;
    }
    ctx.beginPath();
    const start = points[Math.max(from - 1, 0)];
    ctx.moveTo(start.x, start.y);
    for (let i = Math.max(from, 1); i < points.length; i += 1) {
      ctx.lineTo(points[i].x, points[i].y);
    }
    ctx.stroke();
  }

  function drawStroke(ctx, points) {
    drawDot(ctx, points[0]);
    drawPolyline(ctx, points, 1);
  }

  // Clear ctx's whole backing store, then draw every stroke with its current transform.
  function drawAll(ctx) {
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
    ctx.restore();
    setInk(ctx);
    state.strokes.forEach(function (points) {
      drawStroke(ctx, points);
    });
  }

  // Size the backing store to the displayed size times devicePixelRatio, then redraw.
  function fitCanvasToScreen() {
    const box = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(box.width * ratio));
    const height = Math.max(1, Math.round(box.height * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    if (box.height > 0) {
      state.surfaceWidth = Math.max(1, Math.round((box.width * SURFACE_HEIGHT) / box.height));
    }
    const scale = height / SURFACE_HEIGHT;
    context.setTransform(scale, 0, 0, scale, 0, 0);
    drawAll(context);
    drawDigitBoxes();
  }

  // Map a pointer event's client coordinates to drawing units.
  // The canvas has no border or padding, so its bounding box is its drawing area.
  function drawingPoint(event, box) {
    const unitsPerPixel = SURFACE_HEIGHT / box.height;
    return {
      x: (event.clientX - box.left) * unitsPerPixel,
      y: (event.clientY - box.top) * unitsPerPixel,
    };
  }

  function coalesced(event) {
    if (typeof event.getCoalescedEvents === "function") {
      const events = event.getCoalescedEvents();
      if (events.length > 0) {
        return events;
      }
    }
    return [event];
  }

  // Grow the ink's box to take in a new point.
  function extendInkBox(point) {
    const box = state.inkBox;
    if (box === null) {
      state.inkBox = { left: point.x, top: point.y, right: point.x, bottom: point.y };
      return;
    }
    box.left = Math.min(box.left, point.x);
    box.top = Math.min(box.top, point.y);
    box.right = Math.max(box.right, point.x);
    box.bottom = Math.max(box.bottom, point.y);
  }

  // Rebuild the ink's box from every stroke point (after Undo).
  function recomputeInkBox() {
    state.inkBox = null;
    state.strokes.forEach(function (points) {
      points.forEach(extendInkBox);
    });
  }

  // Return the part of the surface to upload, in whole drawing units:
  // the ink's box with CROP_MARGIN around it, kept inside the surface.
  function uploadCrop() {
    const box = state.inkBox;
    const left = Math.max(0, Math.floor(box.left - CROP_MARGIN));
    const top = Math.max(0, Math.floor(box.top - CROP_MARGIN));
    const right = Math.min(state.surfaceWidth, Math.ceil(box.right + CROP_MARGIN));
    const bottom = Math.min(SURFACE_HEIGHT, Math.ceil(box.bottom + CROP_MARGIN));
    return {
      x: left,
      y: top,
      width: Math.max(1, right - left),
      height: Math.max(1, bottom - top),
    };
  }

  function handlePointerDown(event) {
    if (state.activePointerId !== null || !event.isPrimary) {
      return;
    }
    if (event.pointerType === "mouse" && event.button !== MAIN_MOUSE_BUTTON) {
      return;
    }
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    state.activePointerId = event.pointerId;
    const point = drawingPoint(event, canvas.getBoundingClientRect());
    state.activeStroke = [point];
    state.strokes.push(state.activeStroke);
    extendInkBox(point);
    result.setAttribute("aria-busy", "true");
    setInk(context);
    drawDot(context, point);
    schedulePrediction();
  }

  function handlePointerMove(event) {
    if (event.pointerId !== state.activePointerId || state.activeStroke === null) {
      return;
    }
    event.preventDefault();
    const box = canvas.getBoundingClientRect();
    const points = state.activeStroke;
    const from = points.length;
    coalesced(event).forEach(function (sample) {
      const point = drawingPoint(sample, box);
      points.push(point);
      extendInkBox(point);
    });
    setInk(context);
    drawPolyline(context, points, from);
    schedulePrediction();
  }

  function handlePointerEnd(event) {
    if (event.pointerId !== state.activePointerId) {
      return;
    }
    finishStroke();
    requestPrediction();
  }

  function finishStroke() {
    const pointerId = state.activePointerId;
    state.activePointerId = null;
    state.activeStroke = null;
    if (pointerId !== null && canvas.hasPointerCapture(pointerId)) {
      canvas.releasePointerCapture(pointerId);
    }
    result.removeAttribute("aria-busy");
  }

  function handleContextMenu(event) {
    event.preventDefault();
  }

  // ---- Clear and Undo -------------------------------------------------

  // Abort every request in flight and make sure no answer to one is shown.
  function forgetPendingRequests() {
    cancelScheduledPrediction();
    state.staleUpTo = state.lastIssued;
    state.pending.forEach(function (controller) {
      controller.abort();
    });
    state.pending.clear();
    updateActivity();
  }

  function clearDrawing() {
    forgetPendingRequests();
    finishStroke();
    leaveHistoryEntry();
    state.strokes = [];
    state.inkBox = null;
    drawAll(context);
    showEmpty();
  }

  function undoStroke() {
    forgetPendingRequests();
    if (state.activeStroke !== null) {
      finishStroke();
    }
    state.strokes.pop();
    recomputeInkBox();
    if (state.strokes.length === 0) {
      removeHistoryEntry();
    }
    drawAll(context);
    requestPrediction();
  }

  function handleKeyDown(event) {
    if (event.isComposing || event.defaultPrevented) {
      return;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      clearDrawing();
    } else if ((event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey
               && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undoStroke();
    }
  }

  // ---- Talking to the server ------------------------------------------

  // Mark #result data-requests="busy" while a prediction is scheduled or in flight.
  function updateActivity() {
    const busy = state.pending.size > 0 || state.scheduled !== null;
    result.dataset.requests = busy ? "busy" : "idle";
  }

  function cancelScheduledPrediction() {
    if (state.scheduled !== null) {
      window.clearTimeout(state.scheduled);
      state.scheduled = null;
    }
    updateActivity();
  }

  // Ask for a prediction during a stroke, at most once per PREDICT_INTERVAL_MS.
  function schedulePrediction() {
    if (state.scheduled !== null) {
      return;
    }
    const wait = state.lastRequestAt + PREDICT_INTERVAL_MS - performance.now();
    state.scheduled = window.setTimeout(requestPrediction, Math.max(wait, 0));
    updateActivity();
  }

  // Draw the strokes inside `crop` (drawing units) onto ctx's canvas, `scale` pixels a unit.
  function drawCrop(ctx, crop, scale) {
    ctx.setTransform(scale, 0, 0, scale, -crop.x * scale, -crop.y * scale);
    drawAll(ctx);
  }

  // Resolve to {blob, crop}: the inked part of the drawing as a PNG, one pixel a unit.
  function drawingAsBlob() {
    const crop = uploadCrop();
    exportCanvas.width = crop.width;
    exportCanvas.height = crop.height;
    drawCrop(exportContext, crop, 1);
    return new Promise(function (resolve, reject) {
      exportCanvas.toBlob(function (blob) {
        if (blob === null) {
          reject(new Error(MESSAGES.encode));
        } else {
          resolve({ blob: blob, crop: crop });
        }
      }, "image/png");
    });
  }

  // True while the answer to request `sequence` is newer than anything shown.
  function isNewest(sequence) {
    return sequence > state.lastShown && sequence > state.staleUpTo;
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (error) {
      if (error.name === "AbortError") {
        throw error;
      }
      return null;
    }
  }

  function errorMessage(response, body) {
    if (body && body.error && typeof body.error.message === "string") {
      return body.error.message;
    }
    if (!response.ok) {
      return ("The server answered " + response.status + " " + response.statusText).trim() + ".";
    }
    return MESSAGES.unexpected;
  }

  function isMark(entry) {
    return entry !== null && typeof entry === "object"
      && Number.isInteger(entry.digit)
      && Array.isArray(entry.probabilities) && entry.probabilities.length === N_CLASSES
      && Array.isArray(entry.box) && entry.box.length === BOX_LENGTH
      && entry.box.every(Number.isFinite);
  }

  function isNumberAnswer(body) {
    return body !== null && typeof body === "object"
      && typeof body.number === "string"
      && Array.isArray(body.digits) && body.digits.length > 0
      && body.digits.every(isMark);
  }

  // Send the drawing to the server and show the answer, unless a newer one is shown.
  async function requestPrediction() {
    cancelScheduledPrediction();
    if (state.strokes.length === 0) {
      showEmpty();
      return;
    }
    state.lastIssued += 1;
    const sequence = state.lastIssued;
    const controller = new AbortController();
    state.pending.set(sequence, controller);
    state.lastRequestAt = performance.now();
    updateActivity();
    try {
      const drawing = await drawingAsBlob();
      if (!isNewest(sequence)) {
        return;
      }
      const response = await fetch(predictUrl, {
        method: "POST",
        body: drawing.blob,
        headers: { "Content-Type": "image/png", Accept: "application/json" },
        signal: controller.signal,
      });
      const body = await readJson(response);
      if (!isNewest(sequence)) {
        return;
      }
      state.lastShown = sequence;
      if (response.ok && isNumberAnswer(body)) {
        showAnswer(body, drawing.crop);
      } else {
        showError(errorMessage(response, body));
      }
    } catch (error) {
      if (error.name === "AbortError" || !isNewest(sequence)) {
        return;
      }
      state.lastShown = sequence;
      showError(error.message === MESSAGES.encode ? MESSAGES.encode : MESSAGES.network);
    } finally {
      state.pending.delete(sequence);
      updateActivity();
    }
  }

  // ---- Showing the answer ---------------------------------------------

  function buildProbabilityRows() {
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
      probabilityList.appendChild(item);
      rows.push({ item: item, fill: fill, value: value, top: top });
    }
    return rows;
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

  function resetDetails() {
    selectionLine.hidden = true;
    selectionLine.textContent = "";
    confidenceOutput.textContent = "–";
    confidenceOutput.parentElement.hidden = true;
    unsureBadge.hidden = true;
    probabilityRows.forEach(function (row) {
      row.item.classList.remove("is-top");
      row.fill.style.setProperty("--share", "0");
      row.value.textContent = "–";
      row.top.textContent = "";
    });
    previewImage.hidden = true;
    previewImage.removeAttribute("src");
  }

  function resetAnswer() {
    state.marks = [];
    state.selected = 0;
    digitOutput.textContent = "";
    numberOutput.replaceChildren(digitOutput);
    notDigitNote.hidden = true;
    result.classList.remove("is-unsure", "has-prediction", "is-number", "is-not-digit");
    resetDetails();
    drawDigitBoxes();
  }

  function setStatus(message, kind) {
    statusLine.textContent = message;
    statusLine.classList.toggle("is-error", kind === "error");
    // An answer the page already shows in full is still announced, but not printed twice.
    statusLine.classList.toggle("is-announcement", kind === "answer");
  }

  function showEmpty() {
    resetAnswer();
    setStatus(MESSAGES.empty, "message");
  }

  function showError(message) {
    resetAnswer();
    setStatus(message, "error");
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

  function showAnswer(body, crop) {
    const previous = state.marks.length;
    state.marks = body.digits.map(function (entry) {
      return markFrom(entry, crop);
    });
    if (state.marks.length !== previous || state.selected >= state.marks.length) {
      state.selected = 0;
    }
    const marks = state.marks;
    const single = marks.length === 1;
    const notDigits = marks.filter(function (mark) { return !mark.isDigit; });
    const unsure = marks.filter(function (mark) { return mark.isDigit && !mark.confident; });
    const confident = body.confident !== false && notDigits.length === 0 && unsure.length === 0;

    result.classList.add("has-prediction");
    result.classList.toggle("is-number", !single);
    result.classList.toggle("is-unsure", !confident);
    result.classList.toggle("is-not-digit", single && notDigits.length === 1);
    notDigitNote.hidden = !(single && notDigits.length === 1);

    digitOutput.textContent = single && marks[0].isDigit ? String(marks[0].digit) : "";
    numberOutput.replaceChildren(digitOutput);
    if (!single) {
      marks.forEach(function (mark, index) {
        numberOutput.appendChild(digitButton(mark, index));
      });
    }
    showDetails(state.selected);
    drawDigitBoxes();

    const number = marks.map(markText).join("");
    if (single && notDigits.length === 1) {
      setStatus(MESSAGES.notDigit, "message");
    } else if (notDigits.length > 0) {
      const places = notDigits.map(function (mark) { return ordinal(marks.indexOf(mark) + 1); });
      setStatus("Read as " + number + ", but the " + listOfWords(places) + " mark"
        + (places.length > 1 ? "s don't" : " doesn't") + " look like a digit.", "message");
    } else if (single && unsure.length === 1) {
      setStatus("Not sure: perhaps " + withArticle(marks[0].digit) + " (" + formatPercent(marks[0].confidence)
        + "). Try drawing it larger and clearer.", "message");
    } else if (unsure.length > 0) {
      const places = unsure.map(function (mark) { return ordinal(marks.indexOf(mark) + 1); });
      setStatus("Not sure: perhaps " + number + ", but the " + listOfWords(places) + " digit"
        + (places.length > 1 ? "s are" : " is") + " unclear. Try writing "
        + (places.length > 1 ? "them" : "it") + " larger and clearer.", "message");
    } else if (single) {
      setStatus("Read as " + number + ", " + formatPercent(marks[0].confidence) + " sure.", "answer");
    } else {
      setStatus("Read as the number " + number + ".", "answer");
    }
    recordInHistory(single && notDigits.length === 1 ? "" : number, confident);
  }

  // A digit of a number as a button: hovering, focusing or pressing it shows its details.
  function digitButton(mark, index) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "number-digit";
    button.classList.toggle("is-unsure", mark.isDigit && !mark.confident);
    button.classList.toggle("is-not-digit", !mark.isDigit);
    button.textContent = markText(mark);
    button.dataset.index = String(index);
    button.setAttribute("aria-label", ordinal(index + 1) + " mark: "
      + (mark.isDigit ? mark.digit + ", " : "") + markCertainty(mark));
    button.addEventListener("click", selectMark);
    button.addEventListener("focus", selectMark);
    button.addEventListener("pointerenter", selectMark);
    return button;
  }

  function selectMark(event) {
    const index = Number(event.currentTarget.dataset.index);
    if (index !== state.selected) {
      showDetails(index);
      drawDigitBoxes();
    }
  }

  // Show one mark's certainty, probabilities and preview.
  function showDetails(index) {
    state.selected = index;
    const mark = state.marks[index];
    const single = state.marks.length === 1;
    resetDetails();
    numberOutput.querySelectorAll(".number-digit").forEach(function (button) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.index) === index));
    });
    if (!single) {
      selectionLine.textContent = "The " + ordinal(index + 1) + " mark of " + state.marks.length
        + (mark.isDigit ? ", read as " + mark.digit : ", not a digit");
      selectionLine.hidden = false;
    }
    if (mark.preview !== null) {
      previewImage.src = mark.preview;
      previewImage.hidden = false;
    }
    if (!mark.isDigit) {
      return;
    }
    confidenceOutput.textContent = formatPercent(mark.confidence);
    confidenceOutput.parentElement.hidden = false;
    unsureBadge.hidden = mark.confident;
    probabilityRows.forEach(function (row, digit) {
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
  function drawDigitBoxes() {
    const boxes = state.marks.length > 1 ? state.marks : [];
    boxLayer.replaceChildren.apply(boxLayer, boxes.map(function (mark, index) {
      const outline = document.createElement("div");
      outline.className = "digit-outline";
      outline.classList.toggle("is-selected", index === state.selected);
      outline.classList.toggle("is-unsure", mark.isDigit && !mark.confident);
      outline.classList.toggle("is-not-digit", !mark.isDigit);
      if (mark.box.y < LABEL_ROOM) {
        const roomBelow = mark.box.y + mark.box.height <= SURFACE_HEIGHT - LABEL_ROOM;
        outline.classList.add(roomBelow ? "label-below" : "label-inside");
      }
      outline.style.left = (PERCENT * mark.box.x) / state.surfaceWidth + "%";
      outline.style.top = (PERCENT * mark.box.y) / SURFACE_HEIGHT + "%";
      outline.style.width = (PERCENT * mark.box.width) / state.surfaceWidth + "%";
      outline.style.height = (PERCENT * mark.box.height) / SURFACE_HEIGHT + "%";
      const label = document.createElement("span");
      label.className = "digit-outline-label";
      label.textContent = markCertainty(mark);
      outline.appendChild(label);
      return outline;
    }));
  }

  // ---- History ----------------------------------------------------------

  // Draw the current drawing's ink into the thumbnail canvas, as wide as it needs.
  function drawThumbnail() {
    const crop = uploadCrop();
    const scale = THUMB_PIXELS / crop.height;
    thumbCanvas.height = THUMB_PIXELS;
    thumbCanvas.width = Math.min(Math.round(crop.width * scale), THUMB_MAX_ASPECT * THUMB_PIXELS);
    drawCrop(thumbContext, crop, Math.min(scale, thumbCanvas.width / crop.width));
    return thumbCanvas.toDataURL("image/png");
  }

  // Show the current drawing and its answer first in the history, adding an item
  // for a new drawing (dropping the oldest past HISTORY_LENGTH) or updating its own.
  // `answer` is the number read, "" when the drawing is not a digit.
  function recordInHistory(answer, confident) {
    let entry = state.historyEntry;
    if (entry === null || !entry.isConnected) {
      entry = document.createElement("li");
      entry.className = "history-item";
      entry.setAttribute("aria-current", "true");
      const image = document.createElement("img");
      image.className = "history-thumb";
      const text = document.createElement("span");
      text.className = "history-answer";
      text.setAttribute("aria-hidden", "true");
      entry.append(image, text);
      historyList.prepend(entry);
      while (historyList.children.length > HISTORY_LENGTH) {
        historyList.lastElementChild.remove();
      }
      state.historyEntry = entry;
    }
    const image = entry.querySelector("img");
    image.src = drawThumbnail();
    image.width = thumbCanvas.width / 2;
    image.height = thumbCanvas.height / 2;
    if (answer === "") {
      image.alt = "A drawing that did not look like a digit";
    } else {
      image.alt = confident ? "A drawing read as " + answer
        : "A drawing the network was not sure about: perhaps " + answer;
    }
    entry.querySelector(".history-answer").textContent = answer === ""
      ? "not a digit" : answer + (confident ? "" : "?");
    entry.dataset.answer = answer;
    entry.classList.toggle("is-unsure", !confident);
    updateHistoryControls();
  }

  // Keep the current drawing's item as it is; the next drawing gets a new one.
  function leaveHistoryEntry() {
    if (state.historyEntry !== null) {
      state.historyEntry.removeAttribute("aria-current");
      state.historyEntry = null;
    }
  }

  // Drop the current drawing's item: its strokes were all undone.
  function removeHistoryEntry() {
    if (state.historyEntry !== null) {
      state.historyEntry.remove();
      state.historyEntry = null;
      updateHistoryControls();
    }
  }

  function forgetHistory() {
    historyList.replaceChildren();
    state.historyEntry = null;
    updateHistoryControls();
  }

  function updateHistoryControls() {
    const empty = historyList.children.length === 0;
    historyEmpty.hidden = !empty;
    if (empty && document.activeElement === forgetHistoryButton) {
      historyHeading.focus(); // The button is about to be disabled: keep focus nearby.
    }
    forgetHistoryButton.disabled = empty;
  }

  // ---- Start ----------------------------------------------------------

  canvas.addEventListener("pointerdown", handlePointerDown);
  canvas.addEventListener("pointermove", handlePointerMove);
  canvas.addEventListener("pointerup", handlePointerEnd);
  canvas.addEventListener("pointercancel", handlePointerEnd);
  canvas.addEventListener("lostpointercapture", handlePointerEnd);
  canvas.addEventListener("contextmenu", handleContextMenu);
  undoButton.addEventListener("click", undoStroke);
  clearButton.addEventListener("click", clearDrawing);
  forgetHistoryButton.addEventListener("click", forgetHistory);
  document.addEventListener("keydown", handleKeyDown);
  window.addEventListener("resize", fitCanvasToScreen);
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(fitCanvasToScreen).observe(canvas);
  }

  fitCanvasToScreen();
  showEmpty();
  updateActivity();
  updateHistoryControls();
})();
