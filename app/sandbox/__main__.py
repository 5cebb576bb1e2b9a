"""`python -m app.sandbox`: the sandbox on 127.0.0.1:SANDBOX_PORT (5001), until Ctrl-C.

One process keeps the in-memory state whole. It runs under gunicorn's threaded worker (one
process, many threads, kept-alive connections), because werkzeug's development server closes
every connection: each send then costs a TCP handshake and a new thread, and the sandbox, not
the service, would cap the send rate. The threads also let a held `timeout` answer or a slow
webhook not block other requests. Without gunicorn (it is in requirements.txt) it falls back
to werkzeug. Its access log is quiet by default; SANDBOX_ACCESS_LOG=1 prints a line per
request.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from app.sandbox import config_from_env, create_app

THREADS = 32


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="sandbox: %(message)s")
    # Access lines (one per request) drown the other processes' logs under honcho: off unless
    # SANDBOX_ACCESS_LOG=1. Warnings and errors still show.
    access_log = os.environ.get("SANDBOX_ACCESS_LOG", "").strip().lower() in ("1", "true", "yes")
    logging.getLogger("werkzeug").setLevel(logging.INFO if access_log else logging.WARNING)
    settings = config_from_env()  # generated keys are made once, here, and shared with the app
    port = int(os.environ.get("SANDBOX_PORT") or 5001)
    print(
        f"Telefonie sandbox on http://127.0.0.1:{port}/v1/sms; inbound goes to {settings['INBOUND_URL']}",
        flush=True,
    )
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # pragma: no cover - gunicorn is a pinned requirement
        from werkzeug.serving import run_simple

        try:
            run_simple("127.0.0.1", port, create_app(settings), threaded=True)
        except KeyboardInterrupt:
            pass
        return

    class Server(BaseApplication):
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": f"127.0.0.1:{port}",
                "workers": 1,  # the state is in memory: exactly one process
                "worker_class": "gthread",
                "threads": THREADS,
                "keepalive": 30,
                "timeout": 120,
                "graceful_timeout": 5,
                "accesslog": "-" if access_log else None,
                "errorlog": "-",
                "loglevel": "warning",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app(settings)

    Server().run()


if __name__ == "__main__":
    main()
