/*
 * The page's short history: each drawing and its latest answer, newest
 * first, with a thumbnail drawn from the same strokes. It lives only in the
 * page and is gone when the page is left. A number is written as the answer
 * writes it: "?" for a mark that is not a digit, and the digits the network
 * is unsure of in the warning colour; nothing is added to the text.
 */

const HISTORY_LENGTH = 8;
// Height of a thumbnail's backing store: 56 CSS pixels at up to 2x density.
const THUMB_PIXELS = 112;
const THUMB_DENSITY = 2;
// A thumbnail is at most this many times as wide as it is high.
const THUMB_MAX_ASPECT = 3;

export class History {
  constructor(drawing) {
    this.drawing = drawing;
    this.list = document.getElementById("history");
    this.emptyNote = document.getElementById("history-empty");
    this.heading = document.getElementById("history-heading");
    this.forgetButton = document.getElementById("forget-history");
    this.thumbCanvas = document.createElement("canvas");
    this.current = null; // The item of the drawing on the canvas, once answered.
    this.forgetButton.addEventListener("click", this.forget.bind(this));
    this.updateControls();
  }

  // Show the current drawing and its answer first, adding an item for a new
  // drawing (dropping the oldest past HISTORY_LENGTH) or updating its own.
  // `answer` is the number read, "" when the drawing is not a digit; `marks`
  // are its marks as the answer shows them, {text, unsure}.
  record(answer, confident, marks) {
    let entry = this.current;
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
      this.list.prepend(entry);
      while (this.list.children.length > HISTORY_LENGTH) {
        this.list.lastElementChild.remove();
      }
      this.current = entry;
    }
    const image = entry.querySelector("img");
    image.src = this.drawing.thumbnail(this.thumbCanvas, THUMB_PIXELS, THUMB_MAX_ASPECT);
    image.width = this.thumbCanvas.width / THUMB_DENSITY;
    image.height = this.thumbCanvas.height / THUMB_DENSITY;
    if (answer === "") {
      image.alt = "A drawing that did not look like a digit";
    } else {
      image.alt = confident ? "A drawing read as " + answer
        : "A drawing the network was not sure about: perhaps " + answer;
    }
    const text = entry.querySelector(".history-answer");
    if (answer === "") {
      text.textContent = "not a digit";
    } else {
      text.replaceChildren.apply(text, marks.map(function (mark) {
        const span = document.createElement("span");
        span.className = "history-mark";
        span.classList.toggle("is-unsure", mark.unsure);
        span.textContent = mark.text;
        return span;
      }));
    }
    entry.dataset.answer = answer;
    entry.classList.toggle("is-unsure", !confident);
    this.updateControls();
  }

  // Keep the current drawing's item as it is; the next drawing gets a new one.
  leave() {
    if (this.current !== null) {
      this.current.removeAttribute("aria-current");
      this.current = null;
    }
  }

  // Drop the current drawing's item: its strokes were all undone.
  remove() {
    if (this.current !== null) {
      this.current.remove();
      this.current = null;
      this.updateControls();
    }
  }

  forget() {
    this.list.replaceChildren();
    this.current = null;
    this.updateControls();
  }

  updateControls() {
    const empty = this.list.children.length === 0;
    this.emptyNote.hidden = !empty;
    if (empty && document.activeElement === this.forgetButton) {
      this.heading.focus(); // The button is about to be disabled: keep focus nearby.
    }
    this.forgetButton.disabled = empty;
  }
}
