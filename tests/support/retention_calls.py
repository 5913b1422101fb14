"""Completed calls for the retention rules, and the 30-day policy they are judged by.

Shared by the rules in memory (tests/unit/test_retention.py) and the search view's
hold filter on both engines (tests/test_retention.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.commands import AddSegment, EndAcw, EndCall, StartCall
from domain.ledger import RecordingLedger
from domain.recording_policy import PolicyTerms, RetentionRule
from domain.values import Actor

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PBX = Actor("pbx", "telephony")
LEGAL = Actor("lena", "legal")


def completed_call(
    ledger: RecordingLedger,
    interaction: str,
    *,
    agent: str = "agent-1",
    customer: str = "cust-1",
    queue: str = "sales",
    started: datetime = T0,
) -> UUID:
    """A call with one screen segment, ended and out of after-call work: ready for retention."""
    rid = ledger.execute(
        StartCall(
            interaction_id=interaction,
            agent_id=agent,
            customer_id=customer,
            queue=queue,
            direction="inbound",
            tags={"lang": "en"},
            occurred_at=started,
            by=PBX,
        )
    )
    ledger.execute(
        AddSegment(
            rid,
            sequence_number=0,
            start_offset_ms=0,
            duration_ms=4000,
            monitor=0,
            width=8,
            height=8,
            codec="h264",
            fps=5,
            byte_size=10,
            sha256="ab" * 32,
            media_key=f"seg/{interaction}/0",
            occurred_at=started + timedelta(seconds=2),
            by=Actor(f"capture-client:{agent}", "agent"),
        )
    )
    ledger.execute(EndCall(rid, reason="hangup", occurred_at=started + timedelta(minutes=5), by=PBX))
    ledger.execute(EndAcw(rid, reason="status_change", occurred_at=started + timedelta(minutes=6), by=PBX))
    return rid


def keep_for_30_days(ledger: RecordingLedger) -> RecordingLedger:
    """Sets the policy: archive after 10 days, purge after 30 (in force from the day before T0)."""
    ledger.set_policy(
        terms=PolicyTerms(retention=(RetentionRule(archive_after_days=10, purge_after_days=30),)),
        reason="30 days",
        occurred_at=T0 - timedelta(days=1),
        by=Actor("root", "admin"),
    )
    return ledger
