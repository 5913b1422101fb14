"""The historical reports' SQL: aggregates and lists over the views, for one time range.

Every report counts calls by when they started, in [started_from, started_until), and
by UTC day; a pause, an after-call work or a detection counts on its call's day, an
evaluation on the day it was submitted. Each
builder returns the SELECT and its parameters, in order; ``ViewStore.report`` runs it.
Sums are cast to BIGINT, so both engines answer integers (PostgreSQL's SUM of a bigint
is a numeric).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from adapters.sql_dialect import Dialect

# Rows a list report returns at most; its ``total`` still counts them all.
MAX_LISTED = 10_000


class ReportQuery(msgspec.Struct, kw_only=True, frozen=True):
    started_from: datetime
    started_until: datetime
    # Only calls of these agents (None: no restriction; empty: none at all).
    agent_ids: frozenset[str] | None = None
    queue: str | None = None
    limit: int = MAX_LISTED


def _day(dialect: Dialect, column: str) -> str:
    """The UTC calendar day of a time column, as YYYY-MM-DD."""
    if dialect.name == "sqlite":
        return f"substr({column}, 1, 10)"  # stored as fixed-width UTC ISO 8601 text
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def _calls(query: ReportQuery, table: str = "recordings") -> tuple[str, list[Any]]:
    """WHERE of the calls a report covers (``table``: the recordings view's name or alias)."""
    return _within(query, f"{table}.started_at", f"{table}.agent_id", f"{table}.queue")


def _within(query: ReportQuery, time: str, agent: str, queue: str) -> tuple[str, list[Any]]:
    """WHERE of the rows whose ``time`` column is in the range, of the agents and queue asked for."""
    terms = [f"{time} >= ?", f"{time} < ?"]
    params: list[Any] = [query.started_from, query.started_until]
    if query.queue is not None:
        terms.append(f"{queue} = ?")
        params.append(query.queue)
    if query.agent_ids is not None:
        agents = sorted(query.agent_ids)
        terms.append(f"{agent} IN ({','.join('?' * len(agents))})" if agents else "1 = 0")
        params.extend(agents)
    return " AND ".join(terms), params


def _count_if(condition: str) -> str:
    return f"CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)"


def volume(query: ReportQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    where, params = _calls(query)
    return (
        f"SELECT {_day(dialect, 'started_at')} AS day, agent_id AS agent, queue, COUNT(*) AS calls, "
        "CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) AS duration_ms "
        f"FROM recordings WHERE {where} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        params,
    )


def coverage(query: ReportQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    """By policy version too: the caller knows each version's sampling percentage."""
    where, params = _calls(query)
    return (
        f"SELECT {_day(dialect, 'started_at')} AS day, queue, policy_version, COUNT(*) AS calls, "
        f"{_count_if('screen_selected')} AS screen_selected, {_count_if('segments_received > 0')} AS captured "
        f"FROM recordings WHERE {where} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        params,
    )


_LISTED = (
    "recording_id, interaction_id, started_at, agent_id AS agent, queue, status, "
    "segments_received, missing_count, COUNT(*) OVER () AS total"
)


def missing_segments(query: ReportQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    where, params = _calls(query)
    return (
        f"SELECT {_LISTED} FROM recordings WHERE {where} AND missing_count > 0 "
        "ORDER BY started_at, recording_id LIMIT ?",
        [*params, query.limit],
    )


def without_voice(query: ReportQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    """Calls that ended with no voice recording stored (one still going may yet get it)."""
    where, params = _calls(query)
    return (
        f"SELECT {_LISTED} FROM recordings WHERE {where} AND ended_at IS NOT NULL AND voice_recorded = ? "
        "ORDER BY started_at, recording_id LIMIT ?",
        [*params, False, query.limit],
    )


def pauses(query: ReportQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    where, params = _calls(query)
    return (
        f"SELECT {_day(dialect, 'started_at')} AS day, agent_id AS agent, COUNT(*) AS calls, "
        f"{_count_if('pause_count > 0')} AS paused_calls, CAST(SUM(pause_count) AS BIGINT) AS pauses, "
        "CAST(SUM(pause_ms) AS BIGINT) AS pause_ms "
        f"FROM recordings WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
        params,
    )


def acw_timeouts(query: ReportQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    where, params = _calls(query)
    return (
        f"SELECT {_day(dialect, 'started_at')} AS day, agent_id AS agent, "
        f"{_count_if('acw_end_reason IS NOT NULL')} AS acw_ended, {_count_if('acw_end_reason = ?')} AS timeouts "
        f"FROM recordings WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
        ["timeout", *params],
    )


def card_data(query: ReportQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    """Detections as the audit trail holds them (one row per ``CardDataDetected``, its span
    in the detail), with their call's agent and queue from the recordings view."""
    where, params = _calls(query, "r")
    return (
        "SELECT a.recording_id, r.interaction_id, r.started_at, r.agent_id AS agent, r.queue, "
        "a.detail, a.occurred_at AS detected_at, COUNT(*) OVER () AS total "
        "FROM audit_trail AS a JOIN recordings AS r ON r.recording_id = a.recording_id "
        f"WHERE a.action = ? AND {where} ORDER BY r.started_at, a.notification_id LIMIT ?",
        ["card_data_detected", *params, query.limit],
    )


def evaluation_scores(query: ReportQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    """Evaluations by the day they were submitted, each at its current revision's score; the
    call's queue from the recordings view."""
    where, params = _within(query, "e.submitted_at", "e.agent_id", "r.queue")
    return (
        f"SELECT {_day(dialect, 'e.submitted_at')} AS day, e.agent_id AS agent, COUNT(*) AS evaluations, "
        "AVG(e.score_percent) AS average_score, MIN(e.score_percent) AS lowest_score, "
        f"{_count_if('e.fatal_failed')} AS fatal_failed, {_count_if('e.state = ?')} AS disputed "
        "FROM evaluations AS e JOIN recordings AS r ON r.recording_id = e.recording_id "
        f"WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
        ["disputed", *params],
    )


REPORT_SQL: dict[str, Callable[[ReportQuery, Dialect], tuple[str, list[Any]]]] = {
    "recordings": volume,
    "screen-coverage": coverage,
    "missing-segments": missing_segments,
    "without-voice": without_voice,
    "pauses": pauses,
    "acw-timeouts": acw_timeouts,
    "evaluation-scores": evaluation_scores,
    "card-data": card_data,
}
