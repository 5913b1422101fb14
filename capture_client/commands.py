"""The server's command stream (server-sent events), kept connected on its own."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from capture_client.backoff import Backoff

log = logging.getLogger(__name__)

COMMANDS = {"start", "pause", "resume", "stop", "snapshot"}
# The server sends a keepalive at least every 15 s: silence for longer means a dead connection.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=45.0)


@dataclass(frozen=True)
class Command:
    name: str
    recording_id: str
    data: dict[str, Any]  # the whole event payload (snapshot_id, taker, annotation, at, ...)


@dataclass(frozen=True)
class ServerEvent:
    id: str | None
    type: str
    data: str


def parse_events(lines: Iterable[str]) -> Iterator[ServerEvent]:
    """Server-sent events from the stream's lines (comments such as keepalives are skipped)."""
    last_id: str | None = None
    event_type = "message"
    data: list[str] = []  # the event's data lines
    for line in lines:
        if not line:
            if data:
                yield ServerEvent(last_id, event_type, "\n".join(data))
            event_type, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            last_id = value
        elif field == "event":
            event_type = value
        elif field == "data":
            data.append(value)


class CommandStream(threading.Thread):
    """Reads commands and hands each to `deliver`; reconnects with backoff and Last-Event-ID."""

    def __init__(self, client: httpx.Client, deliver: Callable[[Command], None], backoff: Backoff | None = None):
        super().__init__(name="capture-commands", daemon=True)
        self._client, self._deliver = client, deliver
        self._backoff = backoff or Backoff()
        self._last_event_id: str | None = None
        self._stopping = threading.Event()
        self._response: httpx.Response | None = None
        self.connected = False

    def stop(self) -> None:
        self._stopping.set()
        if self._response is not None:
            self._response.close()  # unblocks the read

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except (httpx.HTTPError, httpx.StreamError) as error:
                if not self._stopping.is_set():
                    log.warning("command stream lost: %s", error)
            self.connected = False
            self._stopping.wait(self._backoff.next_delay())

    def _listen(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self._last_event_id is not None:
            headers["Last-Event-ID"] = self._last_event_id
        with self._client.stream("GET", "/v1/capture/commands", headers=headers, timeout=STREAM_TIMEOUT) as response:
            if response.status_code != 200:
                log.warning("command stream refused: %s %s", response.status_code, response.read()[:500])
                return
            self._response, self.connected = response, True
            self._backoff.reset()
            log.info("command stream connected")
            for event in parse_events(response.iter_lines()):
                if event.id is not None:
                    self._last_event_id = event.id
                if event.type == "command":
                    self._hand_over(event.data)

    def _hand_over(self, data: str) -> None:
        try:
            payload = json.loads(data)
            command = Command(payload["command"], payload["recording_id"], payload)
        except (ValueError, KeyError, TypeError):
            log.error("unreadable command ignored: %r", data[:500])
            return
        if command.name not in COMMANDS:
            log.error("unknown command ignored: %s", command.name)
            return
        self._deliver(command)
