"""The few places SQLite and PostgreSQL differ for the views' SQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb


class SQLiteDialect:
    name = "sqlite"

    @staticmethod
    def sql(statement: str) -> str:
        return statement

    @staticmethod
    def value(value: Any) -> Any:
        if isinstance(value, datetime):
            # Fixed width so that text order is time order.
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"), sort_keys=True)
        return value

    @staticmethod
    def json_column(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @staticmethod
    def tag_filter() -> str:
        return "EXISTS (SELECT 1 FROM json_each(recordings.tags) AS t WHERE t.key = ? AND t.value = ?)"

    @staticmethod
    def tag_params(key: str, value: str) -> list[Any]:
        return [key, value]


class PostgresDialect:
    name = "postgresql"

    @staticmethod
    def sql(statement: str) -> str:
        return statement.replace("?", "%s")

    @staticmethod
    def value(value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return Jsonb(value)
        return value

    @staticmethod
    def json_column(value: Any) -> Any:
        return value

    @staticmethod
    def tag_filter() -> str:
        return "recordings.tags @> ?"  # served by the GIN index

    @staticmethod
    def tag_params(key: str, value: str) -> list[Any]:
        return [Jsonb({key: value})]


Dialect = SQLiteDialect | PostgresDialect
