"""Time our training against scikit-learn's MLPClassifier, side by side on this machine.

    python -m bench.train_speed [--data DIR] [--preset quick] [--seed S] [--limit N] [--json PATH]

Both learn from the same MNIST training images (pixels scaled to [0, 1])
and are scored on the same 10,000 test images, one after the other, never
at the same time:

- ours: ``python -m model.training.train --preset quick`` run as a subprocess and
  timed from start to exit, so its time includes the interpreter start,
  reading and checking MNIST, validation after each epoch, the final test
  scoring and saving the file. The in-process training time the trainer
  records in the model's metadata is shown beside it. The trainer holds out
  1/12 of the images for validation and learns from the rest.
- scikit-learn: ``MLPClassifier`` with its defaults (one hidden layer of
  100 ReLU units, Adam, up to 200 epochs, stopping when the loss stalls)
  and a fixed ``random_state``, timed around ``fit`` alone.

Both use the NumPy/BLAS threads this machine gives them; the table header
says which library and how many threads. Needs scikit-learn:
``.venv/bin/pip install -r bench/requirements.txt``. ``--limit N`` trains
both on the first N images only: a dry run that checks the bench works,
not a result.
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from model.evaluation.evaluate import DEFAULT_DATA_DIR, PROJECT_ROOT
from model.evaluation.metrics import accuracy, score
from model.network import ModelFileError, Network
from model.training.mnist import MnistError, load_mnist, to_features

DEFAULT_PRESET = "quick"
DEFAULT_SEED = 0
SKLEARN_HIDDEN = (100,)
"""scikit-learn's default hidden layer, written out so the comparison says what it compares."""

PERCENT = 100


def blas_description():
    """Return e.g. "openblas, 2 threads": the BLAS both trainings run their matrix products on."""
    from threadpoolctl import threadpool_info

    pools = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    if not pools:
        return "no BLAS thread pool found"
    return "; ".join(
        f"{pool['internal_api']} {pool.get('version') or '(version unknown)'} with {pool['num_threads']} threads"
        for pool in pools
    )


def run_ours(data_dir, preset, seed, limit, out_dir):
    """Train with `python -m model.training.train` in a subprocess; return its timings and test accuracy.

    The trainer's own output goes straight to this terminal, so its
    progress shows while it runs.
    """
    out = Path(out_dir) / f"{preset}.npz"
    command = [sys.executable, "-m", "model.training.train", "--preset", preset, "--data", str(data_dir),
               "--out", str(out), "--seed", str(seed)]
    if limit is not None:
        command += ["--limit", str(limit)]
    print(f"\n== ours: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=PROJECT_ROOT, check=False)
    wall_seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"error: model.training.train exited with status {completed.returncode}")
    try:
        network = Network.load(out)
    except ModelFileError as error:
        raise SystemExit(f"error: model.training.train did not leave a readable model: {error}") from error
    metadata = network.metadata
    return {
        "name": f"ours ({preset})",
        "command": " ".join(["python", *command[1:]]),
        "layer_sizes": list(network.layer_sizes),
        "wall_seconds": wall_seconds,
        "training_seconds": metadata.get("training_seconds"),
        "epochs": len(metadata.get("history") or []),
        "network": network,
    }


