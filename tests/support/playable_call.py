"""A call with media a player can be tested on: time-coded screen segments placed at their
offsets, a pause, a missing segment and the voice of the whole call, ingested through the
application's own services (as the API would)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from uuid import UUID

from api.cli.demo_media import call_voice, screen_segment
from domain import commands
from domain.values import Actor

SEGMENT_MS = 5000
FPS = 10


@dataclass(frozen=True)
class PlayableCall:
    recording_id: UUID
    started_at: datetime
    pause: tuple[int, int]  # ms on the call's clock
    missing: tuple[int, int]  # the span of the segment that never arrived
    segments: tuple[tuple[int, int], ...]  # (sequence number, start ms) of those that did
    duration_ms: int


# (sequence number, start ms): segment 2 is missing; the pause spans 10 s to 14 s.
LAYOUT = ((0, 0), (1, 5000), (2, 14000), (4, 24000))
PAUSE = (10_000, 14_000)
MISSING = (19_000, 24_000)
CALL_MS = 29_000
ACW_MS = 4_000  # after-call work: on the timeline, after the media


@cache
def _segment(start_ms: int) -> bytes:
    return screen_segment(start_ms, SEGMENT_MS, fps=FPS)


@cache
def _voice() -> bytes:
    return call_voice(CALL_MS, silences=[PAUSE])


def seed_playable_call(
    components: Any, interaction_id: str, *, agent: str, pbx: Any, agent_principal: Any
) -> PlayableCall:
    """``pbx``/``agent_principal``: principals of a telephony user and of the call's agent."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    telephony = Actor(pbx.name, pbx.role.value)
    rid = components.lifecycle.start(
        pbx,
        commands.StartCall(
            interaction_id=interaction_id,
            agent_id=agent,
            customer_id="cust-7",
            queue="support",
            direction="inbound",
            tags={"lang": "en"},
            occurred_at=started,
            by=telephony,
        ),
    )
    for number, start_ms in LAYOUT:
        if number == 2:  # the pause comes between segments 1 and 2
            at = started + timedelta(milliseconds=PAUSE[0])
            components.lifecycle.change(pbx, commands.Pause(rid, reason="card details", occurred_at=at, by=telephony))
            at = started + timedelta(milliseconds=PAUSE[1])
            components.lifecycle.change(
                pbx, commands.Resume(rid, reason="card details done", occurred_at=at, by=telephony)
            )
        body = _segment(start_ms)
        components.media_ingest.add_segment(
            agent_principal,
            rid,
            body,
            sequence_number=number,
            sha256=hashlib.sha256(body).hexdigest(),
            captured_at=started + timedelta(milliseconds=start_ms),
            start_offset_ms=start_ms,
            duration_ms=SEGMENT_MS,
            monitor=0,
            width=640,
            height=360,
            fps=FPS,
        )
    end = started + timedelta(milliseconds=CALL_MS)
    components.lifecycle.change(pbx, commands.EndCall(rid, reason="hangup", occurred_at=end, by=telephony))
    wrapped_up = end + timedelta(milliseconds=ACW_MS)
    components.lifecycle.change(pbx, commands.EndAcw(rid, reason="status_change", occurred_at=wrapped_up, by=telephony))
    components.media_ingest.report_capture(
        agent_principal,
        commands.ReportCapture(rid, segments=5, occurred_at=end, by=Actor(agent, "agent")),
    )
    voice = _voice()
    components.media_ingest.record_voice(pbx, rid, voice, sha256=hashlib.sha256(voice).hexdigest(), recorded_at=end)
    return PlayableCall(rid, started, PAUSE, MISSING, LAYOUT, CALL_MS)
