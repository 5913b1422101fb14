"""The views followed by a process of their own, as `callvault serve` runs them, on both engines."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import msgspec
import pytest

from adapters.event_store import open_view_store
from adapters.settings import Settings
from api.jobs.views_worker import ViewsWorker
from domain.commands import StartCall
from domain.ledger import RecordingLedger
from projections.runner import Projections
from tests.support.simulated_day import DAY, PBX, simulate
from tests.support.view_contents import all_audit, snapshot


@pytest.fixture
def group_commit() -> bool:
    return False


@pytest.fixture
def worker(settings: Settings) -> Iterator[ViewsWorker]:
    quick = msgspec.structs.replace(
        settings,
        views_process=True,
        projection_poll_seconds=0.05,
        projection_gather_seconds=0.01,
        projection_batch_size=50,
    )
    worker = ViewsWorker(quick)
    yield worker
    worker.stop()


def wait_for(done: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def caught_up(projections: Projections) -> bool:
    return all(lag.behind == 0 for lag in projections.status())


def test_the_worker_process_keeps_the_views_and_is_restarted_if_it_dies(
    ledger: RecordingLedger, worker: ViewsWorker
) -> None:
    watcher = Projections(ledger, open_view_store(ledger))  # only reads positions here, never applies
    worker.ensure_running()
    first = worker.pid
    assert first is not None and first != os.getpid()
    simulate(ledger, calls=10)
    wait_for(lambda: caught_up(watcher))
    assert snapshot(watcher.store)[0]

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not worker.alive())
    worker.ensure_running()  # what the server's scheduler does every few seconds
    assert worker.pid not in (None, first)
    rid = ledger.execute(
        StartCall(
            interaction_id="after-restart",
            agent_id="a",
            customer_id="c",
            queue="q",
            direction="inbound",
            tags={},
            occurred_at=DAY,
            by=PBX,
        )
    )
    wait_for(lambda: watcher.store.recording(rid) is not None)

    worker.stop()
    assert not worker.alive()
    worker.ensure_running()  # stopped for good: the scheduler cannot bring it back
    assert not worker.alive()


def test_server_and_worker_applying_at_once_lose_and_double_nothing(
    ledger: RecordingLedger, worker: ViewsWorker
) -> None:
    """Request threads catch views up themselves (read-your-writes) while the worker follows."""
    local = Projections(ledger, open_view_store(ledger), batch_size=50)
    worker.ensure_running()
    stop = threading.Event()
    failures: list[BaseException] = []

    def read_your_writes() -> None:
        while not stop.is_set():
            for view in local.names():
                try:
                    local.catch_up(views=[view])
                except BaseException as error:  # noqa: BLE001 - the assertion below reports it
                    failures.append(error)

    racer = threading.Thread(target=read_your_writes)
    racer.start()
    try:
        events = simulate(ledger, calls=30)
    finally:
        stop.set()
        racer.join()
    assert failures == []
    wait_for(lambda: caught_up(local))
    together = snapshot(local.store)
    assert len(together[1]) == events == len(all_audit(local.store))
    assert local.store.leaf_count() == ledger.recorder.max_notification_id()
    worker.stop()
    local.rebuild()
    assert snapshot(local.store) == together
