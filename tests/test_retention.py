"""Retention as the search view shows it, on both engines: what query holds and legal holds cover.
The retention rules themselves (due dates, holds, purge, archive, erasure) are tested in memory:
tests/unit/test_retention.py."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from adapters.event_store import open_ledger
from adapters.settings import Settings
from adapters.view_rows import RecordingQuery
from domain.commands import PlaceHold, Tag
from domain.ledger import RecordingLedger
from domain.query_hold import HoldCriteria
from projections.runner import Projections
from tests.support.retention_calls import LEGAL, PBX, T0, completed_call, keep_for_30_days


@pytest.fixture
def keep_30_days(ledger: RecordingLedger) -> RecordingLedger:
    return keep_for_30_days(ledger)


def test_the_search_views_hold_filter_shows_what_query_holds_cover(
    keep_30_days: RecordingLedger,
    projections: Projections,
) -> None:
    ledger = keep_30_days
    held_by_hand = completed_call(ledger, "h-hand", agent="agent-2")
    ledger.execute(PlaceHold(held_by_hand, case_id="CASE-1", reason="dispute", occurred_at=T0, by=LEGAL))
    account = "ACC-9"
    ledger.place_query_hold(
        case_id="CASE-A",
        reason="fraud",
        occurred_at=T0,
        by=LEGAL,
        criteria=HoldCriteria(agent_id="agent-7", started_from=T0),
    )
    ledger.place_query_hold(
        case_id="CASE-T",
        reason="dispute",
        occurred_at=T0,
        by=LEGAL,
        criteria=HoldCriteria(tag_key="account", tag_ref=ledger.tag_ref("account", account)),
    )
    by_agent = completed_call(ledger, "h-agent", agent="agent-7", started=T0 + timedelta(hours=1))
    before_hold = completed_call(ledger, "h-early", agent="agent-7", started=T0 - timedelta(hours=1))
    by_tag = completed_call(ledger, "h-tag", agent="agent-3")
    ledger.execute(Tag(by_tag, key="account", value=account, occurred_at=T0 + timedelta(minutes=7), by=PBX))
    free = completed_call(ledger, "h-free", agent="agent-3")
    projections.catch_up()

    def search(hold: bool | None) -> dict[UUID, list[str]]:
        query = RecordingQuery(legal_hold=hold, query_holds=ledger.active_query_holds())
        return {row.recording_id: row.hold_cases for row in projections.store.search(query) if row.legal_hold}

    held = {held_by_hand: ["CASE-1"], by_agent: ["CASE-A (query hold)"], by_tag: ["CASE-T (query hold)"]}
    assert search(True) == held
    assert search(None) == held
    assert {
        row.recording_id
        for row in projections.store.search(RecordingQuery(legal_hold=False, query_holds=ledger.active_query_holds()))
    } == {before_hold, free}
    ledger.release_query_hold(case_id="CASE-A", reason="closed", occurred_at=T0 + timedelta(days=1), by=LEGAL)
    assert set(search(True)) == {held_by_hand, by_tag}


def test_query_holds_placed_and_released_by_another_process_are_seen_at_once(
    ledger: RecordingLedger, settings: Settings
) -> None:
    # Each process keeps the holds it last read and reads only newer events: a purge
    # here must still never miss a hold placed there a moment ago.
    other = open_ledger(settings, group_commit=False)
    try:
        assert ledger.active_query_holds() == {}
        by_agent, by_queue = HoldCriteria(agent_id="agent-7"), HoldCriteria(queue="sales")
        other.place_query_hold(case_id="CASE-A", reason="fraud", criteria=by_agent, occurred_at=T0, by=LEGAL)
        assert ledger.active_query_holds() == {"CASE-A": by_agent}
        ledger.place_query_hold(case_id="CASE-B", reason="dispute", criteria=by_queue, occurred_at=T0, by=LEGAL)
        other.release_query_hold(case_id="CASE-A", reason="settled", occurred_at=T0, by=LEGAL)
        assert ledger.active_query_holds() == other.active_query_holds() == {"CASE-B": by_queue}
        holds = ledger.query_holds()
        assert holds is not None and holds.version == other.query_holds().version == 4  # type: ignore[union-attr]
    finally:
        other.close()
