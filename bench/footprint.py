"""What the served app costs in memory and on disk, for bench.serve.

Memory: RSS, PSS and USS of gunicorn's master and workers, their total and
the headroom on a 512 MB dyno. Disk: the install size of requirements.txt,
from the installed packages' RECORD files or from a fresh venv.
"""

import importlib.metadata
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from packaging.requirements import Requirement

from bench.support.processes import MIB
from bench.support.server import PROJECT_ROOT
from bench.support.tables import format_table

DYNO_MEMORY = 512 * MIB
"""Memory of a Heroku basic dyno (Heroku's "512 MB" are MiB)."""


def memory_summary(snapshot, dyno=DYNO_MEMORY):
    """Add totals and the dyno headroom to a memory snapshot."""
    processes = [snapshot["master"], *snapshot["workers"]]
    total_rss = sum(process["rss"] for process in processes)
    have_pss = all(process["pss"] is not None for process in processes)
    total_pss = sum(process["pss"] for process in processes) if have_pss else None
    summary = {**snapshot, "total_rss": total_rss, "total_pss": total_pss}
    summary["headroom_pss"] = dyno - total_pss if have_pss else None
    summary["headroom_rss"] = dyno - total_rss
    uss = [process["uss"] for process in snapshot["workers"]]
    if have_pss and all(value is not None for value in uss):
        summary["added_per_worker"] = max(uss)
    return summary


def print_memory(snapshots, n_workers):
    print(f"\nMemory (MiB): gunicorn master and its {n_workers} workers (the default count), 512 MiB dyno")
    rows = []
    for label, snapshot in snapshots.items():
        processes = [("master", snapshot["master"])] + [
            (f"worker {i + 1}", worker) for i, worker in enumerate(snapshot["workers"])
        ]
        for role, process in processes:
            rows.append((label, role, process["pid"], mib(process["rss"]), mib(process["pss"]), mib(process["uss"])))
        rows.append((label, "total", "", mib(snapshot["total_rss"]), mib(snapshot["total_pss"]), ""))
        rows.append((label, "headroom", "", mib(snapshot["headroom_rss"]), mib(snapshot["headroom_pss"]), ""))
    print(format_table(("when", "process", "pid", "RSS", "PSS", "USS"), rows))
    print(
        "  RSS counts the pages workers share with the master (preload_app) once per process;\n"
        "  PSS shares them out, so the PSS total is what the dyno really holds; USS is what a\n"
        "  worker holds alone, roughly what one more worker would add."
    )


def mib(value):
    return "–" if value is None else f"{value / MIB:.1f}"


# ---- Install size -------------------------------------------------------------


def requirement_names(path):
    """Return the names of the packages a requirements file lists."""
    names = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(Requirement(line).name)
    return names


def runtime_distributions(names):
    """Return the installed distributions of `names` and of everything they require, recursively."""
    seen = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        distribution = importlib.metadata.distribution(name)
        seen[key] = distribution
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return seen


def installed_size(distribution):
    """Return the bytes of the files a distribution's RECORD lists (its .pyc files included)."""
    total = 0
    for file in distribution.files or []:
        path = Path(distribution.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def install_size_from_metadata(requirements=PROJECT_ROOT / "requirements.txt"):
    """Measure the run-time packages already installed in this interpreter's environment."""
    distributions = runtime_distributions(requirement_names(requirements))
    sizes = {distribution.metadata["Name"]: installed_size(distribution) for distribution in distributions.values()}
    return {
        "method": f"importlib.metadata RECORD files of {requirements.name} and its dependencies, in {sys.prefix}",
        "total_bytes": sum(sizes.values()),
        "packages": dict(sorted(sizes.items(), key=lambda item: -item[1])),
    }


def directory_size(path):
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file() and not file.is_symlink())


def install_size_from_venv(requirements=PROJECT_ROOT / "requirements.txt"):
    """Install the requirements into a temporary venv (pip's configured index) and measure site-packages."""
    with tempfile.TemporaryDirectory(prefix="bench-venv-") as folder:
        venv.create(folder, with_pip=True)
        python = Path(folder) / "bin" / "python"
        started = time.perf_counter()
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements],
            check=True,
        )
        seconds = time.perf_counter() - started
        site_packages = next(Path(folder).glob("lib/python*/site-packages"))
        pip_size = sum(
            directory_size(path) for path in site_packages.iterdir() if path.name.lower().startswith(("pip", "setuptools"))
        )
        return {
            "method": "pip install -r requirements.txt into a temporary venv; du of site-packages without pip and setuptools",
            "total_bytes": directory_size(site_packages) - pip_size,
            "pip_install_s": seconds,
        }


def print_install_size(size):
    print(f"\nInstall size of the run-time requirements: {size['total_bytes'] / MIB:.1f} MiB")
    print(f"  ({size['method']})")
    if "packages" in size:
        rows = [(name, f"{value / MIB:.1f}") for name, value in size["packages"].items()]
        print(format_table(("package", "MiB"), rows))

