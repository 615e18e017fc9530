"""Replay real pen trajectories as pointer strokes on the page, in headless Chromium.

Each UNIPEN sample is drawn on the page's canvas with the mouse, one move
per recorded point, and the digit the page shows is compared with the
label. The page reads its drawing with /predict/number, so it may show a
number of several marks or say that the mark is not a digit: either counts
as wrong for a sample of one digit. The same samples also go the rendered-PNG route (bench.support.drawing, as
bench.realworld does), at the page's own stroke width, so one run tells
whether the page's drawing and the benchmark's drawing get the same
answers from the server.

    python -m bench.browser_replay [--limit 300] [--url URL] [--seed S] [--json PATH]
    python -m bench.browser_replay --numbers 60 [--writers measuring|training] [--phone] [--url URL] [--seed S]

With --numbers N, N numbers composed from the digits of the measuring
writers (bench.support.compose, one writer a number; `--writers training`
for tuning, as in bench.numbers) are drawn on the page
instead, stroke by stroke, and #number is compared with the number
written: the page's real path, its strokes included. A number wider than
the page's surface is scaled down to fit, about its middle height (the
pen stays the page's; a few gaps then close). `--phone` draws on a page
the size of a phone's screen, whose surface is narrower.

Without --url, the Procfile's gunicorn is started for the run.
"""

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from bench.page_request import PageCapture
from bench.support.chromium import (
    CHROMIUM_PATH,
    PAD_SELECTOR,
    draw_on_page,
    launch_chromium,
    nudging,
)
from bench.support.client import PredictClient
from bench.support.compose import NUMBER_LENGTHS, compose_numbers
from bench.support.drawing import draw_png
from bench.support.page import PHONE_VIEWPORT
from bench.support.samples import DEFAULT_DATA_PATH, DEFAULT_SEED, select_samples
from bench.support.server import server_url
from model.constants import CANVAS_HEIGHT, PEN_WIDTH
from model.formatting import percent
from model.training.handwriting import load_handwriting, split_by_writer

VIEWPORT = {"width": 1280, "height": 900}

DEFAULT_LIMIT = 300

SAMPLE_DEADLINE_S = 10
"""How long a drawing may take to be answered before the sample counts as a failure."""

STABLE_MS = 200
"""The answer counts as final once #number has not changed for this long with nothing in flight."""

NOT_A_DIGIT = "?"
"""How the page writes a mark it was told is not a digit inside a number (static/answer.js)."""

INK_LEVEL = 128
"""Alpha from which a pixel counts as ink when comparing the page's PNG with ours."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
"""A PNG starts with its signature and ends with the IEND chunk (type and CRC)."""

N_LISTED = 20
"""How many failures and disagreements are listed by name."""

STROKE_WIDTH_SCRIPT = """() => {
    const holder = document.querySelector("[data-stroke-width]");
    if (holder !== null) return Number(holder.dataset.strokeWidth);
    for (const name of ["STROKE_WIDTH", "strokeWidth"]) {
        if (typeof window[name] === "number") return window[name];
    }
    return null;
}"""
"""Find the page's stroke width, if it exposes it (data-stroke-width or a global)."""


class ReplayFailure(Exception):
    """The page did not show an answer for the replayed drawing; the message says what it did."""


def page_stroke_width(page):
    """Return the page's stroke width in logical pixels and where it was read from."""
    width = page.evaluate(STROKE_WIDTH_SCRIPT)
    if width is None or not np.isfinite(width) or width <= 0:
        return PEN_WIDTH, f"the page does not expose it; assuming {PEN_WIDTH}"
    return width, "read from the page"


def text_of(page, selector):
    return (page.locator(selector).text_content() or "").strip()


