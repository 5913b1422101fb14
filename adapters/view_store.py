"""Reads and writes the views, with the tracking position in the same transaction.

A batch of view changes and the log position it came from commit together or
not at all, so a follower killed at any point resumes exactly where the view
stands: no event is applied twice or skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.persistence import Tracking, TrackingRecorder

from adapters.sql_dialect import Dialect
from adapters.view_rows import AuditQuery, AuditRow, RecordingQuery, RecordingRow, ViewRow

R = TypeVar("R", bound=ViewRow)

# Which tables a view owns, for rebuilds.
VIEW_TABLES = {"recordings": ("recordings",), "audit_trail": ("audit_trail",)}
_JSON_COLUMNS = {"missing_segments", "hold_cases", "tags", "detail"}
MAX_PAGE = 1000


def _columns(row_type: type[ViewRow]) -> tuple[str, ...]:
    return row_type.__struct_fields__


class ViewStore:
    def __init__(self, tracking: TrackingRecorder, dialect: Dialect) -> None:
        self._tracking = tracking
        self._datastore: Any = tracking.datastore  # type: ignore[attr-defined]
        self._dialect = dialect
        self._upsert_recording = self._upsert_sql("recordings", _columns(RecordingRow), "recording_id")

    @property
    def dialect_name(self) -> str:
        return self._dialect.name

    # -- writing ---------------------------------------------------------

    def position(self, view: str) -> int:
        return self._tracking.max_tracking_id(view) or 0

    def commit(
        self,
        view: str,
        position: int,
        *,
        recordings: Sequence[RecordingRow] = (),
        audit: Sequence[AuditRow] = (),
    ) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            if recordings:
                cursor.executemany(self._upsert_recording, [self._params(r) for r in recordings])
            if audit:
                self._dialect.insert_many(cursor, "audit_trail", _columns(AuditRow), [self._params(r) for r in audit])
            # Refuses to move backwards: a second follower racing this one fails here.
            self._tracking._insert_tracking(cursor, Tracking(view, position))  # noqa: SLF001

    def reset(self, view: str) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            for table in VIEW_TABLES[view]:
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute(self._dialect.sql("DELETE FROM tracking WHERE application_name = ?"), [view])

    # -- reading ---------------------------------------------------------

    def load_recordings(self, recording_ids: Iterable[UUID]) -> dict[UUID, RecordingRow]:
        ids = list(recording_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._select(
            RecordingRow,
            f"SELECT * FROM recordings WHERE recording_id IN ({marks})",
            [self._dialect.value(i) for i in ids],
        )
        return {row.recording_id: row for row in rows}

    def audit_subjects(self, recording_ids: Iterable[UUID]) -> dict[UUID, tuple[str, str]]:
        """Interaction and customer of recordings already in the trail, from their first row."""
        ids = list(recording_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = self._dialect.sql(
            "SELECT recording_id, interaction_id, customer_id FROM audit_trail "
            f"WHERE action = 'call_started' AND recording_id IN ({marks})"
        )
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, [self._dialect.value(i) for i in ids])
            rows = [dict(r) for r in cursor.fetchall()]
        return {UUID(str(r["recording_id"])): (r["interaction_id"], r["customer_id"]) for r in rows}

    def recording(self, recording_id: UUID) -> RecordingRow | None:
        return self.load_recordings([recording_id]).get(recording_id)

    def search(self, query: RecordingQuery) -> list[RecordingRow]:
        where: list[str] = []
        params: list[Any] = []
        for column in ("agent_id", "customer_id", "queue", "direction", "status"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.started_from is not None:
            where.append("started_at >= ?")
            params.append(query.started_from)
        if query.started_until is not None:
            where.append("started_at < ?")
            params.append(query.started_until)
        for key, value in sorted(query.tags.items()):
            where.append(self._dialect.tag_filter())
            params.extend(self._dialect.tag_params(key, value))
        if query.missing_segments is not None:
            where.append("missing_count > 0" if query.missing_segments else "missing_count = 0")
        if query.legal_hold is not None:
            where.append("legal_hold = ?")
            params.append(query.legal_hold)
        if query.after is not None:
            started, recording_id = query.after
            where.append("(started_at < ? OR (started_at = ? AND recording_id < ?))")
            params.extend([started, started, recording_id])
        sql = "SELECT * FROM recordings"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, recording_id DESC LIMIT ?"
        params.append(min(max(query.limit, 1), MAX_PAGE))
        return self._select(RecordingRow, sql, [self._dialect.value(p) for p in params])

    def audit(self, query: AuditQuery) -> list[AuditRow]:
        where: list[str] = []
        params: list[Any] = []
        for column in ("actor", "recording_id", "action"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.since is not None:
            where.append("recorded_at >= ?")
            params.append(query.since)
        if query.until is not None:
            where.append("recorded_at < ?")
            params.append(query.until)
        if query.after is not None:
            where.append("notification_id > ?")
            params.append(query.after)
        sql = "SELECT * FROM audit_trail"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY notification_id LIMIT ?"
        params.append(min(max(query.limit, 1), MAX_PAGE))
        return self._select(AuditRow, sql, [self._dialect.value(p) for p in params])

    def count(self, view: str) -> int:
        (table,) = VIEW_TABLES[view]
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) AS n FROM {table}")
            return int(dict(cursor.fetchone())["n"])

    # -- plumbing --------------------------------------------------------

    def _select(self, row_type: type[R], sql: str, params: list[Any]) -> list[R]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(self._dialect.sql(sql), params)
            rows = cursor.fetchall()
        return [self._row(row_type, dict(row)) for row in rows]

    def _row(self, row_type: type[R], raw: dict[str, Any]) -> R:
        for column in _JSON_COLUMNS.intersection(raw):
            raw[column] = self._dialect.json_column(raw[column])
        return msgspec.convert(raw, row_type, strict=False)

    def _params(self, row: ViewRow) -> list[Any]:
        return [self._dialect.value(getattr(row, column)) for column in row.__struct_fields__]

    def _upsert_sql(self, table: str, columns: tuple[str, ...], key: str) -> str:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
        return self._dialect.sql(
            f"{self._insert_sql(table, columns)} ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )

    def _insert_sql(self, table: str, columns: tuple[str, ...]) -> str:
        marks = ", ".join("?" * len(columns))
        return self._dialect.sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})")
