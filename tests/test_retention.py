"""Retention as the search view shows it, on both engines: what query holds and legal holds cover.
The retention rules themselves (due dates, holds, purge, archive, erasure) are tested in memory:
tests/unit/test_retention.py."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

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
