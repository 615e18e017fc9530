"""Gunicorn settings for Heroku and local production runs.

Gunicorn reads this file from the working directory before it imports the
app, so the thread limits below apply before NumPy loads its BLAS.
"""

import ctypes
import ctypes.util
import os

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""One BLAS thread per worker: workers already use every core, and a thread
pool per worker fighting over the same cores made /predict several times slower."""

for variable in BLAS_THREAD_VARIABLES:
    os.environ.setdefault(variable, "1")

MALLOC_ARENAS = 2
"""glibc malloc arenas for the whole process.

By default glibc gives threads up to eight arenas per core, and each keeps
the peak of what its threads allocated: with 64 threads a worker's resident
size kept growing under load (+13% over two minutes of bench.load). Two
arenas bound it. Set through mallopt here, because the MALLOC_ARENA_MAX
variable is read when the process starts, before this file runs.
"""

M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit, from glibc's malloc.h."""

_libc = ctypes.CDLL(ctypes.util.find_library("c"))
if hasattr(_libc, "mallopt"):
    _libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
preload_app = True

# Slow clients. A gthread worker reads each request body in one of its
# threads, and Heroku's router does not promise to buffer a slow upload (its
# 30 s timeout starts only once the whole request has reached the dyno). With 4
# threads a worker, 8 clients sending a byte a second took every thread and
# all other requests waited behind them. A thread waiting on a socket costs
# little memory and no CPU, so each worker has 64: 50 slow clients, even all
# on one worker, leave threads for everyone else. The app stops reading a
# body after UPLOAD_TIMEOUT_SECONDS (408), so slow clients give their
# threads back. An idle connection holds a thread 5 s at most, then waits in
# the worker's poller. Not covered: gunicorn reads the request headers in a
# thread with no time limit, so more slow clients than threads can still
# starve the dyno; only a buffering proxy (nginx) or an event-loop worker
# would stop that, as gunicorn's deployment notes say.
# Memory: a 4-megapixel upload takes about 90 MB while it is decoded, so
# app/api.py lets only CONCURRENT_DECODES (2) images a worker be decoded at once.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "64"))

# `timeout` is the worker heartbeat: gthread's main loop beats while threads
# wait, so it kills only a worker that is truly stuck (e.g. in C code), and
# Heroku's router gives up on a request after 30 s anyway.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10

# Request line and headers are refused by gunicorn itself, before the app:
# over 4094 bytes of request line gives 414, over 100 header fields or one
# over 8190 bytes gives 431 (the defaults, stated here so they are seen).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# One line per request on stdout, where Heroku collects it. The request
# line holds the path and query only, never the body, so no image data is
# logged; the request id ties a line to Heroku's router log.
accesslog = "-"
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
    "%(M)sms request_id=%({x-request-id}i)s"
)
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
