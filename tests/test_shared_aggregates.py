"""Cached recordings are shared by threads and stale in other processes: neither may show a wrong answer.

A reader must never see a change that is not committed (the writer's batch may
still fail), and after a purge no process may show the purged personal fields,
however warm its cache. Two ledgers on one database stand for two processes:
each has its own aggregate cache and key cache.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from adapters.event_store import key_store_of, open_ledger
from adapters.migrate import migrate
from adapters.settings import Settings
from domain import errors
from domain.commands import AddSegment, EndAcw, EndCall, Pause, PlaceHold, RequestSnapshot, Resume, StartCall
from domain.ledger import RecordingLedger
from domain.values import REDACTED, Actor, RecordingStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PBX = Actor("pbx", "telephony")
SUE = Actor("sue", "supervisor")
JOB = Actor("system", "system")


def test_a_reader_never_sees_a_change_whose_commit_fails(ledger: RecordingLedger) -> None:
    rid = ledger.execute(
        StartCall(
            interaction_id="uncommitted",
            agent_id="agent-1",
            customer_id="c-1",
            queue="sales",
            direction="inbound",
            tags={},
            occurred_at=T0,
            by=PBX,
        )
    )
    in_store, fail = threading.Event(), threading.Event()

    def stalled_then_lost(*_: Any, **__: Any) -> None:
        in_store.set()  # the command has been applied to a recording object and is being stored
        fail.wait(10)
        raise OperationalError("connection lost before commit")

    outcome: list[BaseException] = []

    def pause() -> None:
        try:
            ledger.execute(Pause(rid, reason="card details", occurred_at=T0 + timedelta(minutes=1), by=PBX))
        except BaseException as error:
            outcome.append(error)

    stored = ledger.recorder.insert_events
    ledger.recorder.insert_events = stalled_then_lost  # type: ignore[method-assign]
    writer = threading.Thread(target=pause)
    writer.start()
    try:
        assert in_store.wait(10)
        during = ledger.get_recording(rid)
        assert (during.paused, during.status, during.version) == (False, RecordingStatus.ACTIVE, 1)
    finally:
        fail.set()
        writer.join(10)
        ledger.recorder.insert_events = stored  # type: ignore[method-assign]
    assert [type(e) for e in outcome] == [OperationalError]
    after = ledger.get_recording(rid)
    assert (after.paused, after.version) == (False, 1)
    assert ledger.execute(Pause(rid, reason="card details", occurred_at=T0 + timedelta(minutes=1), by=PBX))
    assert ledger.get_recording(rid).paused


@pytest.fixture
def two_processes(settings: Settings) -> Iterator[tuple[RecordingLedger, RecordingLedger]]:
    migrate(settings)
    first, second = open_ledger(settings, group_commit=False), open_ledger(settings, group_commit=True)
    yield first, second
    first.close()
    second.close()


@pytest.mark.parametrize("stale", [0, 1], ids=["plain-stale", "group-commit-stale"])
def test_a_command_refused_on_a_stale_cache_is_judged_again_on_the_log(
    two_processes: tuple[RecordingLedger, RecordingLedger], stale: int
) -> None:
    """Two servers behind a load balancer: one started the call (and caches it active), the
    other paused it. The first must accept the resume, not refuse it as "not paused"."""
    ledgers = list(two_processes)
    starter, other = ledgers[stale], ledgers[1 - stale]
    start = StartCall(
        interaction_id=f"stale-{stale}",
        agent_id="agent-1",
        customer_id="c-1",
        queue="sales",
        direction="inbound",
        tags={},
        occurred_at=T0,
        by=PBX,
    )
    rid = starter.execute(start)
    assert starter.cached(rid) is not None and not starter.cached(rid).paused  # type: ignore[union-attr]
    other.execute(Pause(rid, reason="card details", occurred_at=T0 + timedelta(minutes=1), by=PBX))
    starter.execute(Resume(rid, reason="", occurred_at=T0 + timedelta(minutes=2), by=PBX))
    assert [type(e).__name__ for e in starter.history(rid).events][-2:] == ["Paused", "Resumed"]
    # A refusal that holds on the log still stands (and changes nothing).
    with pytest.raises(errors.NotPaused):
        starter.execute(Resume(rid, reason="", occurred_at=T0 + timedelta(minutes=3), by=PBX))
    assert other.get_recording(rid).version == 3


def test_a_purge_shows_at_once_in_another_process_with_a_warm_cache(
    two_processes: tuple[RecordingLedger, RecordingLedger],
) -> None:
    purger, other = two_processes
    rid = purger.execute(
        StartCall(
            interaction_id="purged-elsewhere",
            agent_id="agent-1",
            customer_id="cust-SECRET",
            queue="sales",
            direction="inbound",
            tags={"account": "ACC-SECRET"},
            occurred_at=T0,
            by=PBX,
        )
    )
    purger.execute(
        RequestSnapshot(
            rid,
            snapshot_id="snap-1",
            annotation="note about cust-SECRET",
            occurred_at=T0 + timedelta(minutes=1),
            by=SUE,
        )
    )
    purger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(minutes=5), by=PBX))
    purger.execute(EndAcw(rid, reason="status_change", occurred_at=T0 + timedelta(minutes=6), by=PBX))

    warm = other.get_recording(rid)  # cached here, with its personal fields in clear
    assert (warm.customer_id, warm.tags["account"]) == ("cust-SECRET", "ACC-SECRET")
    assert other.history(rid).events[0].customer_id == "cust-SECRET"  # this process's key cache is warm too

    key_store_of(purger).destroy_recording_keys([rid])
    purger.purge_all(
        [rid], now=T0 + timedelta(days=1), reason="erasure request", by=JOB, storage=_NoMedia(), when_due=False
    )

    seen = other.get_recording(rid)
    assert seen.status is RecordingStatus.PURGED
    assert (seen.customer_id, seen.tags, seen.snapshot_requests["snap-1"][1]) == (
        REDACTED,
        {"account": REDACTED},
        REDACTED,
    )
    recorded = other.history(rid).events[1].timestamp
    for as_it_was in (other.history(rid), other.history(rid, version=2), other.history(rid, as_of=recorded)):
        started = as_it_was.events[0]
        assert (started.customer_id, started.tags) == (REDACTED, {"account": REDACTED})
        assert as_it_was.recording.customer_id == REDACTED
    assert other.history(rid).events[1].annotation == REDACTED
    assert b"cust-SECRET" not in repr(vars(other.get_recording(rid))).encode()


class _NoMedia:
    """The recording has no media objects; its key was destroyed by the test itself."""

    def shred_recordings(self, media: dict[Any, list[str]]) -> None:
        assert all(not keys for keys in media.values())


def test_a_working_copy_shares_no_mutable_state_with_the_committed_recording() -> None:
    """Recording.__deepcopy__ copies containers one level deep: right only while they hold immutable values."""
    ledger = RecordingLedger()  # in memory
    rid = ledger.execute(
        StartCall(
            interaction_id="copy",
            agent_id="agent-1",
            customer_id="c-1",
            queue="sales",
            direction="inbound",
            tags={"lang": "en"},
            occurred_at=T0,
            by=PBX,
        )
    )
    ledger.execute(
        AddSegment(
            rid,
            sequence_number=0,
            start_offset_ms=0,
            duration_ms=4000,
            monitor=0,
            width=8,
            height=8,
            codec="h264",
            fps=5,
            byte_size=10,
            sha256="ab" * 32,
            media_key="seg/0",
            occurred_at=T0 + timedelta(seconds=2),
            by=Actor("capture-client:agent-1", "agent"),
        )
    )
    ledger.execute(Pause(rid, reason="card", occurred_at=T0 + timedelta(seconds=5), by=PBX))
    ledger.execute(Resume(rid, reason="done", occurred_at=T0 + timedelta(seconds=9), by=PBX))
    ledger.execute(PlaceHold(rid, case_id="CASE-1", reason="dispute", occurred_at=T0 + timedelta(seconds=9), by=PBX))
    ledger.execute(
        RequestSnapshot(rid, snapshot_id="s-1", annotation="look", occurred_at=T0 + timedelta(seconds=9), by=SUE)
    )
    committed = ledger.get_recording(rid)
    copied = copy.deepcopy(committed)
    assert vars(copied) == vars(committed)

    def mutable_parts(value: Any) -> Iterator[Any]:
        if isinstance(value, dict | list | set):
            yield value
            for item in value.items() if isinstance(value, dict) else value:
                yield from mutable_parts(item)
        elif isinstance(value, tuple):
            for item in value:
                yield from mutable_parts(item)

    for name, value in vars(committed).items():
        nested = list(mutable_parts(value))
        assert nested[1:] == [], f"{name} holds a mutable value inside a container: the copy would share it"
        if nested:
            assert getattr(copied, name) is not value
    copied.pause(Pause(copied.id, reason="again", occurred_at=T0 + timedelta(seconds=20), by=PBX))
    assert not committed.paused and len(committed.pauses) == 1 and committed.version == 6
