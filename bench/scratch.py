"""A throwaway PostgreSQL database for one benchmark run."""

from __future__ import annotations

import uuid

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def create_scratch_database(admin_url: str) -> tuple[str, str]:
    """Returns (name, connection string) of a new, empty database."""
    name = f"callvault_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, make_conninfo(**{**conninfo_to_dict(admin_url), "dbname": name})


def drop_scratch_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
