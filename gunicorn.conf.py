"""gunicorn settings for `web`: threads per worker, JSON-friendly logs, graceful restarts."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# Sizing (measured with `python -m bench webhooks`, wrk at 32 connections, on 2 cores shared with
# PostgreSQL; see bench/RESULTS.md):
# - workers = one per core. A plain webhook is one self-committing statement and ~1 ms of
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
# gunicorn's control socket defaults to one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn/
# gunicorn.ctl), so two checkouts or test stacks would fight over it: off unless a path is given.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]


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


# Prometheus multiprocess mode: every worker writes its counters to files in one directory, so a
# scrape answered by any worker shows the sum over all of them (app/metrics.py). Set before the
# workers import the app; a fresh directory per start so old workers' files never count.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sms-metrics-")


def post_worker_init(worker):
    """Fill the worker's caches (rule index, settings, consent keywords) and start its change
    listener before it accepts a request: a cold worker's first burst had every thread build the
    rule index at once (app/warm.py)."""
    from flask import Flask

    if isinstance(worker.wsgi, Flask):
        from app.warm import warm

        warm(worker.wsgi)


def child_exit(server, worker):
    """A dead worker's live gauges are dropped; its counters stay in the sum."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
