"""Applies the SQL migrations in ``migrations/`` with yoyo, per engine."""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import quote

import structlog
from psycopg.conninfo import conninfo_to_dict
from yoyo import get_backend, read_migrations

from adapters.settings import Settings

log = structlog.get_logger(__name__)


def _yoyo_url(settings: Settings) -> str:
    if not settings.uses_postgres:
        settings.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{settings.sqlite_file.resolve()}"
    # Accepts a postgresql:// URL or a libpq "key=value" string, like psycopg does.
    info = conninfo_to_dict(settings.migration_url or "")
    credentials = quote(str(info.get("user", "")), safe="")
    if info.get("password"):
        credentials += ":" + quote(str(info["password"]), safe="")
    host = f"{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}"
    return f"postgresql+psycopg://{credentials}@{host}/{quote(str(info.get('dbname', '')), safe='')}"


def migrations_dir(settings: Settings) -> str:
    engine = "postgresql" if settings.uses_postgres else "sqlite"
    return str(files("migrations").joinpath(engine))


def migrate(settings: Settings) -> list[str]:
    """Applies what is pending; returns the ids applied (empty when up to date)."""
    backend = get_backend(_yoyo_url(settings))
    migrations = read_migrations(migrations_dir(settings))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    if applied:
        log.info("migrations applied", migrations=applied)
    return applied
