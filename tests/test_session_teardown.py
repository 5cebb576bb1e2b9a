"""The end of a request on a connection the database closed meanwhile (a restart, a terminated
backend): the session's closing ROLLBACK fails after the answer was made; that must not become
a 500 (the suite under load caught one in tests/e2e/test_db_restart.py)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from app.extensions import db
from tests.conftest import wait_until


def test_a_lost_connection_at_the_end_of_a_request_is_not_an_error(app, caplog):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("terminating a backend needs PostgreSQL")
        dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with app.test_request_context("/api/v1/messages"):
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()  # a transaction is open
        with psycopg.connect(dsn, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
            gone = "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)"
            assert wait_until(lambda: admin.execute(gone, (pid,)).fetchone()[0])
        app.do_teardown_appcontext()  # what Flask runs after the view: must not raise
    assert "ending a session on a lost connection" in caplog.text
    with app.app_context():  # and the pool hands out a working connection afterwards
        assert db.session.execute(text("SELECT 1")).scalar() == 1
        db.session.remove()
