"""A contact-center day of calls written through a ledger by the simulator, the same day on every run."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from api.cli.simulation import DayPlan, Step, command_of, plan_day, run_day
from domain.commands import EndCall, RecordVoice, StartCall
from domain.ledger import RecordingLedger
from domain.recording import recording_id_for
from domain.recording_policy import PolicyTerms
from domain.values import Actor

DAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PBX = Actor("pbx-1", "telephony")


def simulate(ledger: RecordingLedger, calls: int = 40, agents: int = 5) -> int:
    """Writes the day's calls (seeded, half of them screen-sampled); returns the number of events written."""
    plan = DayPlan(agents=agents, calls=calls, seed=7, start=DAY, sampling=PolicyTerms(sampling_percent=50))
    return run_day(ledger, plan_day(plan))


# The day the historical reports are checked against: more pauses and lost segments than a
# usual day, the screen sampling policy changed at noon, and the voice of most calls stored.
REPORT_PLAN = DayPlan(
    agents=5,
    calls=48,
    seed=11,
    start=DAY,
    sampling=PolicyTerms(sampling_percent=50),
    pause_share=0.5,
    segment_loss=0.08,
)
NOON = DAY.replace(hour=12)
MORNING_POLICY = PolicyTerms(sampling_percent=50)
# Selects a superset of the plan's 50% (the same draw under a higher percentage), so every
# segment the plan uploads lands on a selected call.
AFTERNOON_POLICY = PolicyTerms(sampling_percent=100, sampling_by_queue={"billing": 75})
VOICE_SHARE = 0.8


def simulate_report_day(ledger: RecordingLedger) -> list[Step]:
    """Writes the reports' day; returns its steps (what the tests count the expected figures from)."""
    rng = random.Random(REPORT_PLAN.seed)
    steps = plan_day(REPORT_PLAN)
    steps += [_voice(step, rng) for step in steps if step.command is EndCall and rng.random() < VOICE_SHARE]
    steps.sort()
    setup = Actor("report-setup", "admin")
    recordings = {s.call: recording_id_for(s.args["interaction_id"]) for s in steps if s.command is StartCall}
    ledger.set_policy(terms=MORNING_POLICY, reason="morning sampling", occurred_at=DAY, by=setup)
    for before, step in itertools.pairwise([None, *steps]):
        if step.at >= NOON and (before is None or before.at < NOON):
            ledger.set_policy(terms=AFTERNOON_POLICY, reason="afternoon sampling", occurred_at=NOON, by=setup)
        ledger.execute(command_of(step, recordings))
    return steps


def _voice(ended: Step, rng: random.Random) -> Step:
    """Telephony stores the call's audio a few seconds after it ends."""
    return Step(
        at=ended.at + timedelta(seconds=3),
        order=ended.order + 5,
        call=ended.call,
        command=RecordVoice,
        args={
            "codec": "opus",
            "duration_ms": 1000,
            "byte_size": 4096,
            "sha256": rng.getrandbits(256).to_bytes(32, "big").hex(),
            "media_key": f"voice/{ended.call}",
        },
    )
