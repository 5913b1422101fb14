"""The WHERE clauses of the views' two searches: recordings (with legal and query holds) and the audit trail.

Each returns its terms (joined with AND) and their parameters, in order; the
view store runs them, so the filters can be read apart from the transactions.
"""

from __future__ import annotations

from typing import Any

from adapters.sql_dialect import Dialect
from adapters.view_rows import AuditQuery, RecordingQuery
from domain.query_hold import HoldCriteria


def recordings_matching(query: RecordingQuery, dialect: Dialect) -> tuple[list[str], list[Any]] | None:
    """None when the query can match nothing (an empty set of agents in scope)."""
    where, params = _equal_to(query, ("agent_id", "customer_ref", "queue", "direction", "status"))
    if query.agent_ids is not None:
        if not query.agent_ids:
            return None
        where.append(f"agent_id IN ({','.join('?' * len(query.agent_ids))})")
        params.extend(sorted(query.agent_ids))
    _started_within(where, params, query.started_from, query.started_until)
    for key, value in sorted(query.tag_refs.items()):
        where.append(dialect.tag_filter())
        params.extend(dialect.tag_params(key, value))
    if query.missing_segments is not None:
        where.append("missing_count > 0" if query.missing_segments else "missing_count = 0")
    if query.legal_hold is not None:
        held, held_params = _held(query.query_holds, dialect)
        where.append(held if query.legal_hold else f"NOT {held}")
        params.extend(held_params)
    if query.after is not None:
        started, recording_id = query.after
        # A row comparison, not (a < ? OR (a = ? AND b < ?)): both engines seek the
        # (…, started_at, recording_id) indexes with it, so page 21 costs what page 1 does.
        where.append("(started_at, recording_id) < (?, ?)")
        params.extend([started, recording_id])
    return where, params


def audit_matching(query: AuditQuery) -> tuple[list[str], list[Any]]:
    where, params = _equal_to(query, ("actor", "recording_id", "action", "outcome"))
    if query.since is not None:
        where.append("recorded_at >= ?")
        params.append(query.since)
    if query.until is not None:
        where.append("recorded_at < ?")
        params.append(query.until)
    if query.after is not None:
        notification_id, item = query.after
        where.append("(notification_id > ? OR (notification_id = ? AND item > ?))")
        params.extend([notification_id, notification_id, item])
    return where, params


def _held(holds: dict[str, HoldCriteria], dialect: Dialect) -> tuple[str, list[Any]]:
    """SQL for "under a hold": held one by one, or matched by an active query hold."""
    terms: list[str] = ["legal_hold = ?"]
    params: list[Any] = [True]
    for _, hold in sorted(holds.items()):
        clauses: list[str] = []
        for column, value in (
            ("customer_ref", hold.customer_ref),
            ("agent_id", hold.agent_id),
            ("queue", hold.queue),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if hold.tag_key is not None and hold.tag_ref is not None:
            clauses.append(dialect.tag_filter())
            params.extend(dialect.tag_params(hold.tag_key, hold.tag_ref))
        _started_within(clauses, params, hold.started_from, hold.started_until)
        terms.append("(" + " AND ".join(clauses) + ")")
    return "(" + " OR ".join(terms) + ")", params


def _started_within(where: list[str], params: list[Any], started_from: Any, started_until: Any) -> None:
    """Recordings started in [from, until), either bound optional."""
    if started_from is not None:
        where.append("started_at >= ?")
        params.append(started_from)
    if started_until is not None:
        where.append("started_at < ?")
        params.append(started_until)


def _equal_to(query: Any, columns: tuple[str, ...]) -> tuple[list[str], list[Any]]:
    """WHERE terms for the query's fields that are set, each compared for equality."""
    chosen = [(c, getattr(query, c)) for c in columns if getattr(query, c) is not None]
    return [f"{c} = ?" for c, _ in chosen], [v for _, v in chosen]
