"""Applies the SQL migrations in ``migrations/`` with yoyo, per engine."""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import urlsplit, urlunsplit

from yoyo import get_backend, read_migrations

from adapters.settings import Settings


def _yoyo_url(settings: Settings) -> str:
    if not settings.uses_postgres:
        settings.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{settings.sqlite_file.resolve()}"
    url = urlsplit(settings.migration_url or "")
    if url.scheme not in {"postgres", "postgresql", "postgresql+psycopg"}:
        raise ValueError("CALLVAULT_DATABASE_URL must be a postgresql:// URL")
    return urlunsplit(url._replace(scheme="postgresql+psycopg"))


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
    return [m.id for m in pending]
