"""The Lifecycle service on the in-memory ledger: per-event commands and the batch's per-item outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from api.services.access import AccessControl
from api.services.lifecycle import Lifecycle
from domain import commands, errors
from domain.identity import Role
from domain.ledger import RecordingLedger
from domain.permissions import Principal
from domain.values import Actor

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PBX = Principal(user_id=uuid4(), name="pbx", role=Role.TELEPHONY, team_id=None)
BY = Actor("pbx", "telephony")


@pytest.fixture
def lifecycle(ledger: RecordingLedger) -> Lifecycle:
    # Telephony is not scoped by the org chart, so the access check never asks the directory.
    identity: Any = None
    return Lifecycle(ledger, AccessControl(ledger, identity))


def start(interaction: str) -> commands.StartCall:
    return commands.StartCall(
        interaction_id=interaction,
        agent_id="agent-1",
        customer_id="c",
        queue="q",
        direction="inbound",
        tags={},
        occurred_at=T0,
        by=BY,
    )


def test_a_change_answers_whether_it_applied(lifecycle: Lifecycle) -> None:
    rid = lifecycle.start(PBX, start("int-1"))
    pause = commands.Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=BY)
    assert lifecycle.change(PBX, pause) is True
    assert lifecycle.change(PBX, pause) is False  # the retry
    with pytest.raises(errors.NotRecording):
        lifecycle.change(PBX, commands.Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=6), by=BY))


def test_each_batch_item_is_answered_on_its_own_and_a_retried_batch_doubles_nothing(
    lifecycle: Lifecycle, ledger: RecordingLedger
) -> None:
    first = start("int-2")
    rid, unknown = first.recording_id, ledger.recording_id("never-started")
    batch: list[commands.Command] = [
        first,
        commands.EndAcw(rid, reason="status_change", occurred_at=T0 + timedelta(seconds=1), by=BY),
        commands.Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=2), by=BY),
        commands.Pause(unknown, reason="pci", occurred_at=T0, by=BY),
        commands.Tag(rid, key="outcome", value="sale", occurred_at=T0 + timedelta(seconds=3), by=BY),
    ]
    outcomes = lifecycle.batch(PBX, batch)
    assert outcomes[0] == rid and outcomes[2:5:2] == [True, True]
    assert isinstance(outcomes[1], errors.CallNotEnded) and isinstance(outcomes[3], errors.RecordingNotFound)
    again = lifecycle.batch(PBX, batch)
    assert again[0] == rid and again[2:5:2] == [False, False]
    assert [type(e).__name__ for e in ledger.history(rid).events] == ["CallStarted", "Paused", "Tagged"]
