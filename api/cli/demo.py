"""`callvault demo`: a small team and one recorded call with screen and voice, to try the console on.

The call is ingested through the same application services as the API: time-coded
screen segments (api/cli/demo_media.py) at their offsets, a pause for card details,
one segment that never arrived, the voice of the whole call, and after-call work.
The users' tokens are printed once, for signing in to the console.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from uuid import UUID

import click

from api.cli.context import Context, cli_actor, pass_context
from api.cli.demo_media import call_voice, screen_segment
from domain import commands
from domain.errors import DomainError
from domain.evaluation_form import Answer, Question
from domain.permissions import Principal
from domain.transcript import Utterance, Word
from domain.values import Actor

FPS = 10
TEAM = "demo-floor"
# (name, role): who the demo creates; the agent sits in TEAM, the supervisor and the
# quality manager answer for it.
PEOPLE = [
    ("demo-pbx", "telephony"),
    ("demo-agent", "agent"),
    ("demo-sue", "supervisor"),
    ("demo-quinn", "quality"),
    ("demo-lena", "legal"),
]


@dataclass(frozen=True)
class CallPlan:
    """A call to record: times are ms on the call's clock."""

    interaction_id: str
    call_ms: int  # when the call ends (the voice is this long)
    segments: tuple[tuple[int, int, int], ...]  # (sequence number, start, duration) of each that arrives
    reported_segments: int  # the capture client's own count: numbers below it that never arrive are missing
    pause: tuple[int, int] | None = None  # paused for card details: no screen, a silent voice
    acw_ms: int = 0  # after-call work, after the call's end
    customer_id: str = "cust-0042"
    queue: str = "support"
    tags: dict[str, str] = field(default_factory=lambda: {"lang": "en", "product": "broadband"})

    @property
    def duration_ms(self) -> int:
        return max(self.call_ms + self.acw_ms, *(start + length for _, start, length in self.segments))


def demo_plan(interaction_id: str) -> CallPlan:
    """The demo's call: paused from 10 s to 14 s, segment 4 (24 s to 29 s) never arrives, and the
    screen is recorded through the after-call work (34 s to 39 s), when there is no voice."""
    return CallPlan(
        interaction_id,
        call_ms=34_000,
        segments=(
            (0, 0, 5000),
            (1, 5000, 5000),
            (2, 14_000, 5000),
            (3, 19_000, 5000),
            (5, 29_000, 5000),
            (6, 34_000, 5000),
        ),
        reported_segments=7,
        pause=(10_000, 14_000),
        acw_ms=5000,
    )


@cache
def _segment(start_ms: int, duration_ms: int) -> bytes:
    return screen_segment(start_ms, duration_ms, fps=FPS)


@cache
def _voice(call_ms: int, pause: tuple[int, int] | None) -> bytes:
    return call_voice(call_ms, silences=[pause] if pause else [])


def record_call(
    components: Any,
    plan: CallPlan,
    *,
    pbx: Principal,
    agent: Principal,
    started_at: datetime,
    voice: bytes | None = None,
) -> UUID:
    """The call, with its media, ingested through the application's services as telephony and
    the agent's capture client would send it (``voice``: the demo's beeps unless another is
    given); returns the recording's id."""
    by_pbx, by_agent = Actor(pbx.name, pbx.role.value), Actor(agent.name, agent.role.value)
    lifecycle, media = components.lifecycle, components.media_ingest

    def at(ms: int) -> datetime:
        return started_at + timedelta(milliseconds=ms)

    start = commands.StartCall(
        interaction_id=plan.interaction_id,
        agent_id=agent.name,
        customer_id=plan.customer_id,
        queue=plan.queue,
        direction="inbound",
        tags=plan.tags,
        occurred_at=started_at,
        by=by_pbx,
    )
    rid: UUID = lifecycle.start(pbx, start)
    if plan.pause is not None:
        lifecycle.change(pbx, commands.Pause(rid, reason="card details", occurred_at=at(plan.pause[0]), by=by_pbx))
        lifecycle.change(pbx, commands.Resume(rid, reason="card taken", occurred_at=at(plan.pause[1]), by=by_pbx))
    for number, start_ms, length in plan.segments:
        body = _segment(start_ms, length)
        media.add_segment(
            agent,
            rid,
            body,
            sequence_number=number,
            sha256=hashlib.sha256(body).hexdigest(),
            captured_at=at(start_ms),
            start_offset_ms=start_ms,
            duration_ms=length,
            monitor=0,
            width=640,
            height=360,
            fps=FPS,
        )
    lifecycle.change(pbx, commands.EndCall(rid, reason="hangup", occurred_at=at(plan.call_ms), by=by_pbx))
    report = commands.ReportCapture(
        rid, segments=plan.reported_segments, occurred_at=at(plan.call_ms + plan.acw_ms), by=by_agent
    )
    media.report_capture(agent, report)
    voice = voice or _voice(plan.call_ms, plan.pause)
    media.record_voice(pbx, rid, voice, sha256=hashlib.sha256(voice).hexdigest(), recorded_at=at(plan.call_ms))
    wrapped_up = at(plan.call_ms + plan.acw_ms)
    lifecycle.change(pbx, commands.EndAcw(rid, reason="status_change", occurred_at=wrapped_up, by=by_pbx))
    return rid


