"""Searches the raw bytes a deployment leaves on disk: what must never be there in clear is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg

from adapters.settings import Settings


def database_files(settings: Settings) -> Iterator[Path]:
    """Every file that holds this database's data: the SQLite file and its journal, or the
    PostgreSQL database's relation files and the whole write-ahead log."""
    if not settings.database_url:
        yield from Path(settings.sqlite_path).parent.glob(Path(settings.sqlite_path).name + "*")
        return
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        data = Path(conn.execute("SHOW data_directory").fetchone()[0])
        relations = conn.execute(
            "SELECT pg_relation_filepath(oid) FROM pg_class WHERE pg_relation_filepath(oid) IS NOT NULL"
        ).fetchall()
    for (relative,) in relations:
        yield from data.glob(relative + "*")  # main fork, segments, free-space and visibility maps
    yield from (data / "pg_wal").glob("0*")


def raw_hits(paths: Iterator[Path], needles: list[bytes]) -> list[tuple[str, bytes]]:
    hits = []
    for path in paths:
        if path.is_file():
            body = path.read_bytes()
            hits += [(str(path), n) for n in needles if n in body]
    return hits
