"""The queries of the views' two searches: a page of recordings (with legal and query
holds, and the caller's scope of agents) and the audit trail's WHERE clause.

Each returns SQL or its terms with their parameters, in order; the view store runs
them, so the filters can be read apart from the transactions.
"""

from __future__ import annotations

from typing import Any

from adapters.sql_dialect import Dialect
from adapters.view_rows import AuditQuery, RecordingQuery
from domain.access_record import Outcome
from domain.query_hold import HoldCriteria

# Newest first; every index of the recordings view ends in these columns, so pages seek.
RECORDINGS_ORDER = "started_at DESC, recording_id DESC"
# Scopes of up to this many agents (a supervisor's teams) are read as one index scan per
# agent, merged in order: an IN list would read every recording of those agents to sort
# them (at a million recordings, 14 ms against 2–5 ms for 25 agents). Larger scopes
# match enough rows that a scan of the time index meets a page soon.
MERGED_SCOPE = 100


def recordings_page(query: RecordingQuery, dialect: Dialect, limit: int) -> tuple[str, list[Any]] | None:
    """The SELECT of one page of recordings and its parameters; None when the query can
    match nothing (an empty set of agents in scope)."""
    scope = sorted(query.agent_ids) if query.agent_ids is not None else None
    if scope is not None and not scope:
        return None
    where, params = _recordings_filters(query, dialect)
    if scope is None or len(scope) > MERGED_SCOPE:
        if scope is not None:
            where.append(f"agent_id IN ({','.join('?' * len(scope))})")
            params.extend(scope)
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        return f"SELECT * FROM recordings{condition} ORDER BY {RECORDINGS_ORDER} LIMIT ?", [*params, limit]
    branch = " AND ".join(["agent_id = ?", *where])
    branches = " UNION ALL ".join(
        f"SELECT * FROM (SELECT * FROM recordings WHERE {branch} ORDER BY {RECORDINGS_ORDER} LIMIT ?) AS agent{i}"
        for i in range(len(scope))
    )
    merged_params = [p for agent in scope for p in (agent, *params, limit)]
    return f"SELECT * FROM ({branches}) AS scoped ORDER BY {RECORDINGS_ORDER} LIMIT ?", [*merged_params, limit]


def _recordings_filters(query: RecordingQuery, dialect: Dialect) -> tuple[list[str], list[Any]]:
    """The filters of a search, but its scope of agents (``recordings_page`` adds that)."""
    where, params = _equal_to(query, ("agent_id", "customer_ref", "queue", "direction", "status"))
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
    where, params = _equal_to(query, ("actor", "recording_id", "action"))
    if query.outcome is not None:
        # Written out, not bound: neither planner matches a bound value to the partial
        # index of refusals. Safe as SQL, being one of the enum's own values.
        where.append(f"outcome = '{Outcome(query.outcome).value}'")
    if query.since is not None:
        where.append("recorded_at >= ?")
        params.append(query.since)
    if query.until is not None:
        where.append("recorded_at < ?")
        params.append(query.until)
    if query.after is not None:
        # A row comparison, as for recordings: the primary key is sought, where the OR form
        # read every row before the page (page 4,000 of 50 rows: 86 ms against 0.07 ms).
        where.append("(notification_id, item) > (?, ?)")
        params.extend(query.after)
    return where, params


def _held(holds: dict[str, HoldCriteria], dialect: Dialect) -> tuple[str, list[Any]]:
    """SQL for "under a hold": held one by one, or matched by an active query hold."""
    # The column itself, not compared with a bound value: a plan PostgreSQL keeps for any value
    # (a prepared statement's, from its sixth run) can then use the partial index of held rows.
    terms: list[str] = ["legal_hold"]
    params: list[Any] = []
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