def run_sklearn(train_X, train_y, seed):
    """Fit scikit-learn's MLPClassifier with its defaults; return its timing and fitted model."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError as error:
        raise SystemExit(
            f"error: scikit-learn is needed for this bench ({error}): .venv/bin/pip install -r bench/requirements.txt"
        ) from error
    import sklearn

    classifier = MLPClassifier(hidden_layer_sizes=SKLEARN_HIDDEN, random_state=seed)
    print(f"\n== scikit-learn {sklearn.__version__}: MLPClassifier(hidden_layer_sizes={SKLEARN_HIDDEN}, "
          f"random_state={seed}) on {len(train_y)} images", flush=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        started = time.perf_counter()
        classifier.fit(train_X, train_y)
        fit_seconds = time.perf_counter() - started
    converged = not any(issubclass(warning.category, ConvergenceWarning) for warning in caught)
    print(f"fitted in {fit_seconds:.1f} s, {classifier.n_iter_} epochs"
          f"{'' if converged else ' (stopped at max_iter without converging)'}", flush=True)
    return {
        "name": "scikit-learn MLPClassifier",
        "command": f"MLPClassifier(hidden_layer_sizes={SKLEARN_HIDDEN}, random_state={seed}).fit(X, y)",
        "layer_sizes": [train_X.shape[1], *SKLEARN_HIDDEN, len(classifier.classes_)],
        "wall_seconds": fit_seconds,
        "training_seconds": fit_seconds,
        "epochs": int(classifier.n_iter_),
        "converged": converged,
        "version": sklearn.__version__,
        "classifier": classifier,
    }


def format_table(ours, theirs, n_train, n_test):
    """Return the side-by-side table and the ratios, as text."""
    rows = [
        ("", "ours", "scikit-learn"),
        ("layers", "-".join(map(str, ours["layer_sizes"])), "-".join(map(str, theirs["layer_sizes"]))),
        ("epochs", str(ours["epochs"]), str(theirs["epochs"])),
        ("wall time (s)", f"{ours['wall_seconds']:.1f}", f"{theirs['wall_seconds']:.1f}"),
        ("training time (s)",
         "-" if ours["training_seconds"] is None else f"{ours['training_seconds']:.1f}",
         f"{theirs['training_seconds']:.1f}"),
        (f"test accuracy ({n_test})", f"{ours['test_accuracy']:.2%}", f"{theirs['test_accuracy']:.2%}"),
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}" for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    ratio = ours["wall_seconds"] / theirs["wall_seconds"]
    lines.append("")
    lines.append(f"time ratio, ours / scikit-learn: {ratio:.2f} (wall: our whole process vs their fit)")
    if ours["training_seconds"] is not None:
        lines.append(f"                                 {ours['training_seconds'] / theirs['training_seconds']:.2f} "
                     f"(our in-process training time vs their fit)")
    difference = (ours["test_accuracy"] - theirs["test_accuracy"]) * PERCENT
    lines.append(f"accuracy difference, ours - scikit-learn: {difference:+.2f} percentage points")
    lines.append(f"training images: {n_train} (ours holds 1/12 of them out for validation)")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.train_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                        help="folder with the MNIST IDX files (default: ../shared/mnist beside the project)")
    parser.add_argument("--preset", default=DEFAULT_PRESET, help=f"model.training.train preset (default {DEFAULT_PRESET})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"seed of our trainer and scikit-learn's random_state (default {DEFAULT_SEED})")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="train both on the first N training images only (a dry run, not a result)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also save the results here as JSON")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 2:
        parser.error(f"--limit must be at least 2 images, got {args.limit}")
    return args


def main(argv=None):
    """Run both trainings one after the other, score both, print the table."""
    args = parse_args(argv)
    try:
        data = load_mnist(args.data)
    except MnistError as error:
        raise SystemExit(f"error: {error}") from error
    n_train = len(data.train_labels) if args.limit is None else min(args.limit, len(data.train_labels))
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"NumPy {np.__version__}, BLAS: {blas_description()}")

    with tempfile.TemporaryDirectory(prefix="train_speed-") as out_dir:
        ours = run_ours(args.data, args.preset, args.seed, args.limit, out_dir)
    ours["test_accuracy"] = accuracy(score(ours.pop("network"), data.test_images, data.test_labels).confusion)

    train_X = to_features(data.train_images[:n_train])
    theirs = run_sklearn(train_X, data.train_labels[:n_train], args.seed)
    test_X = to_features(data.test_images)
    theirs["test_accuracy"] = float(np.mean(theirs.pop("classifier").predict(test_X) == data.test_labels))

    print()
    if args.limit is not None:
        print(f"DRY RUN on {n_train} training images (--limit): not a result\n")
    print(format_table(ours, theirs, n_train, len(data.test_labels)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        results = {"limit": args.limit, "seed": args.seed, "training_images": n_train,
                   "test_images": len(data.test_labels), "blas": blas_description(),
                   "numpy_version": np.__version__, "ours": ours, "scikit_learn": theirs}
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults saved to {args.json}")


if __name__ == "__main__":
    main()
