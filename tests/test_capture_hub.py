"""The capture hub reads the log in batches under a steady stream of appends, on each engine.

Every append NOTIFYs (PostgreSQL), and most appends are not capture commands: each search
logs its access. The hub used to read the log once per NOTIFY, a query and its rows for
every event, competing with the requests for the GIL. Its reads now begin at most every
READ_SPACING_SECONDS, however many appends woke it, and nothing is missed.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest

import api.services.capture_hub as capture_hub
from adapters.event_store import open_ledger
from adapters.migrate import migrate
from adapters.settings import Settings
from api.services.capture_hub import READ_SPACING_SECONDS, CaptureHub
from domain.ledger import RecordingLedger
from projections.follower import LogWindow
from tests.support.calls import start_call, start_command

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def ledger(settings: Settings) -> Iterator[RecordingLedger]:
    migrate(settings)
    opened = open_ledger(settings, group_commit=False)
    yield opened
    opened.close()


def test_a_stream_of_appends_is_read_in_spaced_batches_and_all_of_it(
    ledger: RecordingLedger, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []  # the last position each read returned (0: nothing new)
    caught_up = threading.Condition()
    read_log = capture_hub.read_log

    def counted(*args: object) -> LogWindow:
        window = read_log(*args)  # type: ignore[arg-type]
        with caught_up:
            reads.append(window.events[-1].notification_id if window.events else 0)
            caught_up.notify_all()
        return window

    monkeypatch.setattr(capture_hub, "read_log", counted)
    hub = CaptureHub(ledger, settings)
    hub.start()
    try:
        time.sleep(3 * READ_SPACING_SECONDS)  # a quiet spell: the first append is read at once
        with caught_up:
            reads.clear()
        began = time.monotonic()
        for n in range(40):
            start_call(ledger, f"int-{n}")  # one commit, one NOTIFY, each
        head = ledger.recorder.max_notification_id()
        with caught_up:
            assert caught_up.wait_for(lambda: max(reads, default=0) >= head, timeout=30), "the hub missed appends"
        elapsed = time.monotonic() - began
        # Reads begin READ_SPACING_SECONDS apart at the least (one read per NOTIFY: one per append).
        assert len(reads) <= 2 + elapsed / READ_SPACING_SECONDS, (len(reads), elapsed)
    finally:
        hub.stop()


def test_what_the_hub_remembers_of_each_recording_gives_the_collector_nothing_to_walk(
    ledger: RecordingLedger, settings: Settings
) -> None:
    """The hub remembers up to 100,000 recordings' agents, and a full garbage collection walks
    every object the collector tracks: what it keeps per recording must be none of them (a
    UUID is tracked; its integer is not)."""
    calls = 1000
    hub = CaptureHub(ledger, settings)
    hub.start()
    try:
        for first in range(0, calls, 250):
            ledger.execute_all(
                [start_command(f"int-{n}", agent_id=f"agent-{n % 50}") for n in range(first, first + 250)]
            )
        deadline = time.monotonic() + 60
        while len(hub._agents) < calls and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.05)
        memory = (hub._agents, hub._started)  # noqa: SLF001
        assert len(memory[0]) == calls, "the hub did not read every start"
        assert {agent for agent in memory[0].values() if agent} <= {f"agent-{n}" for n in range(50)}
        assert len(memory[1]) == 50
        per_recording = [*memory[0].keys(), *memory[0].values(), *(r for recent in memory[1].values() for r in recent)]
        assert [type(item).__name__ for item in per_recording if gc.is_tracked(item)] == []
    finally:
        hub.stop()
