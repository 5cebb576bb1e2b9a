"""Alembic environment: the URL comes from the app's settings (or -x url=... / DATABASE_URL)."""

from alembic import context
from sqlalchemy import create_engine, pool

import app.models  # noqa: F401  (registers every table on the metadata)
from app import config as app_config
from app.extensions import db

target_metadata = db.metadata

# Indexes that migrations create on PostgreSQL only and the models do not declare (trigram GIN
# indexes for the inbox search, migration 0002): autogenerate and `alembic check` skip them.
PG_ONLY_INDEXES = frozenset({"ix_messages_body_trgm", "ix_contacts_name_trgm", "ix_contacts_phone_trgm"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and reflected and compare_to is None and name in PG_ONLY_INDEXES)


def database_url() -> str:
    x = context.get_x_argument(as_dictionary=True)
    if x.get("url"):
        return x["url"]
    cfg_url = context.config.get_main_option("sqlalchemy.url")
    if cfg_url:
        return cfg_url
    url = app_config.load().get("DATABASE_URL")
    if not url:
        raise SystemExit("error: missing required setting DATABASE_URL (set it in the environment)")
    return url


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
