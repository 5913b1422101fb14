"""Group commit: many writers, few transactions, every command still answered on its own."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from adapters.event_store import key_store_of, ledger_env
from adapters.group_commit import GroupCommitter
from adapters.master_key import load_master_key
from adapters.migrate import migrate
from adapters.settings import Settings
from domain import errors
from domain.commands import EndAcw, EndCall, Pause, Resume, StartCall, Tag
from domain.committer import Change
from domain.ledger import RecordingLedger
from domain.values import Actor
from tests.support.calls import start_command

PBX = Actor("pbx-1", "telephony")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class CountingLedger(RecordingLedger):
    """Counts transactions that stored events (a fake next to the test that uses it)."""

    transactions = 0

    def save(self, *aggregates: Any, **kwargs: Any) -> Any:
        if any(a is not None and a.pending_events for a in aggregates):
            type(self).transactions += 1
        return super().save(*aggregates, **kwargs)


@pytest.fixture
def counting(settings: Settings):
    migrate(settings)
    CountingLedger.transactions = 0
    app = CountingLedger(env=ledger_env(settings), committer=GroupCommitter)
    key_store_of(app).unlock(load_master_key(settings))
    yield app
    app.close()


def lifecycle(ledger: RecordingLedger, n: int) -> None:
    rid = ledger.execute(
        StartCall(
            interaction_id=f"int-{n}",
            agent_id=f"agent-{n % 7}",
            customer_id="c",
            queue="q",
            direction="inbound",
            tags={},
            occurred_at=T0,
            by=PBX,
        )
    )
    ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=1), by=PBX))
    ledger.execute(Resume(rid, reason="pci", occurred_at=T0 + timedelta(seconds=2), by=PBX))
    ledger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=3), by=PBX))
    ledger.execute(EndAcw(rid, reason="status_change", occurred_at=T0 + timedelta(seconds=4), by=PBX))


def test_concurrent_lifecycles_share_transactions_and_lose_nothing(counting: CountingLedger) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: lifecycle(counting, n), range(64)))
    assert counting.recorder.max_notification_id() == 64 * 5
    for n in range(64):
        events = counting.history(counting.recording_id(f"int-{n}")).events
        assert [e.originator_version for e in events] == [1, 2, 3, 4, 5]
    assert counting.transactions < 64 * 5  # commands really were grouped


def test_a_lone_writer_commits_in_its_own_thread_and_others_queue_behind_it(
    counting: CountingLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing queued or being committed, handing a command to the writer thread and
    waiting for it cost two thread hand-offs (about 0.3 ms) for a batch of one."""
    committer = counting.committer
    assert isinstance(committer, GroupCommitter)
    saved_in: list[str] = []
    holding, release = threading.Event(), threading.Event()
    save = counting.save

    def noted_save(*aggregates: Any, **kwargs: Any) -> Any:
        saved_in.append(threading.current_thread().name)
        if len(saved_in) == 2:  # the second command holds its commit open
            holding.set()
            release.wait(timeout=30)
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(counting, "save", noted_save)
    rid = counting.execute(start_command("lone", tags={}))
    assert saved_in == [threading.current_thread().name]  # committed here, not by the writer
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="client") as pool:
        first = pool.submit(counting.execute, Tag(rid, key="k0", value="v", occurred_at=T0, by=PBX))
        assert holding.wait(timeout=30)
        rest = [
            pool.submit(counting.execute, Tag(rid, key=f"k{n}", value="v", occurred_at=T0, by=PBX)) for n in (1, 2, 3)
        ]
        deadline = time.monotonic() + 30
        while committer._in_flight < 4 and time.monotonic() < deadline:  # noqa: SLF001 - until all three queued
            time.sleep(0.01)
        transactions = CountingLedger.transactions
        release.set()
        for future in [first, *rest]:
            future.result(timeout=30)
    assert saved_in[1].startswith("client") and saved_in[2:] == ["group-commit"]  # the three in one batch
    assert CountingLedger.transactions == transactions + 2  # the held command's, then the batch's
    assert set(counting.get_recording(rid).tags) == {"k0", "k1", "k2", "k3"}


def test_a_refused_command_does_not_sink_its_batch(counting: CountingLedger) -> None:
    lifecycle(counting, 1)
    rid = counting.recording_id("int-1")

    def bad() -> None:
        counting.execute(Pause(rid, reason="pci", occurred_at=T0, by=PBX))  # the call has ended

    def good(n: int) -> None:
        counting.execute(Tag(rid, key=f"k{n}", value="v", occurred_at=T0, by=PBX))

    with ThreadPoolExecutor(max_workers=8) as pool:
        bads = [pool.submit(bad) for _ in range(4)]
        goods = [pool.submit(good, n) for n in range(12)]
    for future in bads:
        with pytest.raises(errors.NotRecording):
            future.result()
    for future in goods:
        future.result()
    assert set(counting.get_recording(rid).tags) == {f"k{n}" for n in range(12)}


