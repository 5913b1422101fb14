"""The command stream that drives an agent's capture client (server-sent events).

On every (re)connect it first describes the present (start, then pause if paused,
or stop), then sends each change as it happens; the client treats repeats as
no-ops, so a dropped connection or a restarted client simply resynchronises.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread
from litestar import get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from api.bootstrap import Runtime
from api.http.context import Caller, Services
from api.services.access import allow
from domain.permissions import Action
from domain.recording import Recording
from domain.values import RecordingStatus

# Latency of a pause reaching the client; the client holds frames back a little
# longer than this and drops those captured at or after the pause's time.
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
# A call whose ACW ended this recently still gets its `stop` (for a client that was away).
STOP_WINDOW = timedelta(minutes=10)


def capture_state(recording: Recording) -> str:
    if recording.status in (RecordingStatus.COMPLETE, RecordingStatus.ARCHIVED, RecordingStatus.PURGED):
        return "stopped"
    return "paused" if recording.paused else "recording"


def transition(recording: Recording, was: str | None, now: str) -> list[tuple[str, datetime | None]]:
    """The commands that move a client from what it was told to what is true now."""
    last_pause = recording.pauses[-1] if recording.pauses else (None, None)
    if now == "stopped":
        return [] if was == "stopped" else [("stop", recording.acw_ended_at)]
    steps: list[tuple[str, datetime | None]] = []
    if was is None:
        steps.append(("start", recording.started_at))
        was = "recording"
    if was == "recording" and now == "paused":
        steps.append(("pause", last_pause[0]))
    elif was == "paused" and now == "recording":
        steps.append(("resume", last_pause[1]))
    return steps


class AgentCommands:
    """What one connection has told its client so far."""

    def __init__(self, runtime: Runtime, agent: str) -> None:
        self.runtime = runtime
        self.agent = agent
        self.told: dict[UUID, str] = {}
        self.snapshots_sent: set[str] = set()

    def changes(self) -> list[dict[str, Any]]:
        messages = []
        since = datetime.now(UTC) - STOP_WINDOW
        for row in self.runtime.views.capture_candidates(self.agent, since):
            recording = self.runtime.ledger.get_recording(row.recording_id)  # up to the log, whoever wrote it
            base = {"recording_id": str(recording.id), "interaction_id": recording.interaction_id}
            state = capture_state(recording)
            for command, at in transition(recording, self.told.get(recording.id), state):
                messages.append({**base, "command": command, "at": at.isoformat() if at else None})
            self.told[recording.id] = state
            if state == "recording":
                for snapshot_id, (taker, annotation, at) in recording.pending_snapshots().items():
                    if snapshot_id not in self.snapshots_sent:
                        self.snapshots_sent.add(snapshot_id)
                        messages.append(
                            {
                                **base,
                                "command": "snapshot",
                                "snapshot_id": snapshot_id,
                                "taker": taker,
                                "annotation": annotation,
                                "at": at.isoformat(),
                            }
                        )
        return messages


@get("/v1/capture/commands", tags=["media"], summary="Server-sent commands for the caller's capture client")
async def capture_commands(principal: Caller, runtime: Services) -> ServerSentEvent:
    await anyio.to_thread.run_sync(allow, runtime, principal, Action.CAPTURE)
    commands = AgentCommands(runtime, principal.name)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        number = 0
        quiet_since = time.monotonic()
        while True:
            for message in await anyio.to_thread.run_sync(commands.changes):
                number += 1
                quiet_since = time.monotonic()
                yield ServerSentEventMessage(id=number, event="command", data=json.dumps(message))
            if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield ServerSentEventMessage(comment="keepalive")
            await anyio.sleep(POLL_SECONDS)

    return ServerSentEvent(stream())
