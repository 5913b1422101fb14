"""The ledger's rules, in memory: idempotent starts, refused restarts, unknown recordings, history at a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import errors
from domain.commands import Pause, Resume
from domain.ledger import RecordingLedger
from domain.values import RecordingStatus
from tests.support.calls import PBX, T0, start_call


def test_starting_same_interaction_again_is_idempotent(ledger: RecordingLedger) -> None:
    first = start_call(ledger)
    again = start_call(ledger)
    assert first == again
    assert len(ledger.history(first).events) == 1


def test_starting_same_interaction_with_other_details_is_refused(ledger: RecordingLedger) -> None:
    start_call(ledger)
    with pytest.raises(errors.RecordingAlreadyStarted):
        start_call(ledger, agent_id="agent-2")
    assert ledger.get_recording(ledger.recording_id("int-1")).agent_id == "agent-1"


def test_unknown_recording_is_reported(ledger: RecordingLedger) -> None:
    with pytest.raises(errors.RecordingNotFound):
        ledger.execute(Pause(ledger.recording_id("nope"), reason="pci", occurred_at=T0, by=PBX))


def test_history_as_of_a_moment_between_pause_and_resume_shows_paused(ledger: RecordingLedger) -> None:
    rid = start_call(ledger)
    ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=10), by=PBX))
    between = datetime.now(UTC)
    ledger.execute(Resume(rid, reason="pci", occurred_at=T0 + timedelta(seconds=20), by=PBX))
    assert ledger.history(rid, as_of=between).recording.status is RecordingStatus.PAUSED
    assert ledger.history(rid).recording.status is RecordingStatus.ACTIVE
    assert ledger.history(rid, version=2).recording.status is RecordingStatus.PAUSED
    with pytest.raises(errors.RecordingNotFound):
        ledger.history(rid, as_of=datetime(2000, 1, 1, tzinfo=UTC))
