"""The capture hub reads the log in batches under a steady stream of appends, on each engine.

Every append NOTIFYs (PostgreSQL), and most appends are not capture commands: each search
logs its access. The hub used to read the log once per NOTIFY, a query and its rows for
every event, competing with the requests for the GIL. Its reads now begin at most every
READ_SPACING_SECONDS, however many appends woke it, and nothing is missed.
"""

from __future__ import annotations

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
from tests.support.calls import start_call

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
