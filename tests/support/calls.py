"""Calls written straight through a ledger, for tests that need some logged events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.commands import Pause, Resume, StartCall
from domain.ledger import RecordingLedger
from domain.values import Actor

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PBX = Actor("pbx", "telephony")


def start_command(interaction: str = "int-1", **overrides: Any) -> StartCall:
    """A sales call of agent-1 started at T0; ``overrides`` replace any of StartCall's fields."""
    args: dict[str, Any] = dict(
        interaction_id=interaction,
        agent_id="agent-1",
        customer_id="cust-1",
        queue="sales",
        direction="inbound",
        tags={"language": "en"},
        occurred_at=T0,
        by=PBX,
    )
    args.update(overrides)
    return StartCall(**args)


def start_call(ledger: RecordingLedger, interaction: str = "int-1", **overrides: Any) -> UUID:
    """Starts ``start_command(interaction, **overrides)``; the recording's id."""
    recording_id: UUID = ledger.execute(start_command(interaction, **overrides))
    return recording_id


def paused_call(ledger: RecordingLedger, label: str) -> UUID:
    """A call started, paused and resumed: three events of one recording."""
    rid = start_call(ledger, label, agent_id="agent-n", customer_id="cust-7", queue="q", tags={})
    ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=PBX))
    ledger.execute(Resume(rid, reason="pci", occurred_at=T0 + timedelta(seconds=9), by=PBX))
    return rid
