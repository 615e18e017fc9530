"""MNIST's test digits posted as PNG files to the real server's /predict.

The committed model is scored on the IDX test set directly by
`python -m model.evaluation.evaluate`; this scores the same 10,000 digits the way a
client sends them, through decoding and preprocessing, to show that
preprocessing costs no accuracy on digits that are already MNIST-shaped.

    python -m bench.mnist_predict [--url URL] [--limit N] [--workers K]
"""

import argparse
import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from bench.support.client import PredictClient
from bench.support.server import PROJECT_ROOT, server_url
from model.constants import DEFAULT_MODEL_PATH
from model.network import Network
from model.training.mnist import (
    SHA256,
    TEST_IMAGES,
    TEST_LABELS,
    find_file,
    read_idx,
    to_features,
)

DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "mnist"
DEFAULT_WORKERS = 4


def png_of_digit(image):
    """Encode one MNIST digit (28, 28) uint8, light ink on black, as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.mnist_predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="base URL of a running server (default: start the Procfile's gunicorn)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with the MNIST IDX files")
    parser.add_argument("--limit", type=int, help="score only the first N test digits")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="requests in flight")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    images = read_idx(find_file(args.data, TEST_IMAGES), 3, SHA256[TEST_IMAGES])[: args.limit]
    labels = read_idx(find_file(args.data, TEST_LABELS), 1, SHA256[TEST_LABELS])[: args.limit]
    direct = Network.load(DEFAULT_MODEL_PATH).predict(to_features(images))
    with server_url(args.url, "bench-mnist") as base_url, PredictClient(base_url) as client:
        started = time.monotonic()
        with ThreadPoolExecutor(args.workers) as pool:
            answers = list(pool.map(lambda image: client.predict_png(png_of_digit(image)), images))
        elapsed = time.monotonic() - started
    statuses = np.array([status for status, _ in answers])
    predicted = np.array([body["digit"] if status == 200 else -1 for status, body in answers])
    print(f"MNIST test digits: {len(images)} posted as PNG in {elapsed:.1f} s")
    print(f"  non-200 answers:            {np.count_nonzero(statuses != 200)}")
    print(f"  accuracy through /predict:  {np.mean(predicted == labels):.2%}")
    print(f"  accuracy on the IDX arrays: {np.mean(direct == labels):.2%} (committed model, in process)")
    print(f"  answers that differ:        {np.count_nonzero(predicted != direct)}")


if __name__ == "__main__":
    main()