def wait_for_answer(page, watcher, before_last, deadline_s=SAMPLE_DEADLINE_S):
    """Wait until the page shows its answer to the whole drawing; return the last request.

    The page predicts at the end of every stroke, so the answer to the
    final drawing comes from the last /predict/number request it sends
    after the last stroke. Earlier requests may still land after that
    stroke, so the answer counts as final when at least one request has
    been sent since the last stroke began (`before_last`, from
    `draw_counting`), none is in flight, the page says it is
    idle (when it says so at all), and #result shows an answer
    (has-prediction) unchanged for STABLE_MS.

    Headless Chromium may hold canvas.toBlob callbacks until the next input
    event, so the page would never send its drawing while the test sits
    still: the wait nudges the page (bench.support.chromium.nudging).
    """
    last_seen, stable_since = None, time.monotonic()
    for _ in nudging(page, deadline_s):
        sent = len(watcher.issued) - before_last
        activity = page.locator("#result").get_attribute("data-requests")
        quiet = sent > 0 and watcher.in_flight() == 0 and activity in (None, "idle")
        shown = shown_answer(page)
        seen = (shown, len(watcher.issued), quiet)
        if seen != last_seen:
            last_seen, stable_since = seen, time.monotonic()
            continue
        if not quiet or (time.monotonic() - stable_since) * 1000 < STABLE_MS:
            continue
        if shown is not None:
            return watcher.issued[-1]
        status = page.locator("#status")
        if "is-error" in (status.get_attribute("class") or ""):
            raise ReplayFailure(f"the page shows an error: {text_of(page, '#status')!r}")
    raise ReplayFailure(
        f"no answer within {deadline_s} s: {len(watcher.issued) - before_last} "
        f"/predict/number requests sent since the last stroke began, {watcher.in_flight()} in flight, "
        f"#number {text_of(page, '#number')!r}, status {text_of(page, '#status')!r}"
    )


def shown_answer(page):
    """Return what the page shows as its answer, None while it shows none.

    The text of #number: "7" for one digit, "42" or "4?" for several marks
    ("?" for one that is not a digit), and "" for one mark that is not a
    digit (the page then says so in #not-digit instead).
    """
    if "has-prediction" not in (page.locator("#result").get_attribute("class") or ""):
        return None
    return "".join(text_of(page, "#number").split())


def answer_text(answered):
    """Return the /predict/number answer written as the page writes it (see shown_answer)."""
    digits = answered.get("digits") or []
    if len(digits) == 1 and digits[0].get("is_digit") is False:
        return ""
    return "".join(str(entry["digit"]) if entry.get("is_digit", True) else NOT_A_DIGIT for entry in digits)


def single_digit(text):
    """Return the digit a shown answer reads as, None for a number, a non-digit or nothing."""
    return int(text) if len(text) == 1 and text.isdigit() else None


def png_in(body):
    """Return the PNG file inside a multipart body, or None."""
    start = body.find(PNG_SIGNATURE) if body else -1
    end = body.find(PNG_END, start) if start >= 0 else -1
    return body[start : end + len(PNG_END)] if end >= 0 else None


def ink_mask(png):
    """Return where a transparent-style PNG has ink, shape (280, 280) bool."""
    image = Image.open(io.BytesIO(png))
    return np.asarray(image.getchannel("A")) >= INK_LEVEL


def ink_overlap(page_png, our_png):
    """Return the intersection over union of the ink in the page's PNG and in ours.

    None when the page's image has another size than ours (a page that
    crops its drawing to the ink): the two are not aligned here.
    """
    page_ink, our_ink = ink_mask(page_png), ink_mask(our_png)
    if page_ink.shape != our_ink.shape:
        return None
    union = (page_ink | our_ink).sum()
    return float((page_ink & our_ink).sum() / union) if union else float("nan")


def draw_counting(page, watcher, strokes):
    """Draw strokes on the page; return how many requests it had sent before the last stroke.

    Counted before the last stroke, not after it: the page may send that
    stroke's request before draw_on_page returns, and a count taken then
    would wait for a request that never comes.
    """
    *earlier, last = strokes
    draw_on_page(page, earlier)
    before_last = len(watcher.issued)
    draw_on_page(page, [last])
    return before_last


def replay(page, watcher, sample):
    """Replay one sample on the page; return what the page showed and sent."""
    page.click("#clear")
    request = wait_for_answer(page, watcher, draw_counting(page, watcher, sample["strokes"]))
    response = request.response()
    answered = response.json() if response is not None and response.ok else {}
    shown = shown_answer(page)
    return {
        "page_answer": shown,
        "page_digit": single_digit(shown),
        "response_answer": answer_text(answered),
        "page_png": png_in(watcher.bodies.get(request)),
    }


def record_console_error(message, errors):
    if message.type == "error":
        errors.append(message.text)


def replay_all(base_url, samples, indices, client):
    """Replay every selected sample on the page and post its rendered PNG; return records."""
    records = []
    console_errors = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.on("console", lambda message: record_console_error(message, console_errors))
            page.on("pageerror", lambda error: console_errors.append(str(error)))
            watcher = PageCapture(page)
            page.goto(base_url + "/", wait_until="load")
            page.locator(PAD_SELECTOR).scroll_into_view_if_needed()
            width, width_source = page_stroke_width(page)
            print(f"Page stroke width: {width} ({width_source})", flush=True)
            started = time.monotonic()
            for count, index in enumerate(indices, start=1):
                records.append(replay_one(page, watcher, client, samples, index, width))
                if count % 50 == 0:
                    elapsed = time.monotonic() - started
                    print(f"  {count}/{len(indices)} replayed ({elapsed:.0f} s)", file=sys.stderr)
        finally:
            browser.close()
    return records, width, console_errors


