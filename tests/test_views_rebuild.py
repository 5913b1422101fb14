"""`callvault projections rebuild`: the views shared out between processes end as the incremental fold made them."""

from __future__ import annotations

import os

import msgspec
import pytest

from adapters.settings import Settings
from api.jobs import views_rebuild
from domain.ledger import RecordingLedger
from domain.values import Actor
from projections.runner import Projections
from tests.support.simulated_day import DAY, simulate
from tests.support.view_contents import snapshot


@pytest.fixture
def group_commit() -> bool:
    return False  # how events were written does not matter to the views


def contents(projections: Projections) -> tuple[object, ...]:
    store = projections.store
    return snapshot(store), store.leaf_hashes(store.leaf_count()), store.directory()


def test_a_rebuild_in_shares_equals_the_incremental_fold(
    ledger: RecordingLedger, projections: Projections, settings: Settings
) -> None:
    ledger.register_user(name="rebuilder", role="auditor", team=None, occurred_at=DAY, by=Actor("setup", "admin"))
    simulate(ledger, calls=30)
    projections.catch_up()
    folded = contents(projections)
    head = ledger.recorder.max_notification_id()
    small_windows = msgspec.structs.replace(settings, projection_batch_size=40)  # many windows per process
    shares = views_rebuild.shares(small_windows, projections, projections.names())
    # One process per core on PostgreSQL (at most one per view), all in this one on SQLite.
    cores = len(os.sched_getaffinity(0))
    assert len(shares) == (min(cores, len(projections.names())) if settings.uses_postgres else 1)
    assert sorted(sum(shares, [])) == sorted(projections.names())
    seen: list[int] = []

    applied = views_rebuild.rebuild(small_windows, projections, None, seen.append)

    assert applied == head * len(projections.names())
    assert sum(seen) == head * len(shares)  # each process reads the log once
    assert contents(projections) == folded
    assert {lag.position for lag in projections.status()} == {head}


def test_a_rebuild_of_some_views_leaves_the_others(ledger: RecordingLedger, projections: Projections, settings) -> None:
    simulate(ledger, calls=10)
    projections.catch_up()
    folded = contents(projections)
    projections.store.reset("directory")  # emptied, and left so: the rebuild below does not name it

    views_rebuild.rebuild(settings, projections, ["recordings", "audit_trail"])

    assert contents(projections)[:2] == folded[:2]
    assert projections.store.directory() == ([], [], [])
    with pytest.raises(KeyError):
        views_rebuild.rebuild(settings, projections, ["nonsense"])


def test_the_views_are_shared_out_by_their_fold_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild lasts as long as its slowest process: the heaviest folds go to different
    processes, and the light ones fill up the lighter share."""
    costs = {"heavy": 37.0, "medium": 22.0, "light": 14.0, "tiny": 1.0, "tinier": 0.5}

    class Fold:
        def __init__(self, cost: float) -> None:
            self.fold_cost = cost

    class Followers:
        followers = {name: type("Follower", (), {"projection": Fold(cost)})() for name, cost in costs.items()}

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    on_postgres = Settings(database_url="postgresql://callvault@127.0.0.1/callvault")

    groups = views_rebuild.shares(on_postgres, Followers(), list(costs))  # type: ignore[arg-type]

    assert sorted(map(sorted, groups)) == [["heavy", "tinier"], ["light", "medium", "tiny"]]
    loads = [sum(costs[name] for name in group) for group in groups]
    assert max(loads) == 37.5  # the best split there is: the heaviest alone could not do better than 37
    assert views_rebuild.shares(Settings(), Followers(), list(costs)) == [list(costs)]  # SQLite: one process
