/*
 * The drawing surface: strokes in drawing units, and the pictures made of them.
 *
 * The surface is SURFACE_HEIGHT units high and as many units wide as its
 * shape on screen gives, so a point (x, y) is at (left + x * k, top + y * k)
 * with k = the canvas's CSS height / SURFACE_HEIGHT, whatever the screen's
 * size or pixel density. Every picture is drawn from the same strokes: the
 * screen canvas (redrawn after Undo or when its size changes), the upload
 * (one pixel a unit, cropped to the ink) and the history's thumbnails. Ink
 * is black on a transparent canvas: the ink is in the alpha channel and the
 * server detects the polarity. The upload carries the strokes too, in its
 * own pixels, so that the server knows where the pen was lifted.
 */

export const SURFACE_HEIGHT = 280;

// The server's default MAX_STROKES and MAX_STROKE_POINTS: past them the
// upload is sent without its strokes, and the server reads the pixels alone.
const MAX_STROKES = 200;
const MAX_STROKE_POINTS = 20000;
// Stroke points are sent to a tenth of a pixel: finer says nothing more.
const POINT_PRECISION = 10;

function rounded(value) {
  return Math.round(value * POINT_PRECISION) / POINT_PRECISION;
}

const INK_COLOUR = "#000";

// Map a pointer event's client coordinates to drawing units.
// The canvas has no border or padding, so its bounding box is its drawing area.
export function pointInUnits(event, box) {
  const unitsPerPixel = SURFACE_HEIGHT / box.height;
  return {
    x: (event.clientX - box.left) * unitsPerPixel,
    y: (event.clientY - box.top) * unitsPerPixel,
  };
}

export class Drawing {
  // strokeWidth: the pen's width in drawing units.
  constructor(strokeWidth) {
    this.strokeWidth = strokeWidth;
    // The upload keeps this much paper around the ink: the pen's half width, plus one pen width.
    this.cropMargin = strokeWidth / 2 + strokeWidth;
    this.strokes = []; // Each stroke is an array of {x, y} in drawing units.
    this.inkBox = null; // {left, top, right, bottom} of the stroke points, or null.
    this.width = SURFACE_HEIGHT; // Drawing units, left to right, from the canvas's shape.
  }

  isEmpty() {
    return this.strokes.length === 0;
  }

  // Start a stroke at `point` and return it, to extend it as the pen moves.
  startStroke(point) {
    const stroke = [point];
    this.strokes.push(stroke);
    this.extendInkBox(point);
    return stroke;
  }

  extendStroke(stroke, points) {
    points.forEach(function (point) {
      stroke.push(point);
      this.extendInkBox(point);
    }, this);
  }

  undo() {
    this.strokes.pop();
    this.inkBox = null;
    this.strokes.forEach(function (stroke) {
      stroke.forEach(this.extendInkBox, this);
    }, this);
  }

  clear() {
    this.strokes = [];
    this.inkBox = null;
  }

  // Grow the ink's box to take in a new point.
  extendInkBox(point) {
    const box = this.inkBox;
    if (box === null) {
      this.inkBox = { left: point.x, top: point.y, right: point.x, bottom: point.y };
      return;
    }
    box.left = Math.min(box.left, point.x);
    box.top = Math.min(box.top, point.y);
    box.right = Math.max(box.right, point.x);
    box.bottom = Math.max(box.bottom, point.y);
  }

