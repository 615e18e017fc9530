/*
 * The drawing page: write a digit or a number, send it to /predict/number,
 * show the answer.
 *
 * This module takes the pen (Pointer Events, so mouse, touch and pen alike)
 * and the keyboard, and talks to the server; surface.js keeps the strokes
 * and draws them, answer.js shows the answer, history.js keeps the recent
 * drawings. The drawing is posted as JSON, a PNG cropped to the ink and
 * the strokes in its pixels (which ink belongs together), while the pen moves (at most once per PREDICT_INTERVAL_MS) and when
 * it is lifted; an answer older than one already shown, or to a drawing
 * since cleared, is never shown. The pen width is the canvas's
 * data-stroke-width, set by the server.
 */

import { AnswerView, isNumberAnswer } from "./answer.js";
import { CorrectionOffer } from "./correct.js";
import { History } from "./history.js";
import { Drawing, pointInUnits } from "./surface.js";

// At most one prediction request per this many milliseconds during a stroke.
const PREDICT_INTERVAL_MS = 300;
const MAIN_MOUSE_BUTTON = 0;

const MESSAGES = {
  empty: "Write a digit or a number",
  network: "Could not reach the server to read your drawing. Check your connection, then draw again.",
  unexpected: "The server sent an answer this page does not understand.",
  encode: "Your browser could not turn the drawing into an image.",
};

const page = document.querySelector("[data-predict-url]");
const canvas = document.getElementById("pad");
const context = canvas.getContext("2d");
const result = document.getElementById("result");

// Pen width in drawing units: the page's data-stroke-width.
const strokeWidth = Number(canvas.dataset.strokeWidth);
if (!(strokeWidth > 0)) {
  throw new Error("The canvas needs a positive data-stroke-width, got "
    + JSON.stringify(canvas.dataset.strokeWidth));
}

const predictUrl = new URL(page.dataset.predictUrl, document.baseURI);
predictUrl.searchParams.set("preview", "1");

const drawing = new Drawing(strokeWidth);
const answer = new AnswerView(drawing);
const history = new History(drawing);
const correction = new CorrectionOffer();
const uploadCanvas = document.createElement("canvas");

const state = {
  activeStroke: null,
  activePointerId: null,
  lastIssued: 0, // Sequence number of the newest request sent.
  lastShown: 0, // Sequence number of the newest answer shown.
  staleUpTo: 0, // Answers to requests numbered up to this are out of date.
  pending: new Map(), // Sequence number -> AbortController.
  lastRequestAt: -Infinity,
  scheduled: null,
};

// ---- The pen ----------------------------------------------------------

function coalesced(event) {
  if (typeof event.getCoalescedEvents === "function") {
    const events = event.getCoalescedEvents();
    if (events.length > 0) {
      return events;
    }
  }
  return [event];
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
  const point = pointInUnits(event, canvas.getBoundingClientRect());
  state.activeStroke = drawing.startStroke(point);
  result.setAttribute("aria-busy", "true");
  drawing.drawDot(context, point);
  schedulePrediction();
}

function handlePointerMove(event) {
  if (event.pointerId !== state.activePointerId || state.activeStroke === null) {
    return;
  }
  event.preventDefault();
  const box = canvas.getBoundingClientRect();
  const stroke = state.activeStroke;
  const from = stroke.length;
  drawing.extendStroke(stroke, coalesced(event).map(function (sample) {
    return pointInUnits(sample, box);
  }));
  drawing.drawPolyline(context, stroke, from);
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

function fitCanvasToScreen() {
  drawing.fitTo(canvas);
  answer.drawBoxes();
}

// ---- Clear and Undo ---------------------------------------------------

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
  history.leave();
  drawing.clear();
  drawing.drawAll(context);
  answer.showMessage(MESSAGES.empty);
}

function undoStroke() {
  forgetPendingRequests();
  if (state.activeStroke !== null) {
    finishStroke();
  }
  drawing.undo();
  if (drawing.isEmpty()) {
    history.remove();
  }
  drawing.drawAll(context);
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

// ---- Talking to the server --------------------------------------------

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

// Send the drawing to the server and show the answer, unless a newer one is shown.
async function requestPrediction() {
  cancelScheduledPrediction();
  if (drawing.isEmpty()) {
    answer.showMessage(MESSAGES.empty);
    return;
  }
  state.lastIssued += 1;
  const sequence = state.lastIssued;
  const controller = new AbortController();
  state.pending.set(sequence, controller);
  state.lastRequestAt = performance.now();
  updateActivity();
  try {
    const upload = drawing.toUpload(uploadCanvas, new Error(MESSAGES.encode));
    const response = await fetch(predictUrl, {
      method: "POST",
      body: upload.body,
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      signal: controller.signal,
    });
    const body = await readJson(response);
    if (!isNewest(sequence)) {
      return;
    }
    state.lastShown = sequence;
    if (response.ok && isNumberAnswer(body)) {
      const shown = answer.show(body, upload.crop);
      history.record(shown.answer, shown.confident, shown.marks);
      correction.offer(body, upload.image, upload.strokes);
    } else {
      answer.showMessage(errorMessage(response, body), true);
    }
  } catch (error) {
    if (error.name === "AbortError" || !isNewest(sequence)) {
      return;
    }
    state.lastShown = sequence;
    answer.showMessage(error.message === MESSAGES.encode ? MESSAGES.encode : MESSAGES.network, true);
  } finally {
    state.pending.delete(sequence);
    updateActivity();
  }
}

// ---- Start --------------------------------------------------------------

canvas.addEventListener("pointerdown", handlePointerDown);
canvas.addEventListener("pointermove", handlePointerMove);
canvas.addEventListener("pointerup", handlePointerEnd);
canvas.addEventListener("pointercancel", handlePointerEnd);
canvas.addEventListener("lostpointercapture", handlePointerEnd);
canvas.addEventListener("contextmenu", handleContextMenu);
document.getElementById("undo").addEventListener("click", undoStroke);
document.getElementById("clear").addEventListener("click", clearDrawing);
document.addEventListener("keydown", handleKeyDown);
window.addEventListener("resize", fitCanvasToScreen);
if (typeof ResizeObserver === "function") {
  new ResizeObserver(fitCanvasToScreen).observe(canvas);
}

fitCanvasToScreen();
answer.showMessage(MESSAGES.empty);
updateActivity();
