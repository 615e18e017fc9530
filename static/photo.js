/*
 * "Use a photo": read a picture of digits written on paper.
 *
 * The file input (accept="image/*", so a phone offers its camera) sends the
 * chosen picture to /predict/number as a form upload, and shows the number
 * read with a box around each digit on a scaled copy of the picture. It is
 * also the way to an answer without drawing, for keyboard and switch users:
 * a native file input is reached with Tab and opened with Enter or Space.
 * A newer choice always wins: an older answer never replaces it.
 */

const IMAGE_FIELD = "image";

const MESSAGES = {
  reading: "Reading the photo…",
  network: "Could not reach the server to read the photo. Check your connection, then choose it again.",
  unexpected: "The server sent an answer this page does not understand.",
  no_ink: "No writing found in the photo: take it closer, with the digits dark on light paper.",
};

const panel = document.getElementById("photo");
const input = document.getElementById("photo-input");
const status = document.getElementById("photo-status");
const figure = document.getElementById("photo-figure");
const image = document.getElementById("photo-image");
const boxes = document.getElementById("photo-boxes");
const answerText = document.getElementById("photo-answer");

const predictUrl = new URL(panel.dataset.predictUrl, document.baseURI);

const state = {
  issued: 0, // Sequence number of the newest photo sent.
  controller: null, // Aborts the request for an older photo.
  objectUrl: null,
};

function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("is-error", isError);
}

function showPicture(file) {
  if (state.objectUrl) {
    URL.revokeObjectURL(state.objectUrl);
  }
  state.objectUrl = URL.createObjectURL(file);
  image.src = state.objectUrl;
  boxes.replaceChildren();
  answerText.textContent = "";
  figure.hidden = false;
}

function isNumberAnswer(body) {
  return body !== null && typeof body === "object" && typeof body.number === "string"
    && Array.isArray(body.digits)
    && body.digits.every((digit) => Array.isArray(digit.box) && digit.box.length === 4);
}

// Boxes are in pixels of the uploaded picture: placed in percent of its
// natural size, they stay on their digits however the copy is scaled.
function drawBoxes(digits) {
  const width = image.naturalWidth;
  const height = image.naturalHeight;
  boxes.replaceChildren(...digits.map((digit, index) => {
    const [x, y, w, h] = digit.box;
    const outline = document.createElement("div");
    outline.className = "digit-outline photo-outline";
    outline.classList.toggle("is-unsure", !digit.confident);
    outline.classList.toggle("is-not-digit", !digit.is_digit);
    outline.style.left = `${(100 * x) / width}%`;
    outline.style.top = `${(100 * y) / height}%`;
    outline.style.width = `${(100 * w) / width}%`;
    outline.style.height = `${(100 * h) / height}%`;
    outline.dataset.digit = String(digit.digit);
    outline.title = `Digit ${index + 1}: ${digit.digit}`;
    return outline;
  }));
}

function describe(body) {
  const notDigits = body.digits.filter((digit) => !digit.is_digit).length;
  if (notDigits > 0) {
    return `Read ${body.number}, but ${notDigits === 1 ? "one mark doesn't" : "some marks don't"} look like a digit.`;
  }
  return body.confident ? `Read ${body.number}.` : `Read ${body.number}, not sure.`;
}

function fitFrame() {
  if (image.naturalWidth > 0 && image.naturalHeight > 0) {
    image.parentElement.style.setProperty("--photo-aspect", String(image.naturalWidth / image.naturalHeight));
  }
}

async function whenLoaded() {
  if (!image.complete) {
    await new Promise((resolve) => {
      image.addEventListener("load", resolve, { once: true });
      image.addEventListener("error", resolve, { once: true });
    });
  }
}

async function readPhoto(file) {
  state.issued += 1;
  const sequence = state.issued;
  if (state.controller) {
    state.controller.abort();
  }
  const controller = new AbortController();
  state.controller = controller;
  showPicture(file);
  say(MESSAGES.reading);
  const form = new FormData();
  form.append(IMAGE_FIELD, file, file.name || "photo");
  let response;
  let body = null;
  try {
    response = await fetch(predictUrl, {
      method: "POST",
      body: form,
      headers: { Accept: "application/json" },
      signal: controller.signal,
    });
    body = await response.json().catch(() => null);
  } catch (error) {
    if (sequence === state.issued) {
      say(error.name === "AbortError" ? "" : MESSAGES.network, error.name !== "AbortError");
    }
    return;
  }
  if (sequence !== state.issued) {
    return;
  }
  if (!response.ok) {
    const code = body?.error?.code;
    say(MESSAGES[code] || body?.error?.message || MESSAGES.unexpected, true);
    return;
  }
  if (!isNumberAnswer(body)) {
    say(MESSAGES.unexpected, true);
    return;
  }
  await whenLoaded();
  if (sequence !== state.issued) {
    return;
  }
  answerText.textContent = body.number;
  panel.dataset.number = body.number;
  drawBoxes(body.digits);
  say(describe(body));
}

function handleChoice() {
  const [file] = input.files;
  if (file) {
    readPhoto(file);
  }
}

input.addEventListener("change", handleChoice);
image.addEventListener("load", fitFrame);