# What telephony says was said in the demo call; the customer reads a card number out loud after
# the pause (20-22 s), so it is masked in the transcript and muted and blanked in playback.
DEMO_TRANSCRIPT = (
    ("agent", 500, 3500, "Thank you for calling broadband support, this is Dana"),
    ("customer", 4000, 8500, "Hi, I would like to pay my overdue bill please"),
    ("agent", 9000, 9800, "Of course, one moment"),
    ("agent", 14_500, 17_000, "Thanks for waiting. How would you like to pay?"),
    ("customer", 17_500, 19_500, "By card, the number is"),
    ("customer", 20_000, 22_000, "4111 1111 1111 1111"),
    ("agent", 22_500, 26_000, "Please use your phone's keypad for card numbers next time"),
)
DEMO_FORM = [
    Question(
        "greeting", "Greeted the customer by the script", 1, False, (Answer("yes", "Yes", 100), Answer("no", "No", 0))
    ),
    Question(
        "pci",
        "Kept card data off the recording (keypad entry, or paused)",
        3,
        True,
        (Answer("yes", "Yes", 100), Answer("no", "No", 0)),
    ),
    Question(
        "resolution",
        "Resolved the customer's request",
        2,
        False,
        (
            Answer("full", "Fully", 100),
            Answer("partly", "Partly", 50),
            Answer("no", "No", 0),
            Answer("na", "n/a", None),
        ),
    ),
]


def add_quality_demo(components: Any, recording_id: UUID, *, pbx: Principal, quality: Principal) -> None:
    """The demo call's transcript from telephony, and an evaluation form to evaluate it with."""
    utterances = tuple(
        Utterance(
            speaker,
            start,
            end,
            text,
            tuple(Word(t, start + i * 500, start + i * 500 + 400) for i, t in enumerate(text.split()))
            if text[0].isdigit()
            else (),
        )
        for speaker, start, end, text in DEMO_TRANSCRIPT
    )
    by = Actor(pbx.name, pbx.role.value)
    command = commands.RecordTranscript(
        recording_id, source="telephony", utterances=utterances, occurred_at=datetime.now(UTC), by=by
    )
    components.transcripts.record(pbx, command)
    components.evaluations.publish_form(quality, "demo-inbound", "Inbound support call", DEMO_FORM)


@click.command()
@click.option("--url", default=None, help="Where the console is served (default: the settings' host and port).")
@pass_context
def demo(ctx: Context, url: str | None) -> None:
    """Create a demo team, its people and one recorded call; print the tokens to sign in with."""
    components = ctx.components
    identity = components.identity
    tokens: dict[str, str] = {}
    try:
        if TEAM not in {team.name for team in identity.teams()}:
            identity.create_team(name=TEAM, parent=None, by=cli_actor())
        existing = {user.name for user in identity.users()}
        for name, role in PEOPLE:
            if name in existing:  # a second demo: the same people, with new tokens
                tokens[name] = identity.issue_token(name, by=cli_actor())[2]
            else:
                team = TEAM if role == "agent" else None
                tokens[name] = identity.register_user(name=name, role=role, team=team, by=cli_actor())[1]
        for name in ("demo-sue", "demo-quinn"):
            identity.make_responsible(TEAM, user=name, by=cli_actor())
        pbx, agent = (identity.principal_for(tokens[name]) for name in ("demo-pbx", "demo-agent"))
        assert pbx is not None and agent is not None  # their tokens were issued just now
        plan = demo_plan(f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}")
        started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        recording_id = record_call(components, plan, pbx=pbx, agent=agent, started_at=started)
        quinn = identity.principal_for(tokens["demo-quinn"])
        assert quinn is not None
        add_quality_demo(components, recording_id, pbx=pbx, quality=quinn)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    components.projections.catch_up()
    console_url = url or f"http://{ctx.settings.host}:{ctx.settings.port}/"
    click.echo(f"recorded demo call {recording_id} of demo-agent ({plan.duration_ms // 1000} s, screen and voice)")
    click.echo(f"sign in at {console_url} with one of these tokens (shown once):")
    for name in ("demo-sue", "demo-quinn", "demo-lena", "demo-agent"):
        click.echo(f"  {name:<11} {tokens[name]}")
