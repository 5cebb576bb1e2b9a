"""The SMS conversation service: create_app() reads like a table of contents."""

from __future__ import annotations

import os

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from app import config as config_module
from app.extensions import csrf, db, login_manager

WEBHOOK_PREFIX = "/webhooks/"


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config_module.INSTANCE))
    settings = config_module.load()
    if test_config:
        settings.update(test_config)
    config_module.validate(settings)
    configure(app, settings)
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_logging(app)
    if settings.get("PROXY_COUNT"):
        # Behind N reverse proxies: trust their X-Forwarded-* so remote_addr is the client's.
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = int(settings["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    return app


def configure(app: Flask, settings: dict) -> None:
    app.config.update(settings)
    app.config["SQLALCHEMY_DATABASE_URI"] = settings["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(settings["DATABASE_URL"]))
    app.config["MAX_CONTENT_LENGTH"] = settings.get("MAX_CONTENT_LENGTH", 1024 * 1024)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings["APP_ENV"] == "production"
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.session_interface = WebhookFreeSessions()


class WebhookFreeSessions(SecureCookieSessionInterface):
    """The provider's webhooks carry no cookie and need no session: they get Flask's null session
    (reading it is empty, writing to it raises) without parsing a cookie or building a signer,
    which was about 0.1 ms of each webhook's ~1.5 ms of Python (bench/RESULTS.md)."""

    def open_session(self, app: Flask, request):
        if request.path.startswith(WEBHOOK_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15, "check_same_thread": False}}
    # No pre-ping: it is one more round trip per request (measured +0.18 ms median on a 1 ms
    # checkout + INSERT + commit, ~18%). A connection the database closed (restart, terminated
    # backend) fails once; SQLAlchemy then drops every older connection of the pool, webhooks
    # retry once on a fresh one, other requests answer 503 + Retry-After (app.errors).
    # pool_size covers gunicorn's threads (8, gunicorn.conf.py) so no thread waits for one.
    size = int(os.environ.get("DB_POOL_SIZE", "10"))
    return {"pool_recycle": 1800, "pool_size": size, "max_overflow": 5, "pool_timeout": 5}


def register_extensions(app: Flask) -> None:
    from app import db_events, publish  # noqa: F401  (publish: its session hooks)
    from app.errors import register_storage_errors

    db.init_app(app)
    register_storage_errors(app)  # a database restart answers 503 + Retry-After, never 500
    csrf.init_app(app)
    login_manager.init_app(app)
    with app.app_context():
        db_events.install(db.engine)


def register_blueprints(app: Flask) -> None:
    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.ops import bp as ops_bp
    from app.webhooks import bp as webhooks_bp

    app.register_blueprint(ops_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    csrf.exempt(webhooks_bp)
    csrf.exempt(api_bp)


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)


def register_logging(app: Flask) -> None:
    from app.logging import setup

    setup(app)
