"""cache notify: rules, settings and consent keywords announce their changes (PostgreSQL only)

Every process caches the compiled rules, the settings and the consent keywords. Statement-level
triggers send `NOTIFY cache_changed, '<table>'` when a change to one of those tables commits,
whoever makes it (admin, API, YAML import, plain SQL), and app/cachebus.py's listener thread
in each process drops its copy at once. SQLite has no NOTIFY: its caches keep their short
time-to-live. No table changes, so the models are untouched.

Revision ID: 0009
Revises: 0003
Create Date: 2026-11-29 03:40:00
"""

from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("rules", "settings", "consent_keywords")


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION notify_cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('cache_changed', TG_TABLE_NAME);
            RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_cache_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION notify_cache_changed()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_cache_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS notify_cache_changed()")
