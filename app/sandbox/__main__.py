"""`python -m app.sandbox`: the sandbox on 127.0.0.1:SANDBOX_PORT (5001), until Ctrl-C.

Its access log is quiet by default; SANDBOX_ACCESS_LOG=1 prints a line per request.

werkzeug's threaded server is enough: one process keeps the in-memory state whole, and the
threads let a held `timeout` answer or a slow webhook not block other requests.
"""

from __future__ import annotations

import logging
import os

from werkzeug.serving import run_simple

from app.sandbox import create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="sandbox: %(message)s")
    # werkzeug's access lines (one per request, coloured) drown the other processes' logs under
    # honcho: off unless SANDBOX_ACCESS_LOG=1. Warnings and errors still show.
    access_log = os.environ.get("SANDBOX_ACCESS_LOG", "").strip().lower() in ("1", "true", "yes")
    logging.getLogger("werkzeug").setLevel(logging.INFO if access_log else logging.WARNING)
    app = create_app()
    port = int(os.environ.get("SANDBOX_PORT") or 5001)
    inbound = app.config["INBOUND_URL"]
    print(f"Telefonie sandbox on http://127.0.0.1:{port}/v1/sms; inbound goes to {inbound}", flush=True)
    try:
        run_simple("127.0.0.1", port, app, threaded=True)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
