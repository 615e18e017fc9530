/*
 * The drawing page: draw a digit, send it to /predict, show the answer.
 *
 * Strokes are kept as lists of points in a fixed logical 280 x 280 space, so
 * the drawing does not depend on the canvas's CSS size or the screen's pixel
 * density. The screen canvas is redrawn from that list (after Undo, or when
 * its size changes); the image sent to the server is drawn from the same list
 * onto a 280 x 280 canvas of its own, so every device sends the same picture
 * for the same strokes. Ink is black on a transparent canvas: the ink is in
 * the alpha channel and the server detects the polarity. The pen width is
 * the canvas's data-stroke-width, set by the server.
 *
 * Each drawing and its latest answer go into a short history: a thumbnail
 * drawn from the same strokes, kept only in this page.
 */
(function () {
  "use strict";

  const LOGICAL_SIZE = 280;
  const INK_COLOUR = "#000";
  // At most one prediction request per this many milliseconds during a stroke.
  const PREDICT_INTERVAL_MS = 300;
  const N_CLASSES = 10;
  const PERCENT = 100;
  const IMAGE_FIELD = "image";
  const MAIN_MOUSE_BUTTON = 0;
  const HISTORY_LENGTH = 8;
  // Side of a history thumbnail's backing store: 56 CSS pixels at up to 2x density.
  const THUMB_PIXELS = 112;

  const MESSAGES = {
    empty: "Draw a digit",
    network: "Could not reach the server to read your drawing. Check your connection, then draw again.",
    unexpected: "The server sent an answer this page does not understand.",
    encode: "Your browser could not turn the drawing into an image.",
  };

  const page = document.querySelector("[data-predict-url]");
  const canvas = document.getElementById("pad");
  const context = canvas.getContext("2d");
  const undoButton = document.getElementById("undo");
  const clearButton = document.getElementById("clear");
  const result = document.getElementById("result");
  const statusLine = document.getElementById("status");
  const digitOutput = document.getElementById("digit");
  const confidenceOutput = document.getElementById("confidence");
  const unsureBadge = document.getElementById("unsure");
  const probabilityList = document.getElementById("probabilities");
  const previewImage = document.getElementById("preview");
  const historyList = document.getElementById("history");
  const historyEmpty = document.getElementById("history-empty");
  const historyHeading = document.getElementById("history-heading");
  const forgetHistoryButton = document.getElementById("forget-history");

  // Pen width in logical pixels, on the 280-pixel side: the page's data-stroke-width.
  const STROKE_WIDTH = Number(canvas.dataset.strokeWidth);
  if (!(STROKE_WIDTH > 0)) {
    throw new Error("The canvas needs a positive data-stroke-width, got "
      + JSON.stringify(canvas.dataset.strokeWidth));
  }

  const exportCanvas = document.createElement("canvas");
  exportCanvas.width = LOGICAL_SIZE;
  exportCanvas.height = LOGICAL_SIZE;
  const exportContext = exportCanvas.getContext("2d");

  const thumbCanvas = document.createElement("canvas");
  thumbCanvas.width = THUMB_PIXELS;
  thumbCanvas.height = THUMB_PIXELS;
  const thumbContext = thumbCanvas.getContext("2d");
  thumbContext.setTransform(THUMB_PIXELS / LOGICAL_SIZE, 0, 0, THUMB_PIXELS / LOGICAL_SIZE, 0, 0);

  const predictUrl = new URL(page.dataset.predictUrl, document.baseURI);
  predictUrl.searchParams.set("preview", "1");

  const probabilityRows = buildProbabilityRows();

  const state = {
    strokes: [], // Each stroke is an array of {x, y} in logical pixels.
    activeStroke: null,
    activePointerId: null,
    lastIssued: 0, // Sequence number of the newest request sent.
    lastShown: 0, // Sequence number of the newest answer shown.
    staleUpTo: 0, // Answers to requests numbered up to this are out of date.
    pending: new Map(), // Sequence number -> AbortController.
    lastRequestAt: -Infinity,
    scheduled: null,
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

  function drawAll(ctx) {
    ctx.clearRect(0, 0, LOGICAL_SIZE, LOGICAL_SIZE);
    setInk(ctx);
    state.strokes.forEach(function (points) {
      drawStroke(ctx, points);
    });
  }

  // Size the backing store to the displayed size times devicePixelRatio, then redraw.
  function fitCanvasToScreen() {
    const box = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const side = Math.max(1, Math.round(box.width * ratio));
    if (canvas.width !== side || canvas.height !== side) {
      canvas.width = side;
      canvas.height = side;
    }
    const scale = side / LOGICAL_SIZE;
    context.setTransform(scale, 0, 0, scale, 0, 0);
    drawAll(context);
  }

  // Map a pointer event's client coordinates to the logical drawing space.
  // The canvas has no border or padding, so its bounding box is its drawing area.
  function logicalPoint(event, box) {
    return {
      x: ((event.clientX - box.left) * LOGICAL_SIZE) / box.width,
      y: ((event.clientY - box.top) * LOGICAL_SIZE) / box.height,
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
    const point = logicalPoint(event, canvas.getBoundingClientRect());
    state.activeStroke = [point];
    state.strokes.push(state.activeStroke);
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
      points.push(logicalPoint(sample, box));
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
    drawAll(context);
    showEmpty();
  }

  function undoStroke() {
    forgetPendingRequests();
    if (state.activeStroke !== null) {
      finishStroke();
    }
    state.strokes.pop();
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

  function drawingAsBlob() {
    drawAll(exportContext);
    return new Promise(function (resolve, reject) {
      exportCanvas.toBlob(function (blob) {
        if (blob === null) {
          reject(new Error(MESSAGES.encode));
        } else {
          resolve(blob);
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

  function isPrediction(body) {
    return body !== null && typeof body === "object"
      && Number.isInteger(body.digit)
      && Array.isArray(body.probabilities) && body.probabilities.length === N_CLASSES;
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
      const blob = await drawingAsBlob();
      if (!isNewest(sequence)) {
        return;
      }
      const form = new FormData();
      form.append(IMAGE_FIELD, blob, "digit.png");
      const response = await fetch(predictUrl, {
        method: "POST",
        body: form,
        headers: { Accept: "application/json" },
        signal: controller.signal,
      });
      const body = await readJson(response);
      if (!isNewest(sequence)) {
        return;
      }
      state.lastShown = sequence;
      if (response.ok && isPrediction(body)) {
        showPrediction(body);
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

  function formatPercent(probability) {
    return Math.round(probability * PERCENT) + "%";
  }

  function resetAnswer() {
    digitOutput.textContent = "";
    confidenceOutput.textContent = "–";
    unsureBadge.hidden = true;
    result.classList.remove("is-unsure", "has-prediction");
    probabilityRows.forEach(function (row) {
      row.item.classList.remove("is-top");
      row.fill.style.setProperty("--share", "0");
      row.value.textContent = "–";
      row.top.textContent = "";
    });
    previewImage.hidden = true;
    previewImage.removeAttribute("src");
  }

  function setStatus(message, isError) {
    statusLine.textContent = message;
    statusLine.classList.toggle("is-error", Boolean(isError));
  }

  function showEmpty() {
    resetAnswer();
    setStatus(MESSAGES.empty, false);
  }

  function showError(message) {
    resetAnswer();
    setStatus(message, true);
  }

  function showPrediction(body) {
    const digit = body.digit;
    const confidence = typeof body.confidence === "number"
      ? body.confidence : body.probabilities[digit];
    const unsure = body.confident === false;

    digitOutput.textContent = String(digit);
    confidenceOutput.textContent = formatPercent(confidence);
    unsureBadge.hidden = !unsure;
    result.classList.add("has-prediction");
    result.classList.toggle("is-unsure", unsure);

    probabilityRows.forEach(function (row, index) {
      const probability = Number(body.probabilities[index]) || 0;
      const isTop = index === digit;
      row.item.classList.toggle("is-top", isTop);
      row.fill.style.setProperty("--share", String(Math.min(Math.max(probability, 0), 1)));
      row.value.textContent = formatPercent(probability);
      row.top.textContent = isTop ? " (most likely)" : "";
    });

    if (typeof body.preview === "string" && body.preview.startsWith("data:image/")) {
      previewImage.src = body.preview;
      previewImage.hidden = false;
    } else {
      previewImage.hidden = true;
      previewImage.removeAttribute("src");
    }

    const sure = formatPercent(confidence);
    setStatus(unsure
      ? "Not sure: perhaps a " + digit + " (" + sure + "). Try drawing it larger and clearer."
      : "Looks like a " + digit + " (" + sure + " sure).", false);
    recordInHistory(digit, sure, unsure);
  }

  // ---- History ----------------------------------------------------------

  // Show the current drawing and its answer first in the history, adding an item
  // for a new drawing (dropping the oldest past HISTORY_LENGTH) or updating its own.
  function recordInHistory(digit, sure, unsure) {
    let entry = state.historyEntry;
    if (entry === null || !entry.isConnected) {
      entry = document.createElement("li");
      entry.className = "history-item";
      entry.setAttribute("aria-current", "true");
      const image = document.createElement("img");
      image.className = "history-thumb";
      image.width = THUMB_PIXELS / 2;
      image.height = THUMB_PIXELS / 2;
      const answer = document.createElement("span");
      answer.className = "history-answer";
      answer.setAttribute("aria-hidden", "true");
      entry.append(image, answer);
      historyList.prepend(entry);
      while (historyList.children.length > HISTORY_LENGTH) {
        historyList.lastElementChild.remove();
      }
      state.historyEntry = entry;
    }
    drawAll(thumbContext);
    const image = entry.querySelector("img");
    image.src = thumbCanvas.toDataURL("image/png");
    image.alt = unsure
      ? "A drawing the network was not sure about: perhaps a " + digit + " (" + sure + ")"
      : "A drawing read as " + digit + " (" + sure + " sure)";
    entry.querySelector(".history-answer").textContent = unsure ? digit + "?" : String(digit);
    entry.dataset.digit = String(digit);
    entry.classList.toggle("is-unsure", unsure);
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
