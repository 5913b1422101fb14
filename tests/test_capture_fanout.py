"""Capture commands fan out across servers on one store, and a reconnecting client misses nothing.

Two servers (each its own Components, as two `callvault serve` processes would be) share
one database: PostgreSQL, where the log's NOTIFY wakes them, and one SQLite file, where
they poll it. A capture client's stream is open on one; telephony and a supervisor act
through the other. No test here catches a view up: what arrives comes through the log.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from adapters.event_store import open_ledger, open_view_store
from adapters.settings import Settings
from api.http.app import create_app
from api.services.capture import AgentCommands
from capture_client.commands import ServerEvent, parse_events
from domain.commands import Pause, Resume, StartCall
from domain.ledger import RecordingLedger
from domain.recording import recording_id_for
from domain.values import Actor
from tests.support.in_process_server import serving
from tests.support.provisioning import provision

pytestmark = pytest.mark.timeout(120)

USERS = [("pbx", "telephony", None), ("agent-1", "agent", "floor"), ("sue", "supervisor", None)]
# A command reaches the other server's stream within this, or the test fails.
ARRIVAL_SECONDS = 5.0
Nodes = tuple[str, str, dict[str, str]]  # node A's and node B's base URLs, each user's token


class CommandReader:
    """One connection to a server's command stream, read in a thread: each event with when it arrived."""

    def __init__(self, base_url: str, token: str, last_event_id: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self._client = httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(10.0, read=60.0))
        self._arrived: queue.Queue[tuple[float, ServerEvent]] = queue.Queue()
        self._response: httpx.Response | None = None
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "the command stream did not open"
        assert self._response is not None and self._response.status_code == 200

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/v1/capture/commands") as response:
                self._response = response
                self._opened.set()
                for event in parse_events(response.iter_lines()):
                    self._arrived.put((time.monotonic(), event))
        except (httpx.HTTPError, httpx.StreamError):
            pass  # closed by the test
        finally:
            self._opened.set()

    def next_commands(self, count: int, seconds: float = ARRIVAL_SECONDS) -> list[tuple[float, ServerEvent]]:
        """The next ``count`` commands, each waited for until the deadline."""
        deadline = time.monotonic() + seconds
        received: list[tuple[float, ServerEvent]] = []
        while len(received) < count:
            try:
                arrived, event = self._arrived.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                expected = f"{count} commands expected within {seconds} s, got {commands_of(received)}"
                raise AssertionError(expected) from None
            if event.type == "command":
                received.append((arrived, event))
        return received

    def nothing_more(self, seconds: float) -> bool:
        try:
            self._arrived.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        """Hangs up as a client that goes away does: the read blocked in the thread ends at once."""
        if self._response is not None:
            self._response.extensions["network_stream"].get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)
        assert not self._thread.is_alive()
        self._client.close()


def commands_of(received: list[tuple[float, ServerEvent]]) -> list[str]:
    return [msgspec.json.decode(event.data)["command"] for _, event in received]


def ids_of(received: list[tuple[float, ServerEvent]]) -> list[int]:
    return [int(event.id or "0") for _, event in received]


@pytest.fixture
def nodes(settings: Settings, tmp_path: Path) -> Iterator[Nodes]:
    """Two servers on one store (node A, node B), with an agent of team floor and its supervisor."""
    tokens = provision(settings, USERS)
    ledger = open_ledger(settings, group_commit=False)
    try:
        ledger.make_responsible("floor", user="sue", occurred_at=datetime.now(UTC), by=Actor("test-setup", "admin"))
    finally:
        ledger.close()
    served = msgspec.structs.replace(settings, media_url=str(tmp_path / "media"), archive_url=str(tmp_path / "archive"))
    with serving(create_app(served)) as node_a, serving(create_app(served)) as node_b:
        yield node_a, node_b, tokens


class Telephony:
    """Commands as telephony and the supervisor send them, to one server."""

    def __init__(self, base_url: str, tokens: dict[str, str]) -> None:
        self._base_url, self._tokens = base_url, tokens
        self.call_started = datetime.now(UTC) - timedelta(minutes=1)

    def send(self, user: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self._base_url}{path}", json=body, headers={"Authorization": f"Bearer {self._tokens[user]}"}, timeout=10
        )
        assert response.status_code in (200, 201), response.text
        return response.json()  # type: ignore[no-any-return]

    def start(self, interaction_id: str) -> str:
        body = {
            "interaction_id": interaction_id,
            "agent_id": "agent-1",
            "customer_id": "cust-1",
            "queue": "sales",
            "direction": "inbound",
            "occurred_at": self.call_started.isoformat(),
        }
        return str(self.send("pbx", "/v1/recordings", body)["recording_id"])

    def now(self) -> str:
        return datetime.now(UTC).isoformat()

    def at(self, seconds: int) -> str:
        return (self.call_started + timedelta(seconds=seconds)).isoformat()


