"""The few places SQLite and PostgreSQL differ for the views' SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads

# Upserts of at least this many rows are staged (PostgresDialect.stages_upserts).
STAGE_FROM_ROWS = 64

# msgspec writes and reads JSON several times faster than the json module psycopg uses by
# default (a page of 50 recordings with four JSON columns: 1.7 -> 1.0 ms to fetch).
set_json_dumps(msgspec.json.encode)
set_json_loads(msgspec.json.decode)


class SQLiteDialect:
    name = "sqlite"
    # A transaction's reads already share one snapshot (WAL mode: from its first read on).
    one_snapshot: str | None = None

    @staticmethod
    def sql(statement: str) -> str:
        return statement

    @staticmethod
    def value(value: Any) -> Any:
        if isinstance(value, datetime):
            # Fixed width (isoformat pads the year) so that text order is time order.
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"), sort_keys=True)
        return value

    @classmethod
    def row_params(cls, values: tuple[Any, ...], json_positions: tuple[int, ...]) -> list[Any]:
        """A row's values as parameters (``json_positions``: where its JSON columns are)."""
        return [cls.value(v) for v in values]

    @staticmethod
    def json_column(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @classmethod
    def insert_many(cls, cursor: Any, table: str, columns: Sequence[str], rows: list[list[Any]]) -> None:
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    @staticmethod
    def empty(tables: Sequence[str]) -> list[str]:
        """Statements that empty the tables (in the caller's transaction)."""
        return [f"DELETE FROM {table}" for table in tables]

    @staticmethod
    def staging(table: str) -> str:
        return table  # never staged: see stages_upserts

    @staticmethod
    def stages_upserts(rows: int) -> bool:
        """Whether to stage upserted rows in a table first (SQLite's statements cost no round trips)."""
        return False

    @staticmethod
    def stage(cursor: Any, table: str, columns: Sequence[str], rows: list[list[Any]]) -> None:
        raise NotImplementedError("SQLite upserts row by row")

    @staticmethod
    def tag_filter() -> str:
        return "EXISTS (SELECT 1 FROM json_each(recordings.tag_refs) AS t WHERE t.key = ? AND t.value = ?)"

    @staticmethod
    def tag_params(key: str, value: str) -> list[Any]:
        return [key, value]


class PostgresDialect:
    name = "postgresql"
    # READ COMMITTED gives each statement of a transaction a snapshot of its own.
    one_snapshot: str | None = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

    @staticmethod
    def sql(statement: str) -> str:
        return statement.replace("?", "%s")

    @staticmethod
    def value(value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return Jsonb(value)
        return value

    @staticmethod
    def row_params(values: tuple[Any, ...], json_positions: tuple[int, ...]) -> list[Any]:
        """A row's values as parameters: psycopg adapts all but the JSON columns by itself."""
        params = list(values)
        for i in json_positions:
            params[i] = Jsonb(params[i])
        return params

    @staticmethod
    def json_column(value: Any) -> Any:
        return value

    @staticmethod
    def insert_many(
        cursor: Any, table: str, columns: Sequence[str], rows: list[list[Any]], *, shaped_as: str | None = None
    ) -> None:
        """COPY: one stream instead of a statement per row, several times faster. Binary, with the
        columns' types given, so psycopg packs each value by the column's type instead of
        formatting it as text (audit rows: 0.9 -> 0.5 s per 100,000). ``shaped_as``: a table of
        the same columns to take the types from (a staging table's original)."""
        types = _column_types(cursor, shaped_as or table, tuple(columns))
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    @staticmethod
    def empty(tables: Sequence[str]) -> list[str]:
        """One TRUNCATE (transactional here): no dead rows left in the tables and their indexes."""
        return [f"TRUNCATE {', '.join(tables)}"]

    @staticmethod
    def staging(table: str) -> str:
        return f"{table}_staged"

    @staticmethod
    def stages_upserts(rows: int) -> bool:
        """Many rows go faster by COPY into a staging table and one INSERT … SELECT … ON CONFLICT
        (twice as fast as pipelined INSERTs at 1000 recordings); a few (a request's own writes)
        are cheaper as they are, in one round trip."""
        return rows >= STAGE_FROM_ROWS

    @classmethod
    def stage(cls, cursor: Any, table: str, columns: Sequence[str], rows: list[list[Any]]) -> None:
        """Puts the rows into this session's staging table for ``table``, emptied when the transaction ends."""
        staged = cls.staging(table)
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staged} (LIKE {table}) ON COMMIT DELETE ROWS")
        cls.insert_many(cursor, staged, columns, rows, shaped_as=table)

    @staticmethod
    def tag_filter() -> str:
        return "recordings.tag_refs @> ?"  # served by the GIN index

    @staticmethod
    def tag_params(key: str, value: str) -> list[Any]:
        return [Jsonb({key: value})]


_types: dict[tuple[str, tuple[str, ...]], list[int]] = {}


def _column_types(cursor: Any, table: str, columns: tuple[str, ...]) -> list[int]:
    """The type oids of a table's columns, asked once per process: the schema changes only by
    migrations, which run before the views write."""
    key = (table, columns)
    if key not in _types:
        cursor.execute(
            "SELECT attname, atttypid::int AS oid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [table],
        )
        oids = {row["attname"]: row["oid"] for row in map(dict, cursor.fetchall())}  # the views' cursors give dicts
        _types[key] = [oids[c] for c in columns]
    return _types[key]


Dialect = SQLiteDialect | PostgresDialect
