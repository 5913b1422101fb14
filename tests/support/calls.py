"""Calls written straight through a ledger, for tests that need some logged events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.commands import Pause, Resume, StartCall
from domain.ledger import RecordingLedger
from domain.values import Actor

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PBX = Actor("pbx", "telephony")


def paused_call(ledger: RecordingLedger, label: str) -> UUID:
    """A call started, paused and resumed: three events of one recording."""
    rid = ledger.execute(
        StartCall(
            interaction_id=label,
            agent_id="agent-n",
            customer_id="cust-7",
            queue="q",
            direction="inbound",
            tags={},
            occurred_at=T0,
            by=PBX,
        )
    )
    ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=PBX))
    ledger.execute(Resume(rid, reason="pci", occurred_at=T0 + timedelta(seconds=9), by=PBX))
    return rid
