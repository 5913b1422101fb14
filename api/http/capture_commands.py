"""The command stream that drives an agent's capture client (server-sent events)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
from litestar import get
from litestar.di import NamedDependency
from litestar.response import ServerSentEvent, ServerSentEventMessage

from api.http.context import Caller, provide
from api.http.guards import may
from api.services.capture import CaptureCommands
from domain.permissions import Action

# Latency of a pause reaching the client; the client holds frames back a little
# longer than this and drops those captured at or after the pause's time.
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0


@get(
    "/v1/capture/commands",
    guards=[may(Action.CAPTURE)],
    tags=["media"],
    summary="Server-sent commands for the caller's capture client",
    dependencies=provide("capture"),
)
async def capture_commands(principal: Caller, capture: NamedDependency[CaptureCommands]) -> ServerSentEvent:
    commands = await anyio.to_thread.run_sync(capture.connect, principal)

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
