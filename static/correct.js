/*
 * "Not right?": after an answer, the person may give the right digits (or
 * say it is not a digit) and send them, with the drawing, to POST /corrections.
 *
 * app.js offers each answer it shows, with the PNG data URL it sent and the
 * strokes of that PNG (surface.js's toUpload makes both); this module shows the control under the answer, opens a small
 * form, says what is kept before anything is sent, and thanks the person
 * after. The control lives in the answer's panel, never over the drawing,
 * and keys typed in the form stay in the form (Escape closes it instead of
 * clearing the drawing). Without the #correction element (CORRECTIONS=off)
 * every method does nothing.
 */

const MESSAGES = {
  sending: "Sending your correction…",
  thanks: "Thank you! Your correction will be used to train later models.",
  digits: "Type the right digits, 0 to 9, or choose “It isn't a digit”.",
  network: "Could not reach the server to send your correction. Try again in a moment.",
  unexpected: "The server did not keep your correction. Try again in a moment.",
};

const CREATED = 201;
const NOT_A_DIGIT = "?";

// The number a /predict/number answer read, "?" for a mark that is not a digit.
function answerText(body) {
  return body.digits.map(function (entry) {
    return entry.is_digit === false ? NOT_A_DIGIT : String(entry.digit);
  }).join("");
}

export class CorrectionOffer {
  constructor() {
    this.root = document.getElementById("correction");
    this.offered = null; // {image, strokes, answer, model} of the answer shown.
    this.sending = false;
    if (this.root === null) {
      return;
    }
    this.url = new URL(this.root.dataset.correctionsUrl, document.baseURI);
    this.maxDigits = Number(this.root.dataset.maxDigits);
    this.openButton = document.getElementById("correction-open");
    this.form = document.getElementById("correction-form");
    this.digits = document.getElementById("correction-digits");
    this.notDigitButton = document.getElementById("correction-not-digit");
    this.status = document.getElementById("correction-status");
    this.openButton.addEventListener("click", this.open.bind(this));
    document.getElementById("correction-cancel").addEventListener("click", this.close.bind(this));
    this.form.addEventListener("submit", this.handleSubmit.bind(this));
    this.notDigitButton.addEventListener("click", this.send.bind(this, null));
    this.form.addEventListener("keydown", this.handleKeyDown.bind(this));
    // An answer taken away (a message, a cleared drawing) takes its offer with it.
    new MutationObserver(this.followResult.bind(this)).observe(document.getElementById("result"),
      { attributes: true, attributeFilter: ["class"] });
  }

  // Offer to correct the /predict/number answer `body` to the PNG data URL `image` with `strokes`.
  offer(body, image, strokes) {
    if (this.root === null || typeof body.model !== "string") {
      return;
    }
    this.offered = { image: image, strokes: strokes, answer: answerText(body), model: body.model };
    if (!this.sending) {
      this.reset();
      this.root.hidden = false;
    }
  }

  withdraw() {
    if (this.root === null) {
      return;
    }
    this.offered = null;
    this.reset();
    this.root.hidden = true;
  }

  followResult(mutations) {
    const result = mutations[0].target;
    if (!result.classList.contains("has-prediction") && this.offered !== null && !this.sending) {
      this.withdraw();
    }
  }

  reset() {
    this.form.hidden = true;
    this.openButton.hidden = false;
    this.openButton.setAttribute("aria-expanded", "false");
    this.digits.value = "";
    this.setStatus("", false);
  }

  open() {
    this.form.hidden = false;
    this.openButton.hidden = true;
    this.openButton.setAttribute("aria-expanded", "true");
    this.setStatus("", false);
    this.digits.focus();
  }

  close() {
    this.reset();
    this.openButton.focus();
  }

  setStatus(message, isError) {
    this.status.textContent = message;
    this.status.classList.toggle("is-error", isError);
  }

  // Keys typed in the form are the form's: Escape closes it, Ctrl+Z undoes typing, not a stroke.
  handleKeyDown(event) {
    event.stopPropagation();
    if (event.key === "Escape") {
      event.preventDefault();
      this.close();
    }
  }

  handleSubmit(event) {
    event.preventDefault();
    const digits = this.digits.value.trim();
    if (!new RegExp("^[0-9]{1," + this.maxDigits + "}$").test(digits)) {
      this.setStatus(MESSAGES.digits, true);
      this.digits.focus();
      return;
    }
    this.send(digits);
  }

  // Send the offered drawing with `label` (the digits, or null for "not a digit").
  async send(label) {
    if (this.offered === null || this.sending) {
      return;
    }
    const offered = this.offered;
    this.sending = true;
    this.form.querySelectorAll("button, input").forEach(function (control) { control.disabled = true; });
    this.setStatus(MESSAGES.sending, false);
    try {
      const response = await fetch(this.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({
          image: offered.image,
          strokes: offered.strokes,
          answer: offered.answer,
          model: offered.model,
          label: label,
        }),
      });
      const body = await response.json().catch(function () { return null; });
      if (response.status === CREATED) {
        this.form.hidden = true;
        this.setStatus(MESSAGES.thanks, false);
      } else {
        const message = body && body.error && typeof body.error.message === "string"
          ? body.error.message : MESSAGES.unexpected;
        this.setStatus(message, true);
      }
    } catch (error) {
      this.setStatus(MESSAGES.network, true);
    } finally {
      this.sending = false;
      this.form.querySelectorAll("button, input").forEach(function (control) { control.disabled = false; });
    }
  }
}
