"""Gunicorn settings for Heroku and local production runs.

Gunicorn reads this file from the working directory before it imports the
app, so the thread limits below apply before NumPy loads its BLAS.
"""

import os

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""One BLAS thread per worker: workers already use every core, and a thread
pool per worker fighting over the same cores made /predict several times slower."""

for variable in BLAS_THREAD_VARIABLES:
    os.environ.setdefault(variable, "1")

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
preload_app = True
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
