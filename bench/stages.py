"""Time what the server does for one request, in process, stage by stage, for bench.serve.

The stages are the app's own: `ink_from_bytes`, then each of
model.preprocess's `DIGIT_FIELD_STEPS` (so a new step shows up here by
itself), /predict's segmentation check, the forward pass and the JSON
answer. Whole requests go through Flask's test client. Comparisons (the
page's image against a full canvas, a number against a digit) take turns
in rounds, so that a slow spell of a shared machine hits both sides.
"""

import base64
import cProfile
import io
import json
import pstats
import sys
import time
import urllib.parse

import numpy as np
from flask import jsonify
from PIL import Image

from app.api import MODEL_KEY, PREVIEW_VALUES, reading_body
from bench.page_request import image_of, templated
from bench.support.digits import DIGIT_STROKES, digit_png, number_png, number_strokes
from bench.support.http import BOUNDARY_TEMPLATE, fresh_boundary, image_form
from bench.support.tables import format_table
from model.preprocess import DIGIT_FIELD_STEPS, crop_box, ink_from_bytes
from model.recognise import DigitReading
from model.segment import find_digits

MIN_STAGE_RUNS = 20

BENCH_DIGIT = 5
"""The digit drawn on the page and on the canvas PNG: strokes and a curve."""

BENCH_NUMBER = "4271"
"""The 4-digit number timed through /predict/number."""

NUMBER_PATH = "/predict/number"
DIGIT_PATH = "/predict"


def time_calls(function, seconds, min_runs=MIN_STAGE_RUNS):
    """Call `function` for `seconds` (and at least `min_runs` times).

    Returns (wall times, CPU times of this thread), in seconds: on a shared
    machine the CPU time is the steadier figure, the wall time what a
    request waits.
    """
    wall, cpu = [], []
    deadline = time.perf_counter() + seconds
    while len(wall) < min_runs or time.perf_counter() < deadline:
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        function()
        wall.append(time.perf_counter_ns() - started)
        cpu.append(time.thread_time_ns() - started_cpu)
    return np.array(wall) / 1e9, np.array(cpu) / 1e9


