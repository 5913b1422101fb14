"""The ledger application against each real event store: events stored and read back, concurrent writers.
Its rules (idempotent starts, refusals, history at a moment) are tested in memory: tests/unit/test_ledger.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.event_store import open_ledger
from adapters.settings import Settings
from domain import errors
from domain.access_record import Outcome
from domain.commands import AddSegment, EndAcw, EndCall, Pause, Resume, Tag
from domain.ledger import RecordingLedger
from domain.values import Actor, RecordingStatus
from tests.support.calls import PBX, T0, start_call


def test_lifecycle_is_stored_in_order_and_read_back(ledger: RecordingLedger) -> None:
    rid = start_call(ledger)
    ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=10), by=PBX))
    ledger.execute(Resume(rid, reason="pci", occurred_at=T0 + timedelta(seconds=20), by=PBX))
    ledger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=60), by=PBX))
    ledger.execute(EndAcw(rid, reason="status_change", occurred_at=T0 + timedelta(seconds=90), by=PBX))
    history = ledger.history(rid)
    assert [type(e).__name__ for e in history.events] == ["CallStarted", "Paused", "Resumed", "CallEnded", "AcwEnded"]
    assert history.events[1].occurred_at == T0 + timedelta(seconds=10)
    assert history.events[0].tags == {"language": "en"}
    assert ledger.get_recording(rid).status is RecordingStatus.COMPLETE
    assert rid == ledger.recording_id("int-1")


def test_the_aggregate_cache_keeps_recordings_not_access_records(ledger: RecordingLedger) -> None:
    """Every search saves an access record, which nothing commands again: cached, they pushed
    recordings out and gave the garbage collector their recording ids to walk."""
    rid = start_call(ledger)
    record_id = ledger.record_access(
        action="search", outcome=Outcome.ALLOWED, recording_ids=[rid], occurred_at=T0, by=PBX
    ).result(timeout=10)
    cache = ledger.repository.cache
    assert cache is not None
    assert cache.get(rid).id == rid
    with pytest.raises(KeyError):
        cache.get(record_id)
    assert ledger.repository.get(record_id).recording_ids == [rid]  # still read from the log


def test_concurrent_change_is_retried_on_fresh_state(
    ledger: RecordingLedger, settings: Settings, group_commit: bool
) -> None:
    rid = start_call(ledger)
    other = open_ledger(settings, group_commit=group_commit)  # a second process, own cache
    try:
        other.get_recording(rid)
        ledger.execute(Tag(rid, key="outcome", value="sale", occurred_at=T0, by=PBX))
        # `other` still caches version 1: its write conflicts, reloads, and applies.
        other.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=PBX))
        names = [type(e).__name__ for e in ledger.history(rid).events]
        assert names == ["CallStarted", "Tagged", "Paused"]
    finally:
        other.close()


def test_concurrent_change_that_now_breaks_a_rule_is_refused_not_dropped(
    ledger: RecordingLedger, settings: Settings, group_commit: bool
) -> None:
    rid = start_call(ledger)
    other = open_ledger(settings, group_commit=group_commit)
    try:
        other.get_recording(rid)
        ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=PBX))
        with pytest.raises(errors.NotRecording):
            other.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=6), by=PBX))
        assert len(ledger.history(rid).events) == 2
    finally:
        other.close()


def test_segments_round_trip_with_idempotent_retry(ledger: RecordingLedger) -> None:
    rid = start_call(ledger)
    segment = dict(
        sequence_number=0,
        start_offset_ms=0,
        duration_ms=4000,
        monitor=1,
        width=1920,
        height=1080,
        codec="h264",
        fps=5,
        byte_size=12345,
        sha256="ab" * 32,
        media_key="m/0",
        occurred_at=T0 + timedelta(seconds=1),
        by=Actor("capture-client:agent-1", "agent"),
    )
    assert ledger.execute(AddSegment(rid, **segment)) is True
    assert ledger.execute(AddSegment(rid, **segment)) is False
    with pytest.raises(errors.SegmentConflict):
        ledger.execute(AddSegment(rid, **{**segment, "sha256": "cd" * 32}))
    stored = ledger.history(rid).events[1]
    assert (stored.sequence_number, stored.width, stored.sha256, stored.role) == (0, 1920, "ab" * 32, "agent")
    assert len(ledger.history(rid).events) == 2
