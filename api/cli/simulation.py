"""A realistic contact-center day, driven through the ledger like real traffic.

Per agent, calls arrive as a Poisson process over the shift; talk times are
log-normal, after-call work exponential with a timeout, some calls are paused
for card details, a sampled share records the screen in short segments (and,
as in the field, a few segments never arrive), and legal may hold a few calls.

``run_day`` commits one command at a time; given ``batch``, it hands the ledger
that many commands at once (``execute_all``), which a group-committing ledger
stores in shared transactions: the way to write many days quickly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain import commands, errors
from domain.ledger import RecordingLedger
from domain.recording import recording_id_for
from domain.recording_policy import PolicyTerms
from domain.values import Actor

TELEPHONY = Actor("pbx-1", "telephony")
LEGAL = Actor("legal-1", "legal")
QUEUES = ("sales", "support", "billing", "retention")
LANGUAGES = ("en", "de", "fr", "es")
OUTCOMES = ("resolved", "callback", "escalated", "sale")
# exp(5.3 + 0.6**2 / 2) s of talk (log-normal mean) plus about a minute of ACW.
MEAN_HANDLING_SECONDS = 300.0


@dataclass(frozen=True, kw_only=True)
class DayPlan:
    agents: int = 50
    calls: int = 2000
    seed: int = 1
    start: datetime
    shift: timedelta = timedelta(hours=8)
    sampling: PolicyTerms = PolicyTerms(sampling_percent=30)  # the policy the ledger will sample under
    pause_share: float = 0.15
    segment_seconds: int = 15
    segment_loss: float = 0.01
    acw_timeout: timedelta = timedelta(seconds=120)
    queues: tuple[str, ...] = QUEUES
    # Distinct customers the calls draw from (0: 70% of the day's calls); the same
    # names recur across days, so a smaller pool means more returning customers.
    customers: int = 0
    hold_share: float = 0.0  # calls legal places under hold once after-call work ends


@dataclass(order=True)
class Step:
    """One command at one moment; steps of all calls are replayed in time order.

    ``args`` are the command's fields but the recording, ``by`` and (unless given)
    ``occurred_at``, which is the step's moment.
    """

    at: datetime
    order: int
    call: int = field(compare=False)
    command: type[commands.Command] = field(compare=False)
    args: dict[str, Any] = field(compare=False)
    by: Actor = field(compare=False, default=TELEPHONY)


def plan_day(plan: DayPlan) -> list[Step]:
    rng = random.Random(plan.seed)
    steps: list[Step] = []
    per_agent = _calls_per_agent(plan, rng)
    counter = 0
    for agent_no, count in enumerate(per_agent):
        agent = f"agent-{agent_no:03d}"
        # Idle gaps sized so that the agent's calls fill the shift.
        idle = max(plan.shift.total_seconds() / count - MEAN_HANDLING_SECONDS, 10.0) if count else 0.0
        free_at = plan.start
        for _ in range(count):
            arrival = free_at + timedelta(seconds=rng.expovariate(1 / idle) if idle else 0)
            counter += 1
            call_steps, free_at = _one_call(plan, rng, counter, agent, arrival)
            steps.extend(call_steps)
    steps.sort()
    return steps


def _calls_per_agent(plan: DayPlan, rng: random.Random) -> list[int]:
    counts = [0] * plan.agents
    for _ in range(plan.calls):
        counts[rng.randrange(plan.agents)] += 1
    return counts


def _one_call(
    plan: DayPlan, rng: random.Random, number: int, agent: str, start: datetime
) -> tuple[list[Step], datetime]:
    interaction = f"sim-{plan.seed}-{number:06d}"
    talk = timedelta(seconds=max(20.0, rng.lognormvariate(5.3, 0.6)))
    end = start + talk
    queue = rng.choice(plan.queues)
    screen = plan.sampling.selects_screen(interaction, queue)  # the ledger's own deterministic draw
    steps = [
        _step(
            start,
            number,
            0,
            commands.StartCall,
            interaction_id=interaction,
            agent_id=agent,
            customer_id=f"cust-{rng.randrange(plan.customers or max(plan.calls * 7 // 10, 1)):06d}",
            queue=queue,
            direction=rng.choice(("inbound", "inbound", "inbound", "outbound")),
            tags={"language": rng.choice(LANGUAGES), "campaign": f"c{rng.randrange(5)}"},
        ),
    ]
    pauses: list[tuple[datetime, datetime]] = []
    if rng.random() < plan.pause_share and talk > timedelta(seconds=120):
        paused = start + talk * rng.uniform(0.2, 0.6)
        resumed = paused + timedelta(seconds=rng.uniform(15, 45))
        pauses.append((paused, resumed))
        steps.append(_step(paused, number, 1, commands.Pause, reason="pci"))
        steps.append(_step(resumed, number, 2, commands.Resume, reason="pci"))
    steps.append(_step(end, number, 3, commands.EndCall, reason="hangup"))
    steps.append(_step(end, number, 4, commands.Tag, key="outcome", value=rng.choice(OUTCOMES)))
    acw = timedelta(seconds=rng.expovariate(1 / 60))
    timed_out = acw > plan.acw_timeout
    acw_end = end + (plan.acw_timeout if timed_out else acw)
    steps.append(_step(acw_end, number, 5, commands.EndAcw, reason="timeout" if timed_out else "status_change"))
    if plan.hold_share and rng.random() < plan.hold_share:
        hold = _step(acw_end, number, 7, commands.PlaceHold, case_id=f"case-{rng.randrange(100):03d}", reason="dispute")
        hold.by = LEGAL
        steps.append(hold)
    if screen:
        steps.extend(_segments(plan, rng, number, agent, start, acw_end, pauses))
    return steps, acw_end


def _segments(
    plan: DayPlan,
    rng: random.Random,
    number: int,
    agent: str,
    start: datetime,
    stop: datetime,
    pauses: list[tuple[datetime, datetime]],
) -> Iterator[Step]:
    seq = 0
    at = start
    while at < stop:
        pause = next((p for p in pauses if p[0] <= at < p[1]), None)
        if pause:
            at = pause[1]  # nothing is captured while paused
            continue
        # A segment closes early when a pause begins or capture stops.
        cut = min([stop, at + timedelta(seconds=plan.segment_seconds)] + [p[0] for p in pauses if p[0] > at])
        if rng.random() >= plan.segment_loss:
            step = _step(
                cut,
                number,
                6,
                commands.AddSegment,
                sequence_number=seq,
                start_offset_ms=int((at - start).total_seconds() * 1000),
                duration_ms=int((cut - at).total_seconds() * 1000),
                monitor=rng.randrange(2),
                width=1280,
                height=720,
                codec="h264",
                fps=5,
                byte_size=rng.randrange(40_000, 400_000),
                sha256=rng.getrandbits(256).to_bytes(32, "big").hex(),
                media_key=f"segments/{number}/{seq:06d}",
                occurred_at=at,  # captured when it began; uploaded when it closed
            )
            step.by = Actor(f"capture-client:{agent}", "agent")
            yield step
        seq += 1
        at = cut


def _step(at: datetime, number: int, order: int, command: type[commands.Command], **args: Any) -> Step:
    return Step(at=at, order=number * 10 + order, call=number, command=command, args=args)


def command_of(step: Step, recordings: dict[int, Any]) -> commands.Command:
    """The step's command; ``recordings`` holds each started call's recording id."""
    fields = {"occurred_at": step.at, **step.args, "by": step.by}
    if issubclass(step.command, commands.RecordingCommand):
        return step.command(recordings[step.call], **fields)
    return commands.StartCall(**fields)


def run_day(
    ledger: RecordingLedger, steps: list[Step], progress: Callable[[int], None] | None = None, *, batch: int = 1
) -> int:
    """Applies the plan through the ledger's commands; returns events written.

    With ``batch`` above 1, that many commands go to the ledger at once; the first
    refusal among them is raised after the rest were applied, as ``execute_all`` answers.
    """
    if batch > 1:
        return _run_batched(ledger, steps, progress, batch)
    recordings: dict[int, Any] = {}
    written = 0
    for step in steps:
        result = ledger.execute(command_of(step, recordings))
        if step.command is commands.StartCall:
            recordings[step.call] = result
        written += 1
        if progress is not None:
            progress(1)
    return written


def _run_batched(ledger: RecordingLedger, steps: list[Step], progress: Callable[[int], None] | None, batch: int) -> int:
    # A recording's id derives from its interaction, so later steps need not wait for the start's answer.
    recordings = {s.call: recording_id_for(s.args["interaction_id"]) for s in steps if s.command is commands.StartCall}
    written = 0
    for first in range(0, len(steps), batch):
        chunk = steps[first : first + batch]
        outcomes = ledger.execute_all([command_of(step, recordings) for step in chunk])
        refusal = next((o for o in outcomes if isinstance(o, errors.DomainError)), None)
        if refusal is not None:
            raise refusal
        written += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return written
