"""A contact-center day of calls written through a ledger by the simulator, the same day on every run."""

from __future__ import annotations

from datetime import UTC, datetime

from api.cli.simulation import DayPlan, plan_day, run_day
from domain.ledger import RecordingLedger
from domain.recording_policy import PolicyTerms
from domain.values import Actor

DAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PBX = Actor("pbx-1", "telephony")


def simulate(ledger: RecordingLedger, calls: int = 40, agents: int = 5) -> int:
    """Writes the day's calls (seeded, half of them screen-sampled); returns the number of events written."""
    plan = DayPlan(agents=agents, calls=calls, seed=7, start=DAY, sampling=PolicyTerms(sampling_percent=50))
    return run_day(ledger, plan_day(plan))
