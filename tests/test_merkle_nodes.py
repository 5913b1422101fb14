"""The tree's interior the log_leaves view keeps (merkle_nodes), on both engines: the nodes a
tree over all the leaves has, the same after a rebuild, right after another process moved
the view, and a forged one found by the self-audit."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import psycopg
import pytest

from adapters.event_store import open_view_store
from adapters.settings import Settings
from adapters.view_store import ViewStore
from domain.ledger import RecordingLedger
from domain.transparency.merkle import MerkleTree
from domain.transparency.tree_nodes import CompactRange, is_stored
from projections.follower import read_log
from projections.log_leaves import LogLeavesView
from projections.runner import Projections
from tests.support.api_client import Api
from tests.support.calls import paused_call
from tests.support.simulated_day import simulate


def node_rows(store: ViewStore) -> list[tuple[int, int, bytes]]:
    with store._datastore.transaction(commit=False) as cursor:
        cursor.execute("SELECT level, node_index, hash FROM merkle_nodes ORDER BY level, node_index")
        return [(int(r["level"]), int(r["node_index"]), bytes(r["hash"])) for r in cursor.fetchall()]


def expected_nodes(leaf_hashes: list[bytes]) -> list[tuple[int, int, bytes]]:
    """Every complete subtree of a kept level, from a tree over all the leaves."""
    tree = MerkleTree(leaf_hashes)
    return sorted(
        (level, index, tree.subtree_root(index << level, (index + 1) << level))
        for level in range(1, len(leaf_hashes).bit_length())
        if is_stored(level)
        for index in range(len(leaf_hashes) >> level)
    )


def whole_tree(store: ViewStore) -> tuple[list[bytes], list[Any]]:
    return store.leaf_hashes(store.leaf_count()), node_rows(store)


def test_the_nodes_are_those_of_the_whole_tree_and_a_rebuild_stores_the_same(
    ledger: RecordingLedger, projections: Projections
) -> None:
    simulate(ledger, 30)
    projections.catch_up()
    leaves, nodes = whole_tree(projections.store)
    assert len(leaves) > 256  # two kept levels at least
    assert nodes == expected_nodes(leaves) and {level for level, _, _ in nodes} >= {4, 8}
    projections.rebuild(["log_leaves"])
    assert whole_tree(projections.store) == (leaves, nodes)


def test_a_view_moved_by_another_process_still_stores_the_right_nodes(ledger: RecordingLedger) -> None:
    """Two processes take turns on the view in uneven batches: each finds its kept right edge
    stale after the other's batches, reads it back from the stored nodes and goes on."""
    simulate(ledger, 20)
    events = read_log(ledger, 0, 100_000).events
    ours, theirs = open_view_store(ledger), open_view_store(ledger)
    views = [(LogLeavesView(), ours), (LogLeavesView(), theirs)]
    done, turn = 0, 0
    for size in [7, 9, 16, 1, 30, 5, 64, 3, 100, 17] * 20:
        if done >= len(events):
            break
        batch = events[done : done + size]
        view, store = views[turn % 2 if size % 3 else 0]  # now and then the same process twice running
        previous = events[done - 1].notification_id if done else 0
        view.apply(store, batch, previous, batch[-1].notification_id)
        done, turn = done + len(batch), turn + 1
    assert done == len(events)
    leaves, nodes = whole_tree(ours)
    assert len(leaves) == len(events) and nodes == expected_nodes(leaves)
    assert CompactRange(0, []).append(leaves) == [
        ((level, index), value) for level, index, value in sorted(nodes, key=lambda n: ((n[1] + 1) << n[0], n[0]))
    ]


def superuser_forges_node(settings: Settings, level: int, index: int) -> None:
    """What the service's role may not do (it only inserts and deletes nodes): rewrite one."""
    sql = "UPDATE merkle_nodes SET hash = ? WHERE level = ? AND node_index = ?"
    params = [bytes(32), level, index]
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            assert conn.execute(sql.replace("?", "%s"), params).rowcount == 1
    else:
        with closing(sqlite3.connect(settings.sqlite_path, isolation_level=None)) as conn:
            assert conn.execute(sql, params).rowcount == 1


@pytest.fixture
def group_commit() -> bool:
    return True


def test_a_forged_node_is_found_by_the_self_audit(api: Api, settings: Settings) -> None:
    for number in range(8):
        paused_call(api.components.ledger, f"nodes-{number}")
    log = api.components.transparency
    log.sign_checkpoint()
    assert log.self_audit(batch=10_000) == [] and log.self_audit(batch=10_000) == []  # a pass, its end
    assert log.alarm() is None  # and the next pass starts at leaf 0
    level, index, _ = node_rows(log.views)[0]
    superuser_forges_node(settings, level, index)
    for _ in range(20):  # small batches: the node is checked in the one holding its last leaf
        log.self_audit(batch=7)
        if log.alarm() is not None:
            break
    assert (
        log.alarm() == f"1 Merkle nodes from (level, index) ({level}, {index}): no longer the hashes of the nodes below"
    )
