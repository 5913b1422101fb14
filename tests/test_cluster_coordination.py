"""What lets several servers share one store: scheduled jobs claimed once per due time, and
one follower per view at a time (adapters/job_claims.py, adapters/view_leases.py).
The three real server processes are in tests/test_three_nodes.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from adapters.event_store import open_job_claims
from adapters.settings import Settings
from adapters.view_leases import AdvisoryLocks, view_leases
from api.jobs.scheduled import OncePerCluster, due_time
from domain.ledger import RecordingLedger


@pytest.fixture
def group_commit() -> bool:
    return False  # the claims table is outside the ledger's writes


def test_due_times_are_the_same_on_every_server() -> None:
    base = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
    assert due_time(base + timedelta(seconds=14.9), 15) == base
    assert due_time(base + timedelta(seconds=15), 15) == base + timedelta(seconds=15)
    assert due_time(base + timedelta(milliseconds=300), 0.25) == base + timedelta(milliseconds=250)


def test_each_due_time_runs_on_one_server_however_many_ask(ledger: RecordingLedger) -> None:
    """Eight servers fire the same job at the same moments; one runs each due time."""
    claims = open_job_claims(ledger)
    ran: list[str] = []
    guard = threading.Lock()

    def job_of(node: str):  # type: ignore[no-untyped-def]
        def job() -> None:
            with guard:
                ran.append(node)

        return OncePerCluster(claims, node).wrap("retention", 0.2, job)

    for _ in range(3):  # three rounds of eight, each round in a due time of its own
        threads = [threading.Thread(target=job_of(f"node-{i}")) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Wait into a due time none of the eight can have claimed. On a loaded machine a round
        # may cross into the next due time (some of its eight then claim that one): counting
        # from the due time before the round, the next round started in a due time already run.
        last_seen = due_time(datetime.now(UTC), 0.2)
        while due_time(datetime.now(UTC), 0.2) == last_seen:
            threading.Event().wait(0.01)
    runs = claims.runs("retention")
    assert len(runs) >= 3  # every round ran its due time (two, if it crossed into the next)
    assert len({due for due, _ in runs}) == len(runs)  # one claim per due time...
    assert sorted(ran) == sorted(node for _, node in runs)  # ...and one run each, by the claimer


def test_claims_older_than_a_week_are_pruned_by_the_next_claim(ledger: RecordingLedger) -> None:
    claims = open_job_claims(ledger)
    now = datetime.now(UTC)
    assert claims.claim("checkpoint", now - timedelta(days=8), "old", now - timedelta(days=8))
    assert claims.claim("checkpoint", now - timedelta(days=6), "recent", now - timedelta(days=6))
    assert not claims.claim("checkpoint", now - timedelta(days=6), "again", now)
    assert claims.claim("checkpoint", now, "new", now)
    assert [node for _, node in claims.runs("checkpoint")] == ["recent", "new"]


def test_one_follower_holds_each_view_and_another_takes_over_when_it_is_gone(
    ledger: RecordingLedger, settings: Settings
) -> None:
    views = ["recordings", "audit_trail"]
    first, second = view_leases(settings), view_leases(settings)
    try:
        assert first.held(views) == views
        if not settings.uses_postgres:  # the embedded store has one server: it holds every view
            assert second.held(views) == views
            return
        assert isinstance(first, AdvisoryLocks) and second.held(views) == []
        assert first.held(views) == views  # still held: asking again re-proves the session
        first.close()  # as when its process ends: PostgreSQL frees the session's locks
        assert second.held(views) == views
        assert first.held(views) == []
    finally:
        first.close()
        second.close()
