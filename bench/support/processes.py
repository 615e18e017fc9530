"""The server's processes as the benchmarks measure them: gunicorn's workers, their CPU time and memory.

psutil reads what the kernel keeps for each process (on Linux, /proc), so
these figures need no root and no parsing of our own.
"""

import time

import psutil

MIB = 1024 * 1024

WORKER_POLL_S = 0.05


def child_pids(pid):
    """Return the ids of the processes whose parent is `pid` (gunicorn's workers), sorted."""
    try:
        return sorted(child.pid for child in psutil.Process(pid).children())
    except psutil.NoSuchProcess:
        return []


def process_cpu_seconds(pid):
    """Return the user plus system CPU time a process has used, in seconds."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def processes_cpu_seconds(pids):
    """Return the CPU seconds the processes `pids` have used, together."""
    return sum(process_cpu_seconds(pid) for pid in pids)


def process_memory(pid):
    """Return {"rss", "pss", "uss"} of a process in bytes (PSS and USS None where unreadable).

    RSS counts every page the process maps, including those it shares with
    gunicorn's master after the fork (preload_app); PSS divides shared pages
    among the processes that share them, so the PSS of all of a dyno's
    processes adds up to what they really use; USS counts only the pages
    the process alone holds, what one more worker would add.
    """
    process = psutil.Process(pid)
    memory = {"rss": process.memory_info().rss, "pss": None, "uss": None}
    try:
        full = process.memory_full_info()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return memory
    memory["pss"] = getattr(full, "pss", None)
    memory["uss"] = full.uss
    return memory


def wait_for_workers(master_pid, n_workers, timeout=30):
    """Wait until gunicorn's master has `n_workers` children; return their ids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = child_pids(master_pid)
        if len(workers) >= n_workers:
            return workers
        time.sleep(WORKER_POLL_S)
    raise RuntimeError(f"gunicorn has {len(child_pids(master_pid))} workers, expected {n_workers}")
