"""The baseline the webhooks are compared with: a bare Flask endpoint and one that does one INSERT.

Served by gunicorn with exactly the service's settings (`gunicorn bench.baseline_app:app`), it uses
Flask-SQLAlchemy with the service's own pool settings (app.engine_options), so the only difference
from the webhook endpoints is the work the service does per request.

- POST /bare: reads the body, answers 204.
- POST /insert: one INSERT … ON CONFLICT DO NOTHING of the body into bench_rows, commit, 204.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

from app import engine_options

TABLE_DDL = ("CREATE TABLE IF NOT EXISTS bench_rows "
             "(id serial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")

db = SQLAlchemy()


def create_app(url: str | None = None) -> Flask:
    app = Flask(__name__)
    url = url or os.environ["DATABASE_URL"]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    db.init_app(app)

    @app.post("/bare")
    def bare() -> Response:
        request.get_data()
        return Response(status=204)

    @app.post("/insert")
    def insert() -> Response:
        db.session.execute(text("INSERT INTO bench_rows (body) VALUES (:body) ON CONFLICT DO NOTHING"),
                           {"body": request.get_data(as_text=True)})
        db.session.commit()
        return Response(status=204)

    @app.get("/ready")
    def ready() -> Response:
        return Response(status=204)

    return app


app = create_app() if os.environ.get("DATABASE_URL") else None