def time_alternating(functions, seconds, rounds):
    """Time each of {name: function} for `seconds` in all, taking turns in `rounds` rounds.

    Returns {name: (wall times, CPU times)}, the rounds put together.
    """
    times = {name: ([], []) for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            wall, cpu = time_calls(function, seconds / rounds, max(MIN_STAGE_RUNS // rounds, 1))
            times[name][0].append(wall)
            times[name][1].append(cpu)
    return {name: (np.concatenate(wall), np.concatenate(cpu)) for name, (wall, cpu) in times.items()}


DIGIT_FIELD = "digit_field (its steps together)"
INK = "ink_from_bytes"
ALL_STAGES = "all stages (sum per run)"


def pipeline_steps(app, with_preview):
    """Return the steps of /predict as (name, function of the previous step's output), bytes first.

    Preprocessing is model.preprocess's own definition: `ink_from_bytes`,
    then each of `DIGIT_FIELD_STEPS` in order. /predict also segments the
    ink (find_digits, to flag several digits), a step that passes the ink
    on unchanged here; then come the network and the JSON answer.
    """
    model = app.extensions[MODEL_KEY]
    max_digits = app.config["MAX_DIGITS"]
    box = None

    def segment(ink):
        nonlocal box
        box = crop_box(ink)
        find_digits(ink, model.recognise, max_digits)
        return ink

    def forward(field):
        prediction = model.recognise(field[np.newaxis])
        return DigitReading(box, field, prediction.probabilities[0], bool(prediction.is_digit[0]))

    def answer_json(reading):
        with app.app_context():
            return jsonify({**reading_body(reading, with_preview), "model": model.version}).get_data()

    field_steps = [(f"  {number}. {step.__name__}", step) for number, step in enumerate(DIGIT_FIELD_STEPS, start=1)]
    return [
        (INK, ink_from_bytes),
        ("find_digits (several digits?)", segment),
        *field_steps,
        ("forward pass (one field)", forward),
        ("JSON (answer dict + jsonify)", answer_json),
    ]


def asks_preview(target):
    """Return whether a request target ("/predict?preview=1") asks for the network's input in the answer."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    return PREVIEW_VALUES.get(query.get("preview", ["0"])[0], False)


def time_pipeline(steps, data, seconds, min_runs=MIN_STAGE_RUNS):
    """Run the whole chain again and again, timing each step where it runs; return {name: (wall, cpu)}.

    Inside the chain each step finds the caches as a request leaves them:
    the network's weights, for one, are no longer in cache after decoding,
    so its time here is several times its time alone.
    """
    wall = {name: [] for name, _ in steps}
    cpu = {name: [] for name, _ in steps}
    deadline = time.perf_counter() + seconds
    runs = 0
    while runs < min_runs or time.perf_counter() < deadline:
        value = data
        for name, step in steps:
            started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
            value = step(value)
            wall[name].append(time.perf_counter_ns() - started)
            cpu[name].append(time.thread_time_ns() - started_cpu)
        runs += 1
    return {name: (np.array(wall[name]) / 1e9, np.array(cpu[name]) / 1e9) for name, _ in steps}


def time_alone(steps, data, seconds):
    """Time each step on its own, over and over on the same input (warm caches)."""
    inputs, value = [], data
    for _, step in steps:
        inputs.append(value)
        value = step(value)
    share = seconds / len(steps)
    return {
        name: time_calls(lambda step=step, value=value: step(value), share)
        for (name, step), value in zip(steps, inputs)
    }


def page_poster(client, captured):
    """Return a function that sends the captured page request through a Flask test client."""
    headers, body, fresh = templated(captured)

    def post():
        boundary = fresh_boundary()
        sent_headers = dict(headers)
        sent_body = body
        if fresh:
            sent_headers["content-type"] = headers["content-type"].replace(BOUNDARY_TEMPLATE.decode(), boundary.decode())
            sent_body = body.replace(BOUNDARY_TEMPLATE, boundary)
        response = client.open(captured.target, method=captured.method, headers=sent_headers, data=sent_body)
        assert response.status_code == captured.status, response.get_data(as_text=True)

    return post


def form_poster(client, path, png):
    """Return a function that posts `png` to `path` as a form through a Flask test client, as curl does."""
    form_body, form_type = image_form(png)

    def post():
        boundary = fresh_boundary()
        response = client.post(
            path,
            data=form_body.replace(BOUNDARY_TEMPLATE, boundary),
            content_type=form_type.replace(BOUNDARY_TEMPLATE.decode(), boundary.decode()),
        )
        assert response.status_code == 200, response.get_data(as_text=True)

    return post


def in_process_stages(app, captured, canvas_png, seconds):
    """Time each stage for the page's image in the chain and alone, then whole requests; return {name: figures}."""
    steps = pipeline_steps(app, asks_preview(captured.target))
    data = image_of(captured)
    in_chain = time_pipeline(steps, data, seconds)
    alone = time_alone(steps, data, seconds)
    names = [name for name, _ in steps]
    first = names.index(f"  1. {DIGIT_FIELD_STEPS[0].__name__}")
    grouped = names[first : first + len(DIGIT_FIELD_STEPS)]
    in_chain[DIGIT_FIELD] = tuple(sum(in_chain[name][i] for name in grouped) for i in range(2))
    in_chain[ALL_STAGES] = tuple(sum(in_chain[name][i] for name in names) for i in range(2))
    order = [*names[:first], DIGIT_FIELD, *grouped, *names[first + len(DIGIT_FIELD_STEPS) :], ALL_STAGES]

    client = app.test_client()
    extra = {
        f"page's request via test client: {captured.method} {captured.target}": time_calls(
            page_poster(client, captured), seconds
        ),
        f"{DIGIT_PATH} via test client, 280×280 canvas form": time_calls(form_poster(client, DIGIT_PATH, canvas_png), seconds),
    }
    figures = {}
    for name in order:
        figures[name] = stage_figures(in_chain[name])
        if name in alone:
            figures[name]["alone_median_ms"] = float(np.median(alone[name][0]) * 1000)
    figures.update({name: stage_figures(times) for name, times in extra.items()})
    return figures


def stage_figures(times):
    wall, cpu = times
    return {
        "median_ms": float(np.median(wall) * 1000),
        "p99_ms": float(np.percentile(wall, 99) * 1000),
        "cpu_median_ms": float(np.median(cpu) * 1000),
        "runs": len(wall),
    }


def print_stages(stages, captured, page_image):
    print(
        f"\nIn process: the page's image ({image_description(page_image)}, sent as {captured.describe()}), "
        "BLAS on 1 thread.\nStages timed where they run in the chain; 'alone' repeats one stage on warm caches."
    )
    rows = [
        (
            name, f"{figures['median_ms']:.3f}", f"{figures['p99_ms']:.3f}", f"{figures['cpu_median_ms']:.3f}",
            f"{figures['alone_median_ms']:.3f}" if "alone_median_ms" in figures else "", figures["runs"],
        )
        for name, figures in stages.items()
    ]
    print(format_table(("stage", "median ms", "p99 ms", "CPU median ms", "alone ms", "runs"), rows))


def image_description(data):
    """Return e.g. "PNG 120×140 RGBA, 2,345 bytes"."""
    with Image.open(io.BytesIO(data)) as image:
        return f"{image.format} {image.width}×{image.height} {image.mode}, {len(data):,} bytes"


def compare_in_process(functions, seconds, rounds):
    """Time {name: function} in alternating rounds; return {name: figures} and the ratio of the first to the second."""
    times = time_alternating(functions, seconds, rounds)
    figures = {name: stage_figures(value) for name, value in times.items()}
    first, second = (figures[name] for name in functions)
    figures["ratio_median"] = first["median_ms"] / second["median_ms"]
    figures["ratio_cpu_median"] = first["cpu_median_ms"] / second["cpu_median_ms"]
    return figures


def print_comparison(title, figures, names):
    print(f"\n{title}")
    rows = [
        (name, f"{figures[name]['median_ms']:.3f}", f"{figures[name]['p99_ms']:.3f}",
         f"{figures[name]['cpu_median_ms']:.3f}", figures[name]["runs"])
        for name in names
    ]
    rows.append((f"ratio {names[0].split(':')[0]} / {names[1].split(':')[0]}", f"{figures['ratio_median']:.3f}", "",
                 f"{figures['ratio_cpu_median']:.3f}", ""))
    print(format_table(("", "median ms", "p99 ms", "CPU median ms", "runs"), rows))


def decode_comparison(page_image, canvas_png, seconds, rounds):
    """Time ink_from_bytes on the page's image and on a full canvas PNG, alternating; return the figures."""
    names = (f"page: {image_description(page_image)}", f"canvas: {image_description(canvas_png)}")
    functions = {names[0]: lambda: ink_from_bytes(page_image), names[1]: lambda: ink_from_bytes(canvas_png)}
    figures = compare_in_process(functions, seconds, rounds)
    print_comparison("Decoding (ink_from_bytes), in alternating rounds: what the page sends / a 280×280 canvas PNG",
                     figures, names)
    return figures


def serves(app, path, method="POST"):
    """Return whether the app has a route for `method` on `path`."""
    adapter = app.url_map.bind("localhost")
    return adapter.test(path, method=method)


def number_comparison(app, seconds, rounds):
    """Time a 4-digit number through /predict/number and a digit through /predict; return the figures, or None."""
    if not serves(app, NUMBER_PATH):
        print(f"\nA number: the app has no POST {NUMBER_PATH} yet; skipped")
        return None
    client = app.test_client()
    number, digit = number_png(BENCH_NUMBER), digit_png(BENCH_DIGIT)
    read = client.post(NUMBER_PATH, data=number, content_type="image/png")
    assert read.status_code == 200, read.get_data(as_text=True)

    def post_number():
        response = client.post(NUMBER_PATH, data=number, content_type="image/png")
        assert response.status_code == 200, response.get_data(as_text=True)

    def post_digit():
        response = client.post(DIGIT_PATH, data=digit, content_type="image/png")
        assert response.status_code == 200, response.get_data(as_text=True)

    names = (f"number: {NUMBER_PATH}, {BENCH_NUMBER!r} ({image_description(number)})",
             f"digit: {DIGIT_PATH}, a {BENCH_DIGIT} ({image_description(digit)})")
    figures = compare_in_process({names[0]: post_number, names[1]: post_digit}, seconds, rounds)
    figures["number_read"] = read.get_json()["number"]
    print_comparison(
        f"A number through the test client (raw image/png), alternating rounds; {BENCH_NUMBER!r} read as "
        f"{figures['number_read']!r}", figures, names,
    )
    figures["with_strokes"] = _number_with_strokes_comparison(client, number, digit, seconds, rounds)
    return figures


def _number_with_strokes_comparison(client, number, digit, seconds, rounds):
    """Time the number and the digit posted as the page posts them, JSON with their strokes; return the figures."""
    def page_json(png, strokes):
        image = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        return json.dumps({"image": image, "strokes": strokes})

    bodies = {NUMBER_PATH: page_json(number, number_strokes(BENCH_NUMBER)[0]),
              DIGIT_PATH: page_json(digit, DIGIT_STROKES[BENCH_DIGIT])}

    def poster(path):
        def post():
            response = client.post(path, data=bodies[path], content_type="application/json")
            assert response.status_code == 200, response.get_data(as_text=True)
        return post

    names = (f"number: {NUMBER_PATH}, {BENCH_NUMBER!r} with its strokes",
             f"digit: {DIGIT_PATH}, a {BENCH_DIGIT} with its strokes")
    figures = compare_in_process({names[0]: poster(NUMBER_PATH), names[1]: poster(DIGIT_PATH)}, seconds, rounds)
    figures["number_read"] = client.post(NUMBER_PATH, data=bodies[NUMBER_PATH],
                                          content_type="application/json").get_json()["number"]
    print_comparison(f"The same, posted as the page posts them (JSON with the strokes); read as "
                     f"{figures['number_read']!r}", figures, names)
    return figures


def profile_predict(app, captured, n_requests, limit=20):
    """Print where the in-process page request spends its time, by own time and by cumulative time."""
    post = page_poster(app.test_client(), captured)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n_requests):
        post()
    profiler.disable()
    print(f"\ncProfile of {n_requests} page requests through the test client (profiler overhead included)")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(r"app/|model/|formparser|multipart", limit)