  // Return the part of the surface to upload, in whole drawing units:
  // the ink's box with cropMargin around it, kept inside the surface.
  crop() {
    const box = this.inkBox;
    const left = Math.max(0, Math.floor(box.left - this.cropMargin));
    const top = Math.max(0, Math.floor(box.top - this.cropMargin));
    const right = Math.min(this.width, Math.ceil(box.right + this.cropMargin));
    const bottom = Math.min(SURFACE_HEIGHT, Math.ceil(box.bottom + this.cropMargin));
    return { x: left, y: top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) };
  }

  setInk(ctx) {
    ctx.strokeStyle = INK_COLOUR;
    ctx.fillStyle = INK_COLOUR;
    ctx.lineWidth = this.strokeWidth;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  // Draw a round dot: a tap with no movement must leave ink too.
  drawDot(ctx, point) {
    this.setInk(ctx);
    ctx.beginPath();
    ctx.arc(point.x, point.y, this.strokeWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  // Draw the polyline through points[from - 1 ...]: the part of a stroke not yet on screen.
  drawPolyline(ctx, points, from) {
    if (points.length - from < 1) {
      return;
    }
    this.setInk(ctx);
    ctx.beginPath();
    const start = points[Math.max(from - 1, 0)];
    ctx.moveTo(start.x, start.y);
    for (let i = Math.max(from, 1); i < points.length; i += 1) {
      ctx.lineTo(points[i].x, points[i].y);
    }
    ctx.stroke();
  }

  // Clear ctx's whole backing store, then draw every stroke with its current transform.
  drawAll(ctx) {
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
    ctx.restore();
    this.strokes.forEach(function (points) {
      this.drawDot(ctx, points[0]);
      this.drawPolyline(ctx, points, 1);
    }, this);
  }

  // Draw the strokes inside `crop` (drawing units) onto ctx's canvas, `scale` pixels a unit.
  drawCrop(ctx, crop, scale) {
    ctx.setTransform(scale, 0, 0, scale, -crop.x * scale, -crop.y * scale);
    this.drawAll(ctx);
  }

  // Size the screen canvas's backing store to its displayed size times
  // devicePixelRatio, take the surface's width from its shape, and redraw.
  fitTo(canvas) {
    const box = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(box.width * ratio));
    const height = Math.max(1, Math.round(box.height * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    if (box.height > 0) {
      this.width = Math.max(1, Math.round((box.width * SURFACE_HEIGHT) / box.height));
    }
    const context = canvas.getContext("2d");
    const scale = height / SURFACE_HEIGHT;
    context.setTransform(scale, 0, 0, scale, 0, 0);
    this.drawAll(context);
  }

  // The strokes in pixels of the upload cut at `crop` (one pixel a unit):
  // [[[x, y], ...], ...] in drawing order, or null past the server's limits.
  strokesInPixels(crop) {
    const points = this.strokes.reduce(function (sum, stroke) { return sum + stroke.length; }, 0);
    if (this.strokes.length > MAX_STROKES || points > MAX_STROKE_POINTS) {
      return null;
    }
    return this.strokes.map(function (stroke) {
      return stroke.map(function (point) {
        return [rounded(point.x - crop.x), rounded(point.y - crop.y)];
      });
    });
  }

  // Return {body, crop, image, strokes}: the JSON for the server, {"image":
  // a PNG data URL of the inked part of the drawing on `canvas`, one pixel a
  // unit, "strokes": its strokes in that PNG's pixels}, and those two apart
  // (strokes null when over the limits). Throw `encodeError` if the browser
  // cannot encode the PNG.
  toUpload(canvas, encodeError) {
    const crop = this.crop();
    canvas.width = crop.width;
    canvas.height = crop.height;
    this.drawCrop(canvas.getContext("2d"), crop, 1);
    const image = canvas.toDataURL("image/png");
    if (!image.startsWith("data:image/png")) {
      throw encodeError;
    }
    const upload = { image: image };
    const strokes = this.strokesInPixels(crop);
    if (strokes !== null) {
      upload.strokes = strokes;
    }
    return { body: JSON.stringify(upload), crop: crop, image: image, strokes: strokes };
  }

  // Draw the ink on `canvas`, `height` pixels high and at most `maxAspect`
  // times as wide, and return it as a PNG data URL.
  thumbnail(canvas, height, maxAspect) {
    const crop = this.crop();
    const scale = height / crop.height;
    canvas.height = height;
    canvas.width = Math.min(Math.round(crop.width * scale), maxAspect * height);
    this.drawCrop(canvas.getContext("2d"), crop, Math.min(scale, canvas.width / crop.width));
    return canvas.toDataURL("image/png");
  }
}
