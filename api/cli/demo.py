"""`callvault demo`: a small team and one recorded call with screen and voice, to try the console on.

The call is ingested through the same application services as the API: time-coded
screen segments (api/cli/demo_media.py) at their offsets, a pause for card details,
one segment that never arrived, the voice of the whole call, and after-call work.
The users' tokens are printed once, for signing in to the console.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from uuid import UUID

import click

from api.cli.context import Context, cli_actor, pass_context
from api.cli.demo_media import call_voice, screen_segment
from domain import commands
from domain.errors import DomainError
from domain.permissions import Principal
from domain.values import Actor

SEGMENT_MS = 5000
FPS = 10
# (sequence number, start ms on the call's clock) of the segments that arrive: the call is
# paused from 10 s to 14 s, between segments 1 and 2, segment 4 (24 s to 29 s) never arrives,
# and the screen is recorded through the after-call work (34 s to 39 s), when there is no voice.
LAYOUT = ((0, 0), (1, 5000), (2, 14000), (3, 19000), (5, 29000), (6, 34000))
PAUSE = (10_000, 14_000)
MISSING = (24_000, 29_000)
CALL_MS = 34_000
ACW_MS = 5_000
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
class DemoCall:
    recording_id: UUID
    started_at: datetime
    pause: tuple[int, int] = PAUSE
    missing: tuple[int, int] = MISSING
    segments: tuple[tuple[int, int], ...] = LAYOUT
    duration_ms: int = CALL_MS + ACW_MS  # the screen runs through the after-call work
    voice_ms: int = CALL_MS


@cache
def _segment(start_ms: int) -> bytes:
    return screen_segment(start_ms, SEGMENT_MS, fps=FPS)


@cache
def _voice() -> bytes:
    return call_voice(CALL_MS, silences=[PAUSE])


def record_demo_call(
    components: Any, interaction_id: str, *, pbx: Principal, agent: Principal, started_at: datetime | None = None
) -> DemoCall:
    """One finished call of ``agent``, with its media, ingested as telephony and the capture client would."""
    started = started_at or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    by_pbx, by_agent = Actor(pbx.name, pbx.role.value), Actor(agent.name, agent.role.value)
    lifecycle, media = components.lifecycle, components.media_ingest

    def at(ms: int) -> datetime:
        return started + timedelta(milliseconds=ms)

    start = commands.StartCall(
        interaction_id=interaction_id,
        agent_id=agent.name,
        customer_id="cust-0042",
        queue="support",
        direction="inbound",
        tags={"lang": "en", "product": "broadband"},
        occurred_at=started,
        by=by_pbx,
    )
    rid: UUID = lifecycle.start(pbx, start)
    for number, start_ms in LAYOUT:
        if start_ms == PAUSE[1]:
            lifecycle.change(pbx, commands.Pause(rid, reason="card details", occurred_at=at(PAUSE[0]), by=by_pbx))
            lifecycle.change(pbx, commands.Resume(rid, reason="card taken", occurred_at=at(PAUSE[1]), by=by_pbx))
        body = _segment(start_ms)
        media.add_segment(
            agent,
            rid,
            body,
            sequence_number=number,
            sha256=hashlib.sha256(body).hexdigest(),
            captured_at=at(start_ms),
            start_offset_ms=start_ms,
            duration_ms=SEGMENT_MS,
            monitor=0,
            width=640,
            height=360,
            fps=FPS,
        )
        if start_ms + SEGMENT_MS == CALL_MS:
            lifecycle.change(pbx, commands.EndCall(rid, reason="hangup", occurred_at=at(CALL_MS), by=by_pbx))
    media.report_capture(agent, commands.ReportCapture(rid, segments=7, occurred_at=at(CALL_MS + ACW_MS), by=by_agent))
    voice = _voice()
    media.record_voice(pbx, rid, voice, sha256=hashlib.sha256(voice).hexdigest(), recorded_at=at(CALL_MS))
    wrapped_up = at(CALL_MS + ACW_MS)
    lifecycle.change(pbx, commands.EndAcw(rid, reason="status_change", occurred_at=wrapped_up, by=by_pbx))
    return DemoCall(rid, started)


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
        call = record_demo_call(components, f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}", pbx=pbx, agent=agent)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    components.projections.catch_up()
    console_url = url or f"http://{ctx.settings.host}:{ctx.settings.port}/"
    click.echo(f"recorded demo call {call.recording_id} of demo-agent ({call.duration_ms // 1000} s, screen and voice)")
    click.echo(f"sign in at {console_url} with one of these tokens (shown once):")
    for name in ("demo-sue", "demo-quinn", "demo-lena"):
        click.echo(f"  {name:<11} {tokens[name]}")
