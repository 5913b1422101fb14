"""A scoped search pages through exactly the rows a plain filter would, newest first,
whether its agents are read one index scan each and merged, or as one IN list; the audit
trail pages through every row once, in log order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg.sql import Literal

from adapters import view_queries
from adapters.view_rows import AuditQuery, RecordingQuery
from api.bootstrap import build
from domain.access_record import Outcome
from domain.commands import PlaceHold
from domain.values import Actor
from tests.support.calls import start_call
from tests.support.view_contents import all_recordings

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def components(settings, tmp_path):
    built = build(settings, serving=False)
    # Five agents; several calls start at the same instant, so the keyset's tie-break on
    # recording_id is exercised at page edges.
    for i in range(40):
        start_call(
            built.ledger,
            f"page-{i}",
            agent_id=f"agent-{i % 5}",
            customer_id=f"c-{i}",
            queue="sales" if i % 3 else "support",
            tags={},
            occurred_at=T0 + timedelta(minutes=i // 4),
        )
    built.projections.catch_up()
    yield built
    built.close()


@pytest.mark.parametrize("merged_scope", [100, 0], ids=["merged", "in-list"])
def test_scoped_pages_are_the_filtered_rows_in_order(components, monkeypatch, merged_scope: int) -> None:
    monkeypatch.setattr(view_queries, "MERGED_SCOPE", merged_scope)
    scope = frozenset({"agent-1", "agent-3", "agent-4"})
    everything = components.views.search(RecordingQuery(limit=1000))
    for filters in ({}, {"queue": "sales"}, {"started_from": T0 + timedelta(minutes=3)}):
        expected = [
            r.interaction_id
            for r in everything
            if r.agent_id in scope
            and ("queue" not in filters or r.queue == filters["queue"])
            and ("started_from" not in filters or r.started_at >= filters["started_from"])
        ]
        paged = [r.interaction_id for r in all_recordings(components.views, agent_ids=scope, **filters)]
        assert paged == expected and expected
    assert [(r.started_at, r.recording_id) for r in everything] == sorted(
        ((r.started_at, r.recording_id) for r in everything), reverse=True
    )
    assert components.views.search(RecordingQuery(agent_ids=frozenset())) == []


def test_audit_pages_cut_through_an_access_of_many_recordings_and_lose_or_repeat_no_row(components) -> None:
    # One access record of 13-14 recordings is 13-14 rows of one log position (item 0, 1, …):
    # pages of 5 end between its items, so the keyset's tie-break on item is exercised.
    recordings = [r.recording_id for r in components.views.search(RecordingQuery(limit=1000))]
    legal = Actor("lena", "legal")
    for share in range(3):
        components.ledger.record_access(
            action="search", outcome=Outcome.ALLOWED, recording_ids=recordings[share::3], occurred_at=T0, by=legal
        ).result()
    components.projections.catch_up()
    paged, after = [], None
    for _ in range(100):  # bounded: a cursor that repeats its last row would never end
        page = components.views.audit(AuditQuery(after=after, limit=5))
        paged.extend(page)
        if not page:
            break
        after = (page[-1].notification_id, page[-1].item)
    keys = [(row.notification_id, row.item) for row in paged]
    assert keys == sorted(set(keys))
    assert paged == components.views.audit(AuditQuery(limit=1000))
    assert sorted(row.recording_id for row in paged if row.action == "search") == sorted(recordings)


def test_a_page_of_refusals_is_read_from_their_own_index(components, monkeypatch) -> None:
    recordings = [r.recording_id for r in components.views.search(RecordingQuery(limit=1000))]
    for i, recording_id in enumerate(recordings):
        outcome = Outcome.REFUSED if i % 8 == 0 else Outcome.ALLOWED
        components.ledger.record_access(
            action="view", outcome=outcome, recording_ids=[recording_id], occurred_at=T0, by=Actor("sam", "supervisor")
        ).result()
    components.projections.catch_up()
    everything = components.views.audit(AuditQuery(limit=1000))

    executed = spy_on_reads(components, monkeypatch)
    first = components.views.audit(AuditQuery(outcome="refused", limit=3))
    rest = components.views.audit(AuditQuery(outcome="refused", after=(first[-1].notification_id, first[-1].item)))
    assert first + rest == [row for row in everything if row.outcome == "refused"]
    assert len(first + rest) == 5

    assert "audit_trail_refused_idx" in generic_plan(components.views, "audit_trail", *executed[0])


def test_a_page_of_held_recordings_is_read_from_their_own_index(components, monkeypatch) -> None:
    everything = components.views.search(RecordingQuery(limit=1000))
    for row in everything[::9]:
        components.ledger.execute(
            PlaceHold(row.recording_id, case_id="CASE-7", reason="dispute", occurred_at=T0, by=Actor("lena", "legal"))
        )
    components.projections.catch_up()
    executed = spy_on_reads(components, monkeypatch)
    held = components.views.search(RecordingQuery(legal_hold=True, limit=1000))
    assert [r.recording_id for r in held] == [r.recording_id for r in everything[::9]]
    assert "recordings_held_idx" in generic_plan(components.views, "recordings", *executed[0])


def spy_on_reads(components, monkeypatch) -> list[tuple[str, list]]:
    """The statements the view store runs from now on, with their parameters as sent."""
    executed: list[tuple[str, list]] = []
    fetch = type(components.views)._fetch

    def spying(self, cursor, row_type, sql, params):
        executed.append((self._dialect.sql(sql), [self._dialect.value(p) for p in params]))
        return fetch(self, cursor, row_type, sql, params)

    monkeypatch.setattr(type(components.views), "_fetch", spying)
    return executed


def generic_plan(views, table: str, sql: str, params: list) -> str:
    """The statement's plan: on PostgreSQL prepared, and planned as the server may plan it from
    its sixth run on, once for any value of its parameters (SQLite plans each run)."""
    with views._datastore.transaction(commit=False) as cursor:  # noqa: SLF001
        if views._dialect.name == "sqlite":  # noqa: SLF001
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        else:
            cursor.execute(f"ANALYZE {table}")
            numbered = sql.split("%s")
            cursor.execute(
                "PREPARE probed AS " + numbered[0] + "".join(f"${i}{part}" for i, part in enumerate(numbered[1:], 1))
            )
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            values = ", ".join(Literal(p).as_string(cursor.connection) for p in params)
            cursor.execute(f"EXPLAIN EXECUTE probed({values})" if params else "EXPLAIN EXECUTE probed")
        return " ".join(str(value) for row in cursor.fetchall() for value in dict(row).values())
