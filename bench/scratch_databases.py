"""Throwaway PostgreSQL databases: a fresh one per benchmark run, and one per test (tests/conftest.py).

Benchmarks run as scripts (``python bench/ingest.py``), whose own folder is on
the import path, so they import this module as ``scratch_databases``; the tests,
run from the checkout's root, import the same file as ``bench.scratch_databases``.
"""

from __future__ import annotations

import uuid

import psycopg
from psycopg.conninfo import make_conninfo

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def create_scratch_database(admin_url: str, prefix: str = "callvault_bench") -> tuple[str, str]:
    """Returns (name, connection string) of a new, empty database on the server of ``admin_url``."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, make_conninfo(admin_url, dbname=name)


def drop_scratch_database(admin_url: str, name: str) -> None:
    """Drops the database even while connections to it remain (a failed run may leave some)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
