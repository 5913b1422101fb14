"""The command stream that drives an agent's capture client (server-sent events)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
from litestar import get
from litestar.di import NamedDependency
from litestar.params import HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from api.http.context import Caller, provide
from api.http.guards import may
from api.services.capture import CaptureCommands, Message
from domain.permissions import Action

KEEPALIVE_SECONDS = 15.0
# The commands come as the log's events are announced (api/services/capture_hub.py);
# this slow look at the present catches what they cannot (a recording the view showed late).
RESYNC_SECONDS = 30.0


@get(
    "/v1/capture/commands",
    guards=[may(Action.CAPTURE)],
    tags=["media"],
    summary="Server-sent commands for the caller's capture client",
    dependencies=provide("capture"),
)
async def capture_commands(
    principal: Caller,
    capture: NamedDependency[CaptureCommands],
    last_event_id: Annotated[
        str | None,
        HeaderParameter(
            name="Last-Event-ID",
            required=False,
            description="The id of the last command received: what happened after it is sent first",
        ),
    ] = None,
) -> ServerSentEvent:
    commands = await anyio.to_thread.run_sync(capture.connect, principal)

    def sent(message: Message) -> ServerSentEventMessage:
        return ServerSentEventMessage(id=message.position, event="command", data=json.dumps(message.data))

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        # Subscribed before the first read of the log, so nothing falls between the two.
        subscription = capture.hub.subscribe(commands.agent)
        try:
            for message in await anyio.to_thread.run_sync(commands.begin, last_event_id):
                yield sent(message)
            quiet_since = resynced = time.monotonic()
            while True:
                now = time.monotonic()
                due = min(quiet_since + KEEPALIVE_SECONDS, resynced + RESYNC_SECONDS) - now
                if await subscription.wait(max(due, 0.0)):
                    recordings, upto = subscription.take()
                    messages = await anyio.to_thread.run_sync(commands.follow, recordings, upto)
                elif time.monotonic() - resynced >= RESYNC_SECONDS:
                    resynced = time.monotonic()
                    messages = await anyio.to_thread.run_sync(commands.resync)
                else:
                    messages = []
                for message in messages:
                    quiet_since = time.monotonic()
                    yield sent(message)
                if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                    quiet_since = time.monotonic()
                    yield ServerSentEventMessage(comment="keepalive")
        finally:
            capture.hub.unsubscribe(subscription)

    return ServerSentEvent(stream())