def test_commands_given_to_one_server_reach_the_client_on_the_other(nodes: Nodes) -> None:
    node_a, node_b, tokens = nodes
    telephony = Telephony(node_b, tokens)
    rid = str(recording_id_for("fan-1"))
    stream = CommandReader(node_a, tokens["agent-1"])
    try:
        steps: list[tuple[str | None, Callable[[], object]]] = [
            ("start", lambda: telephony.start("fan-1")),
            ("pause", lambda: telephony.send("pbx", f"/v1/recordings/{rid}/pause", {"occurred_at": telephony.at(5)})),
            ("resume", lambda: telephony.send("pbx", f"/v1/recordings/{rid}/resume", {"occurred_at": telephony.at(9)})),
            ("snapshot", lambda: telephony.send("sue", f"/v1/recordings/{rid}/snapshot-requests", {"annotation": "n"})),
            # The end of the call changes nothing for the client (it records after-call work too).
            (None, lambda: telephony.send("pbx", f"/v1/recordings/{rid}/end", {"occurred_at": telephony.at(20)})),
            ("stop", lambda: telephony.send("pbx", f"/v1/recordings/{rid}/acw-end", {"occurred_at": telephony.now()})),
        ]
        received = []
        for command, send in steps:
            sent_at = time.monotonic()
            send()
            if command is None:
                continue
            [(arrived, event)] = stream.next_commands(1)
            message = msgspec.json.decode(event.data)
            assert (message["command"], message["recording_id"]) == (command, rid)
            assert arrived - sent_at < ARRIVAL_SECONDS
            received.append((arrived, event))
        ids = ids_of(received)
        assert ids == sorted(set(ids)), "each command's id is the log position of its event"
    finally:
        stream.close()


def test_a_client_reconnecting_to_another_server_is_sent_what_it_missed_in_order(nodes: Nodes) -> None:
    node_a, node_b, tokens = nodes
    telephony = Telephony(node_b, tokens)
    rid = telephony.start("fan-2")
    first = CommandReader(node_a, tokens["agent-1"])
    try:
        started = first.next_commands(1)
    finally:
        first.close()
    assert commands_of(started) == ["start"]
    [last_seen] = ids_of(started)

    # While the client is away: a pause for card details, its end, a snapshot request.
    telephony.send("pbx", f"/v1/recordings/{rid}/pause", {"reason": "card", "occurred_at": telephony.at(5)})
    telephony.send("pbx", f"/v1/recordings/{rid}/resume", {"reason": "card", "occurred_at": telephony.at(9)})
    snapshot_id = telephony.send("sue", f"/v1/recordings/{rid}/snapshot-requests", {"annotation": "look"})[
        "snapshot_id"
    ]

    again = CommandReader(node_b, tokens["agent-1"], last_event_id=str(last_seen))
    try:
        replayed = again.next_commands(3)
        assert again.nothing_more(1.0), "nothing the client already had is sent again"
    finally:
        again.close()
    assert commands_of(replayed) == ["pause", "resume", "snapshot"]
    messages = [msgspec.json.decode(event.data) for _, event in replayed]
    assert [m["at"] for m in messages[:2]] == [telephony.at(5), telephony.at(9)]
    assert (messages[2]["snapshot_id"], messages[2]["annotation"]) == (snapshot_id, "look")
    ids = ids_of(replayed)
    assert last_seen < ids[0] < ids[1] < ids[2]

    # Without a position (or with one that is not ours), a connection describes the present.
    for last_event_id in (None, "not-a-position"):
        fresh = CommandReader(node_a, tokens["agent-1"], last_event_id=last_event_id)
        try:
            present = fresh.next_commands(2)
        finally:
            fresh.close()
        assert commands_of(present) == ["start", "snapshot"]
        assert len(set(ids_of(present))) == 1 and ids_of(present)[0] >= ids[2]


def test_a_recording_the_view_shows_late_is_still_replayed_from_the_clients_position(ledger: RecordingLedger) -> None:
    pbx, at = Actor("pbx", "telephony"), datetime.now(UTC) - timedelta(minutes=1)
    start = StartCall(
        interaction_id="late-1",
        agent_id="agent-1",
        customer_id="c",
        queue="sales",
        direction="inbound",
        tags={},
        occurred_at=at,
        by=pbx,
    )
    rid = ledger.execute(start)

    def head() -> int:
        return ledger.recorder.max_notification_id() or 0

    last_seen = head()
    ledger.execute(Pause(rid, reason="card", occurred_at=at + timedelta(seconds=5), by=pbx))
    ledger.execute(Resume(rid, reason="card", occurred_at=at + timedelta(seconds=9), by=pbx))
    views = open_view_store(ledger)  # never caught up: it shows no recording at all
    again = AgentCommands(ledger, views, "agent-1")
    assert again.begin(str(last_seen)) == []
    # Then the hub announces the recording: what the client missed is replayed, not the present.
    late = again.follow([rid], head())
    assert [m.data["command"] for m in late] == ["pause", "resume"]

    fresh = AgentCommands(ledger, views, "agent-1")
    assert fresh.begin(None) == []
    assert [m.data["command"] for m in fresh.follow([rid], head())] == ["start"]