def replay_one(page, watcher, client, samples, index, width):
    """Replay one sample and post its rendered PNG; return its record."""
    sample = samples[index]
    our_png = draw_png(sample["strokes"], "transparent", line_width=width)
    status, body = client.predict_png(our_png)
    record = {
        "index": index,
        "label": sample["label"],
        "institution": sample["institution"],
        "writer": sample["writer"],
        "png_digit": body["digit"] if status == 200 else None,
        "page_answer": None,
        "page_digit": None,
        "failure": None,
    }
    try:
        shown = replay(page, watcher, sample)
    except (ReplayFailure, LookupError, PlaywrightError) as error:
        record["failure"] = str(error).splitlines()[0]
        return record
    record["page_answer"] = shown["page_answer"]
    record["page_digit"] = shown["page_digit"]
    record["response_answer"] = shown["response_answer"]
    if shown["page_png"] is not None:
        record["ink_iou"] = ink_overlap(shown["page_png"], our_png)
    return record


def describe(record):
    iou = record.get("ink_iou")
    overlap = f", ink IoU {iou:.2f}" if iou is not None else ""
    return (
        f"#{record['index']} label {record['label']}: page {record['page_answer']!r}, "
        f"PNG {record['png_digit']}{overlap} ({record['writer']})"
    )


def print_report(records, console_errors):
    n = len(records)
    page_right = sum(record["page_digit"] == record["label"] for record in records)
    png_right = sum(record["png_digit"] == record["label"] for record in records)
    answered = [r for r in records if r["page_answer"] is not None]
    both = [r for r in records if r["page_digit"] is not None and r["png_digit"] is not None]
    agree = [r for r in both if r["page_digit"] == r["png_digit"]]
    failures = [record for record in records if record["failure"]]
    mismatched = [r for r in answered if r.get("response_answer") != r["page_answer"]]
    not_digits = [r for r in answered if r["page_answer"] == ""]
    numbers = [r for r in answered if len(r["page_answer"]) > 1]
    overlaps = np.array([r["ink_iou"] for r in records if r.get("ink_iou") is not None])

    print(f"\nPage (pointer strokes): {percent(page_right / n)} of {n} samples")
    print(f"Rendered PNG route:     {percent(png_right / n)} of {n} samples")
    if both:
        agreement = percent(len(agree) / len(both))
        print(f"Agreement page = PNG:   {agreement} of {len(both)} answered by both")
    if overlaps.size:
        print(
            f"Ink overlap (IoU) of the page's PNG and ours: median {np.median(overlaps):.3f}, "
            f"5th percentile {np.percentile(overlaps, 5):.3f}, min {overlaps.min():.3f}"
        )
    print(f"Shown as not a digit:   {len(not_digits)} samples; as several marks: {len(numbers)}")
    if mismatched:
        print(f"#number differs from the last /predict/number answer in {len(mismatched)} samples")
    print(f"\n{len(failures)} failures (counted as wrong on the page)")
    for record in failures[:N_LISTED]:
        print(f"  #{record['index']} label {record['label']}: {record['failure']}")
    disagreements = [r for r in answered if r["page_digit"] != r["png_digit"]]
    print(f"\n{len(disagreements)} disagreements between the page and the PNG route")
    for record in disagreements[:N_LISTED]:
        print(f"  {describe(record)}")
    if console_errors:
        print(f"\n{len(console_errors)} console errors; first: {console_errors[0]!r}")


# ---- Composed numbers -------------------------------------------------------------


def fitted_strokes(number, surface_width):
    """Return the number's strokes scaled down, about the middle height, to fit a surface `surface_width` wide."""
    scale = min(1.0, surface_width / number.width)
    middle = CANVAS_HEIGHT / 2
    return [[(x * scale, middle + (y - middle) * scale) for x, y in stroke] for stroke in number.strokes]


