"""Reads and writes the views, with the tracking position in the same transaction.

A batch of view changes and the log position it came from commit together or
not at all, so a follower killed at any point resumes exactly where the view
stands: no event is applied twice or skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.persistence import IntegrityError, TrackingRecorder

from adapters.merkle_nodes import MerkleNodeRow, read_node_hashes
from adapters.read_cursor import read_cursor, write_cursor
from adapters.report_queries import REPORT_SQL, ReportQuery
from adapters.sql_dialect import Dialect
from adapters.view_queries import audit_matching, recordings_page
from adapters.view_rows import (
    AuditQuery,
    AuditRow,
    EvaluationFormRow,
    EvaluationQuery,
    EvaluationRow,
    LeafRow,
    RecordingQuery,
    RecordingRow,
    ResponsibilityRow,
    TeamRow,
    UserRow,
    ViewRow,
)
from domain.transparency.tree_nodes import Node

R = TypeVar("R", bound=ViewRow)

# Each upserted row type: its table and key columns.
ROW_TABLES: dict[type[ViewRow], tuple[str, tuple[str, ...]]] = {
    RecordingRow: ("recordings", ("recording_id",)),
    UserRow: ("users", ("user_id",)),
    TeamRow: ("teams", ("team_id",)),
    ResponsibilityRow: ("responsibilities", ("team_id", "user_id")),
    EvaluationRow: ("evaluations", ("recording_id", "evaluation_id")),
    EvaluationFormRow: ("evaluation_forms", ("form_id",)),
}
# Each appended (insert-only) row type: its table.
APPEND_TABLES: dict[type[ViewRow], str] = {
    AuditRow: "audit_trail",
    LeafRow: "log_leaves",
    MerkleNodeRow: "merkle_nodes",
}
# Which tables a view owns, for rebuilds.
VIEW_TABLES = {
    "recordings": ("recordings",),
    "audit_trail": ("audit_trail",),
    "directory": ("users", "teams", "responsibilities"),
    "log_leaves": ("log_leaves", "merkle_nodes"),
    "evaluations": ("evaluations", "evaluation_forms"),
}
_JSON_COLUMNS = {"missing_segments", "hold_cases", "tag_refs", "tags_sealed", "detail"}
MAX_PAGE = 1000


def _by_type(rows: Sequence[ViewRow]) -> dict[type[ViewRow], list[ViewRow]]:
    grouped: defaultdict[type[ViewRow], list[ViewRow]] = defaultdict(list)
    for row in rows:
        grouped[type(row)].append(row)
    return grouped


def _columns(row_type: type[ViewRow]) -> tuple[str, ...]:
    return row_type.__struct_fields__


def _by_name(sql: str, row_type: type[ViewRow]) -> str:
    """The statement's outermost ``SELECT *`` as the row type's columns, by name.

    Reads are prepared (adapters/read_cursor.py), and PostgreSQL refuses to run a statement
    prepared with ``*`` once a migration has added a column to its table ("cached plan must not
    change result type"): a server still running would fail every such read until restarted.
    Named, the result keeps its shape and PostgreSQL just plans the statement again.
    """
    return sql.replace("SELECT *", f"SELECT {', '.join(_columns(row_type))}", 1)


@cache
def _changed_mark(view: str) -> str:
    """The tracking row that holds where the view's rows last changed (beside its position's row)."""
    return f"{view}.changed"


def _json_positions(row_type: type[ViewRow]) -> tuple[int, ...]:
    return tuple(i for i, column in enumerate(_columns(row_type)) if column in _JSON_COLUMNS)


class ViewStore:
    def __init__(self, tracking: TrackingRecorder, dialect: Dialect) -> None:
        self._tracking = tracking
        self._datastore: Any = tracking.datastore  # type: ignore[attr-defined]
        self._dialect = dialect
        self._upserts = {row_type: self._upsert_sql(row_type) for row_type in ROW_TABLES}
        self._merges = {
            row_type: self._upsert_sql(row_type, dialect.staging(ROW_TABLES[row_type][0])) for row_type in ROW_TABLES
        }

    # -- writing ---------------------------------------------------------

    def position(self, view: str) -> int:
        return self._tracking.max_tracking_id(view) or 0

    def positions(self, views: Sequence[str]) -> dict[str, int]:
        """The positions of several views in one query (0 for a view never applied)."""
        marks = ",".join("?" * len(views))
        sql = f"SELECT application_name, notification_id FROM tracking WHERE application_name IN ({marks})"
        with read_cursor(self._datastore) as cursor:
            cursor.execute(self._dialect.sql(sql), list(views))
            found = {row["application_name"]: row["notification_id"] for row in cursor.fetchall()}
        return {view: found.get(view, 0) for view in views}

    def commit(
        self,
        view: str,
        previous: int,
        position: int,
        *,
        upserts: Sequence[ViewRow] = (),
        appends: Sequence[ViewRow] = (),
        marks_change: bool = False,
    ) -> None:
        """A batch folded on the view as of ``previous``: its rows and its position, or nothing.

        With ``marks_change``, a batch that writes rows also records its position as the view's
        last change (``changed_at``), for readers that keep the whole view and re-read it only
        when it changed.
        """
        if not (upserts or appends):
            # Only the position moves (a batch of events the view takes nothing from, as most
            # views do a search's access record): the one statement needs no transaction block.
            with write_cursor(self._datastore) as cursor:
                self._advance(cursor, view, previous, position)
            return
        with self._datastore.transaction(commit=True) as cursor:
            for row_type, rows in _by_type(upserts).items():
                # In key order, so that two processes applying the same rows cannot deadlock.
                table, keys = ROW_TABLES[row_type]
                ordered = sorted(rows, key=lambda r: tuple(getattr(r, k) for k in keys))
                params = [self._params(r) for r in ordered]
                if self._dialect.stages_upserts(len(params)):
                    self._dialect.stage(cursor, table, _columns(row_type), params)
                    cursor.execute(self._merges[row_type])
                else:
                    cursor.executemany(self._upserts[row_type], params)
            for row_type, rows in _by_type(appends).items():
                self._dialect.insert_many(
                    cursor, APPEND_TABLES[row_type], _columns(row_type), [self._params(r) for r in rows]
                )
            if marks_change and (upserts or appends):
                cursor.execute(
                    self._dialect.sql(
                        "INSERT INTO tracking (application_name, notification_id) VALUES (?, ?) "
                        "ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id"
                    ),
                    [_changed_mark(view), position],
                )
            self._advance(cursor, view, previous, position)

    def changed_at(self, view: str) -> int:
        """The position of the last batch that changed the view's rows (0: none since it was emptied),
        for a view whose batches say so (``marks_change``)."""
        return self.positions([_changed_mark(view)])[_changed_mark(view)]

    def _advance(self, cursor: Any, view: str, previous: int, position: int) -> None:
        """Moves the view from ``previous`` to ``position``, or refuses if another applier moved it first.

        Moving forward is not enough: a batch folded on rows read after another process
        committed an overlapping batch would apply those events twice. The update waits
        for a concurrent one on the same row and then finds the position changed.
        """
        if previous == 0:  # the view's first batch, or its first after a rebuild emptied it
            sql = (
                "INSERT INTO tracking (application_name, notification_id) VALUES (?, ?) "
                "ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id "
                "WHERE tracking.notification_id = 0 RETURNING notification_id"
            )
            params: list[Any] = [view, position]
        else:
            sql = (
                "UPDATE tracking SET notification_id = ? WHERE application_name = ? AND notification_id = ? "
                "RETURNING notification_id"
            )
            params = [position, view, previous]
        cursor.execute(self._dialect.sql(sql), params)
        if not cursor.fetchall():
            raise IntegrityError(f"view {view} moved on from {previous} meanwhile: batch to {position} refused")

    def reset(self, view: str) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            # The tables before the position: a follower's batch takes its rows' locks before
            # the tracking row's, so the two wait for each other in one order, never a cycle.
            for statement in self._dialect.empty(VIEW_TABLES[view]):
                cursor.execute(statement)
            cursor.execute(
                self._dialect.sql("DELETE FROM tracking WHERE application_name IN (?, ?)"), [view, _changed_mark(view)]
            )

    # -- reading rows by key ---------------------------------------------

    def load(self, row_type: type[R], keys: Iterable[UUID]) -> dict[UUID, R]:
        """Rows of a single-key table by key."""
        table, (key,) = ROW_TABLES[row_type]
        ids = list(keys)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._select(row_type, f"SELECT * FROM {table} WHERE {key} IN ({marks})", ids)
        return {getattr(row, key): row for row in rows}

    def recording(self, recording_id: UUID) -> RecordingRow | None:
        return self.load(RecordingRow, [recording_id]).get(recording_id)

    def user_by_token(self, token_sha256: str) -> UserRow | None:
        rows = self._select(UserRow, "SELECT * FROM users WHERE token_sha256 = ? AND active = ?", [token_sha256, True])
        return rows[0] if rows else None

    def directory(self) -> tuple[list[UserRow], list[TeamRow], list[ResponsibilityRow]]:
        """The whole org chart: small, and read from one snapshot so it is consistent."""
        # Committed, not rolled back: psycopg forgets a connection's prepared statements at a ROLLBACK.
        with self._datastore.transaction(commit=True) as cursor:
            if self._dialect.one_snapshot:
                cursor.execute(self._dialect.one_snapshot)
            return (
                self._fetch(cursor, UserRow, "SELECT * FROM users ORDER BY name", []),
                self._fetch(cursor, TeamRow, "SELECT * FROM teams ORDER BY name", []),
                self._fetch(cursor, ResponsibilityRow, "SELECT * FROM responsibilities WHERE active = ?", [True]),
            )

    def leaf_count(self) -> int:
        # Indexes are gap-free from 0: the last one plus one, an index look-up (COUNT(*) scans them all).
        with read_cursor(self._datastore) as cursor:
            cursor.execute("SELECT COALESCE(MAX(leaf_index) + 1, 0) AS n FROM log_leaves")
            return int(dict(cursor.fetchone())["n"])

    def leaf_hashes(self, size: int) -> list[bytes]:
        """The first ``size`` leaf hashes, in index order (all the Merkle tree needs)."""
        with read_cursor(self._datastore) as cursor:
            cursor.execute(
                self._dialect.sql("SELECT leaf_hash FROM log_leaves WHERE leaf_index < ? ORDER BY leaf_index"), [size]
            )
            return [bytes(row[0] if not isinstance(row, dict) else row["leaf_hash"]) for row in cursor.fetchall()]

    def node_hashes(self, nodes: Collection[Node]) -> dict[Node, bytes]:
        """Stored hashes of Merkle nodes (level 0: leaves): the NodeReader of domain/transparency/stored_tree.py."""
        with read_cursor(self._datastore) as cursor:
            return read_node_hashes(cursor, self._dialect, nodes)

    def leaves_of(self, originator_id: UUID) -> list[LeafRow]:
        return self._select(
            LeafRow, "SELECT * FROM log_leaves WHERE originator_id = ? ORDER BY originator_version", [originator_id]
        )

    def audit_subjects(self, recording_ids: Iterable[UUID]) -> dict[UUID, tuple[str, str]]:
        """Interaction and customer of recordings already in the trail, from their first row."""
        ids = list(recording_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = self._dialect.sql(
            "SELECT recording_id, interaction_id, customer_ref FROM audit_trail "
            f"WHERE action = 'call_started' AND recording_id IN ({marks})"
        )
        with read_cursor(self._datastore) as cursor:
            cursor.execute(sql, [self._dialect.value(i) for i in ids])
            rows = [dict(r) for r in cursor.fetchall()]
        return {UUID(str(r["recording_id"])): (r["interaction_id"], r["customer_ref"]) for r in rows}

    # -- queries ---------------------------------------------------------

    def search(self, query: RecordingQuery) -> list[RecordingRow]:
        page = recordings_page(query, self._dialect, min(max(query.limit, 1), MAX_PAGE))
        if page is None:
            return []
        rows = self._select(RecordingRow, *page)
        for row in rows:
            cases = [f"{case} (query hold)" for case, hold in sorted(query.query_holds.items()) if hold.covers(row)]
            if cases:
                row.hold_cases = [*row.hold_cases, *cases]
                row.legal_hold = True
        return rows

    def capture_candidates(self, agent_id: str, ended_since: Any) -> list[RecordingRow]:
        """An agent's screen-recorded calls that are live, or whose ACW ended recently."""
        return self._select(
            RecordingRow,
            "SELECT * FROM recordings WHERE agent_id = ? AND screen_selected = ? "
            "AND (status IN ('active', 'paused', 'acw') OR acw_ended_at >= ?) ORDER BY started_at",
            [agent_id, True, ended_since],
        )

    def acw_open_since(self, ended_before: Any, limit: int = 500) -> list[RecordingRow]:
        """Recordings still in after-call work whose call ended before the given time."""
        return self._select(
            RecordingRow,
            "SELECT * FROM recordings WHERE status = 'acw' AND ended_at < ? ORDER BY ended_at LIMIT ?",
            [ended_before, limit],
        )

    def audit(self, query: AuditQuery) -> list[AuditRow]:
        where, params = audit_matching(query)
        return self._page(AuditRow, "audit_trail", where, params, "notification_id, item", query.limit)

    def report(self, name: str, query: ReportQuery) -> list[dict[str, Any]]:
        """The rows of one historical report's query (adapters/report_queries.py), as the engine
        answers them but for JSON columns, decoded."""
        sql, params = REPORT_SQL[name](query, self._dialect)
        with read_cursor(self._datastore) as cursor:
            cursor.execute(self._dialect.sql(sql), [self._dialect.value(p) for p in params])
            rows = [dict(row) for row in cursor.fetchall()]
        for row in rows:
            for column in _JSON_COLUMNS.intersection(row):
                row[column] = self._dialect.json_column(row[column])
        return rows

    def evaluations_of(self, recording_ids: Iterable[UUID]) -> list[EvaluationRow]:
        ids = list(recording_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        sql = f"SELECT * FROM evaluations WHERE recording_id IN ({marks}) ORDER BY recording_id, evaluation_id"
        return self._select(EvaluationRow, sql, ids)

    def evaluations(self, query: EvaluationQuery) -> list[EvaluationRow]:
        """Newest first; within the agents given (an empty set: none)."""
        where: list[str] = []
        params: list[Any] = []
        if query.agent_ids is not None:
            if not query.agent_ids:
                return []
            where.append(f"agent_id IN ({','.join('?' * len(query.agent_ids))})")
            params.extend(sorted(query.agent_ids))
        if query.after is not None:
            where.append("(submitted_at, recording_id, evaluation_id) < (?, ?, ?)")
            params.extend(query.after)
        order = "submitted_at DESC, recording_id DESC, evaluation_id DESC"
        return self._page(EvaluationRow, "evaluations", where, params, order, query.limit)

    def evaluation_forms(self) -> list[EvaluationFormRow]:
        return self._select(EvaluationFormRow, "SELECT * FROM evaluation_forms ORDER BY form_id", [])

    # -- plumbing --------------------------------------------------------

    def _page(
        self, row_type: type[R], table: str, where: list[str], params: list[Any], order: str, limit: int
    ) -> list[R]:
        sql = f"SELECT * FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order} LIMIT ?"
        return self._select(row_type, sql, [*params, min(max(limit, 1), MAX_PAGE)])

    def _select(self, row_type: type[R], sql: str, params: list[Any]) -> list[R]:
        with read_cursor(self._datastore) as cursor:
            return self._fetch(cursor, row_type, sql, params)

    def _fetch(self, cursor: Any, row_type: type[R], sql: str, params: list[Any]) -> list[R]:
        cursor.execute(self._dialect.sql(_by_name(sql, row_type)), [self._dialect.value(p) for p in params])
        return [self._row(row_type, dict(row)) for row in cursor.fetchall()]

    def _row(self, row_type: type[R], raw: dict[str, Any]) -> R:
        for column in _JSON_COLUMNS.intersection(raw):
            raw[column] = self._dialect.json_column(raw[column])
        return msgspec.convert(raw, row_type, strict=False)

    def _params(self, row: ViewRow) -> list[Any]:
        return self._dialect.row_params(msgspec.structs.astuple(row), _json_positions(type(row)))

    def _upsert_sql(self, row_type: type[ViewRow], staged: str | None = None) -> str:
        """Inserts or updates rows: given as parameters, or (``staged``) from a table holding them."""
        table, keys = ROW_TABLES[row_type]
        columns = _columns(row_type)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        names = ", ".join(columns)
        # Staged rows are taken in key order too, for the same reason as in commit.
        source = (
            f"VALUES ({', '.join('?' * len(columns))})"
            if staged is None
            else (f"SELECT {names} FROM {staged} ORDER BY {', '.join(keys)}")
        )
        return self._dialect.sql(
            f"INSERT INTO {table} ({names}) {source} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )
