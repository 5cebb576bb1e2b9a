"""gunicorn settings for `web`: threads per worker, JSON-friendly logs, graceful restarts."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# Sizing (measured with `python -m bench webhooks`, wrk at 32 connections, on 2 cores shared with
# PostgreSQL; see bench/RESULTS.md):
# - workers = one per core. A webhook is two round trips (one statement, the commit) and ~1 ms of
#   Python; the Python part holds the GIL, so only processes add CPU, and PostgreSQL needs the
#   same cores. The old 2 x cores + 1 (5 here) added context switches and connections, not
#   throughput: 2 x 8 gave the most req/s of 2x8, 3x4, 4x4, 5x4 and 3x8 in one sweep (noisy).
# - threads = 8 per worker: while one thread waits on PostgreSQL (most of a request's time)
#   others run; 16 requests in progress keep 2 cores and the database busy, and more threads
#   only queue on the GIL (3 x 8 was slower).
# - the SQLAlchemy pool (app.engine_options) holds `threads` connections plus a small overflow,
#   so no thread waits for a connection, and 2 workers stay far below max_connections.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 10000
max_requests_jitter = 500
accesslog = os.environ.get("GUNICORN_ACCESSLOG", None)
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Check the settings once in the master, so a missing one stops gunicorn with one line
    instead of workers failing to boot over and over."""
    import sys

    from app import config

    try:
        config.validate(config.load())
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