def replay_numbers(base_url, numbers, viewport=VIEWPORT):
    """Draw every composed number on the page; return [(number, shown answer or failure, scaled)]."""
    records = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_context(viewport=viewport).new_page()
            watcher = PageCapture(page)
            page.goto(base_url + "/", wait_until="load")
            page.locator(PAD_SELECTOR).scroll_into_view_if_needed()
            box = page.locator(PAD_SELECTOR).bounding_box()
            surface = box["width"] * CANVAS_HEIGHT / box["height"]
            print(f"Page surface: {surface:.0f} units wide", flush=True)
            for count, number in enumerate(numbers, start=1):
                page.click("#clear")
                before_last = draw_counting(page, watcher, fitted_strokes(number, surface))
                try:
                    wait_for_answer(page, watcher, before_last)
                    shown = shown_answer(page)
                except (ReplayFailure, PlaywrightError) as error:
                    shown = "failure: " + str(error).splitlines()[0]
                records.append((number, shown, number.width > surface))
                if count % 20 == 0:
                    print(f"  {count}/{len(numbers)} drawn", file=sys.stderr, flush=True)
        finally:
            browser.close()
    return records


def print_numbers_report(records):
    """Print how many numbers the page read whole: overall, by length, with and without touching digits."""
    def line(name, chosen):
        right = sum(shown == number.text for number, shown, _ in chosen)
        share = percent(right / len(chosen)) if chosen else "–"
        print(f"  {name:22} {right:4d} of {len(chosen):4d}  {share:>8}")

    print("\nNumbers drawn on the page, read whole in #number:")
    line("all", records)
    for length in NUMBER_LENGTHS:
        line(f"{length} digits", [r for r in records if len(r[0].text) == length])
    line("no touching", [r for r in records if not r[0].has_touching])
    line("touching pair", [r for r in records if r[0].has_touching])
    line("scaled to fit", [r for r in records if r[2]])
    wrong = [(number.text, shown) for number, shown, _ in records if shown != number.text]
    print("\nSome misread numbers (written → shown):")
    for written, shown in wrong[:N_LISTED]:
        print(f"  {written:>10} → {shown}")


def run_numbers(args, base_url):
    training, measuring = split_by_writer(load_handwriting(args.data))
    numbers = compose_numbers(measuring if args.writers == "measuring" else training, args.numbers, args.seed)
    print(f"Drawing {len(numbers)} composed numbers of {args.writers} writers on {base_url}/", flush=True)
    started = time.monotonic()
    records = replay_numbers(base_url, numbers, PHONE_VIEWPORT if args.phone else VIEWPORT)
    print_numbers_report(records)
    elapsed = time.monotonic() - started
    print(f"\nElapsed: {elapsed:.1f} s ({elapsed / max(len(numbers), 1):.2f} s per number)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", help="base URL of a running server (default: start the Procfile's gunicorn)"
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA_PATH, help="UNIPEN .jsonl.gz file"
    )
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", type=Path, help="save every per-sample result here")
    parser.add_argument("--numbers", type=int, default=0,
                        help="draw this many composed numbers instead of single digits")
    parser.add_argument("--writers", choices=("measuring", "training"), default="measuring",
                        help="whose digits the numbers are composed of")
    parser.add_argument("--phone", action="store_true",
                        help="draw the numbers on a phone-sized page (bench.support.page.PHONE_VIEWPORT)")
    args = parser.parse_args(argv)
    if args.limit <= 0:
        parser.error(f"--limit must be positive, got {args.limit}")
    if not args.data.is_file():
        parser.error(f"handwriting data not found at {args.data}")
    if not CHROMIUM_PATH.is_file():
        parser.error(f"Chromium not found at {CHROMIUM_PATH}; set CHROMIUM_PATH")
    return args


def run(args, base_url):
    samples = load_handwriting(args.data)
    indices = select_samples(samples, args.limit, args.seed)
    print(f"Replaying {len(indices)} samples on {base_url}/", flush=True)
    started = time.monotonic()
    with PredictClient(base_url) as client:
        records, width, console_errors = replay_all(base_url, samples, indices, client)
    elapsed = time.monotonic() - started
    print_report(records, console_errors)
    print(f"\nElapsed: {elapsed:.1f} s ({elapsed / len(indices):.2f} s per sample)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        summary = {"base_url": base_url, "stroke_width": width, "seed": args.seed,
                   "limit": args.limit, "elapsed_s": round(elapsed, 1), "results": records}
        args.json.write_text(json.dumps(summary))
        print(f"Per-sample results saved to {args.json}")


def main(argv=None):
    args = parse_args(argv)
    with server_url(args.url, "bench-browser") as base_url:
        if args.numbers > 0:
            run_numbers(args, base_url)
        else:
            run(args, base_url)


if __name__ == "__main__":
    main()