def test_retried_starts_store_one_event(counting: CountingLedger) -> None:
    def start(agent: str) -> Any:
        return counting.execute(
            StartCall(
                interaction_id="same",
                agent_id=agent,
                customer_id="c",
                queue="q",
                direction="inbound",
                tags={},
                occurred_at=T0,
                by=PBX,
            )
        )

    start("agent-1")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [pool.submit(start, "agent-1") for _ in range(20)] + [pool.submit(start, "agent-2")]
    ids = {f.result() for f in results[:-1]}
    assert ids == {counting.recording_id("same")}
    with pytest.raises(errors.RecordingAlreadyStarted):
        results[-1].result()
    assert len(counting.history(counting.recording_id("same")).events) == 1


def test_invalid_start_is_refused_in_the_callers_thread(counting: CountingLedger) -> None:
    with pytest.raises(errors.InvalidCommand):
        counting.execute(
            StartCall(
                interaction_id="x",
                agent_id="a",
                customer_id="c",
                queue="q",
                direction="up",
                tags={},
                occurred_at=T0,
                by=PBX,
            )
        )
    assert counting.recorder.max_notification_id() in (None, 0)


def test_a_start_another_process_stored_is_found_when_its_batch_is_replayed(
    counting: CountingLedger, settings: Settings
) -> None:
    """The writer does not read before storing a start; a recording it never saw still stays single."""
    other = RecordingLedger(env=ledger_env(settings), committer=GroupCommitter)  # another server process on the log
    key_store_of(other).unlock(load_master_key(settings))
    try:

        def start(agent: str) -> StartCall:
            return StartCall(
                interaction_id="elsewhere",
                agent_id=agent,
                customer_id="c",
                queue="q",
                direction="inbound",
                tags={},
                occurred_at=T0,
                by=PBX,
            )

        rid = other.execute_all([start("agent-1")])[0]
        fresh = counting.execute(
            StartCall(
                interaction_id="fresh",
                agent_id="a",
                customer_id="c",
                queue="q",
                direction="inbound",
                tags={},
                occurred_at=T0,
                by=PBX,
            )
        )
        outcomes = counting.execute_all(
            [
                Pause(fresh, reason="pci", occurred_at=T0 + timedelta(seconds=1), by=PBX),
                start("agent-1"),
                start("agent-2"),
            ]
        )
        assert outcomes[:2] == [True, rid]
        assert isinstance(outcomes[2], errors.RecordingAlreadyStarted)
        assert len(counting.history(rid).events) == 1
        assert [type(e).__name__ for e in counting.history(fresh).events] == ["CallStarted", "Paused"]
    finally:
        other.close()


@pytest.mark.parametrize("first_by", ["writer", "caller"])
def test_a_store_failure_fails_its_batch_and_what_queued_meanwhile_at_once(
    counting: CountingLedger, monkeypatch: pytest.MonkeyPatch, first_by: str
) -> None:
    """While the database is down each read waits the pool timeout: the commands of a batch,
    and those that queued while it waited, must not wait it once more each; nor when the
    first was committed by its caller, and the writer took the next one while it waited."""
    rids = [
        counting.execute(
            StartCall(
                interaction_id=f"down-{n}",
                agent_id="a",
                customer_id="c",
                queue="q",
                direction="inbound",
                tags={},
                occurred_at=T0,
                by=PBX,
            )
        )
        for n in range(6)
    ]
    for rid in rids:
        counting.forget(rid)
    reads = []

    def unavailable(recording_id: Any) -> Any:
        reads.append(recording_id)
        time.sleep(0.5)  # the pool timeout, shortened
        raise OperationalError("couldn't get a connection after 3.00 sec")

    monkeypatch.setattr(counting, "working_copy", unavailable)
    pause = lambda r: r.pause(Pause(r.id, reason="pci", occurred_at=T0, by=PBX))  # noqa: E731
    committer = counting.committer
    assert isinstance(committer, GroupCommitter)
    first = committer._pending(Change(rids[0], pause))  # noqa: SLF001
    if first_by == "writer":
        committer._enqueue(first)  # noqa: SLF001
    else:
        threading.Thread(target=committer._commit_here, args=([first],)).start()  # noqa: SLF001
    while not reads:  # the store is being waited on now
        time.sleep(0.01)
    later = [committer._pending(Change(rid, pause)) for rid in rids[1:]]  # noqa: SLF001
    for pending in later:
        committer._enqueue(pending)  # noqa: SLF001
    time.sleep(0.1)  # the writer takes the first of them, and waits for the caller's commit
    for pending in [first, *later]:
        with pytest.raises(OperationalError):
            pending.done.result(timeout=5)
    assert reads == rids[:1]
    assert CountingLedger.transactions == 6  # the starts only
