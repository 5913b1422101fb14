"""`bench/transparency.py --checkpoint-scaling`: signing a checkpoint and one proof of each
kind as the log grows to 10^7 leaves, from the stored nodes, beside the old way (every
leaf hash read into a MerkleTree) at the sizes where it still fits in a run.

Filled in bulk (COPY), not through the ledger: the leaves' indexes and hashes and the
nodes the log_leaves view would store with them, computed by the view's own
CompactRange; leaf_data is 8 bytes instead of ~110 (signing and proofs never read it) and
there are no stored events behind the leaves (nothing here re-hashes events). Each
signing follows the append of one leaf (untimed), so every sign really signs, and
checks the last signed root as the server does. Time: median of --repeat; memory:
tracemalloc's peak over one more call (Python's allocations, the leaf hashes included).
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from adapters.merkle_nodes import read_node_hashes
from adapters.sql_dialect import PostgresDialect
from api.bootstrap import Components
from api.services.transparency import TransparencyLog
from domain.transparency.checkpoints import Checkpoint, checkpoint_of_note
from domain.transparency.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from domain.transparency.stored_tree import StoredTree
from domain.transparency.tree_nodes import CompactRange

ORIGINATOR = UUID(int=7)
CHUNK = 100_000


class Filler:
    """Appends leaves and their nodes by COPY, as the view would store them (one node table per level step)."""

    def __init__(self, url: str, steps: tuple[int, ...]) -> None:
        self.conn = psycopg.connect(url)
        self.edges = {step: CompactRange(0, [], step) for step in steps}
        for step in steps:
            if step != 4:  # the real table holds the kept levels; others are for the comparison only
                self.conn.execute(f"CREATE TABLE merkle_nodes_{step} (LIKE merkle_nodes INCLUDING ALL)")
        self.conn.commit()
        self.node_seconds = dict.fromkeys(steps, 0.0)
        self.leaf_seconds = 0.0

    @property
    def size(self) -> int:
        return self.edges[4].size

    def grow_to(self, target: int) -> None:
        while self.size < target:
            start, end = self.size, min(target, self.size + CHUNK)
            started = time.perf_counter()
            hashes = [leaf_hash(i.to_bytes(8, "big")) for i in range(start, end)]
            with self.conn.cursor() as cursor:
                with cursor.copy(
                    "COPY log_leaves (leaf_index, notification_id, originator_id, "
                    "originator_version, leaf_data, leaf_hash) FROM STDIN"
                ) as copy:
                    for i, h in zip(range(start, end), hashes, strict=True):
                        copy.write_row((i, i + 1, ORIGINATOR, i + 1, i.to_bytes(8, "big"), h))
                self.leaf_seconds += time.perf_counter() - started
                for step, edge in self.edges.items():
                    started = time.perf_counter()
                    table = "merkle_nodes" if step == 4 else f"merkle_nodes_{step}"
                    with cursor.copy(f"COPY {table} (level, node_index, hash) FROM STDIN") as copy:
                        for (level, index), value in edge.append(hashes):
                            copy.write_row((level, index, value))
                    self.node_seconds[step] += time.perf_counter() - started
            self.conn.commit()

    def keep_only(self, step: int) -> None:
        for other in set(self.edges) - {step}:
            self.conn.execute(f"DROP TABLE merkle_nodes_{other}")
            del self.edges[other]
        self.conn.commit()

    def table_bytes(self, table: str) -> int:
        return int(self.conn.execute("SELECT pg_total_relation_size(%s)", [table]).fetchone()[0])

    def rows(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def analyze(self) -> None:
        self.conn.execute("ANALYZE")
        self.conn.commit()


class Counted:
    """A NodeReader that counts the hashes it was asked for."""

    def __init__(self, reader: Any) -> None:
        self.reader, self.asked = reader, 0

    def node_hashes(self, nodes: Any) -> dict[tuple[int, int], bytes]:
        self.asked += len(nodes)
        return dict(self.reader.node_hashes(nodes))


class OtherTable:
    """A NodeReader over merkle_nodes_<step> (the adapter's query, its table renamed)."""

    def __init__(self, url: str, step: int) -> None:
        self.conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)

        # A temporary view comes first in the search path: the adapter's query reads this table.
        self.conn.execute(f"CREATE TEMP VIEW merkle_nodes AS SELECT * FROM merkle_nodes_{step}")

    def node_hashes(self, nodes: Any) -> dict[tuple[int, int], bytes]:
        with self.conn.cursor() as cursor:
            return read_node_hashes(cursor, PostgresDialect(), nodes)


def old_sign(log: TransparencyLog) -> tuple[int, bytes]:
    """sign_checkpoint as it was before the stored nodes: every leaf hash into a MerkleTree."""
    with log._signing:
        size = log.views.leaf_count()
        latest = log.checkpoints.latest()
        tree = MerkleTree(log.views.leaf_hashes(size))
        root = tree.root()
        assert latest is None or tree.prefix_root(latest[0]) == checkpoint_of_note(latest[1]).root
        note = log.signer.sign_checkpoint(Checkpoint(log.origin, size, root))
        assert log.checkpoints.add(size, root, note, datetime.now(UTC))
        return size, note


def measure(fn: Callable[[], Any], repeat: int, before: Callable[[], None] = lambda: None) -> tuple[float, float, Any]:
    """(median seconds over ``repeat`` calls, tracemalloc peak MiB of one more, its result)."""
    times = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    before()
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20, result


def run(components: Components, url: str, sizes: list[int], old_up_to: int, repeat: int) -> None:
    filler = Filler(url, (1, 2, 4))
    compared: list[str] = []
    print("| leaves | what | new (stored nodes) | peak MiB | old (all leaves) | peak MiB | old / new |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    try:
        for size in sizes:
            if size > old_up_to:
                filler.keep_only(4)  # the other level steps are kept up to there only (step 1: a row per leaf)
            fill_s = time.perf_counter()
            filler.grow_to(size)
            filler.analyze()
            fill_s = time.perf_counter() - fill_s
            one_size(components.transparency, filler, size <= old_up_to, repeat)
            print(f"<!-- filled to {size:,} in {fill_s:.0f} s -->")
            if size <= old_up_to:
                compared = steps(filler, url, components.views, repeat)
    finally:
        filler.conn.close()
    print("\n" + "\n".join(compared))


def one_size(log: TransparencyLog, filler: Filler, with_old: bool, repeat: int) -> None:
    views = log.views

    def one_more() -> None:
        filler.grow_to(filler.size + 1)

    sign = measure(log.sign_checkpoint, repeat, one_more)
    n, note = sign[2]
    assert n == filler.size
    root = checkpoint_of_note(note).root
    index, old_size = n // 3, n // 2 + 1
    tree = StoredTree(n, views)
    inclusion = measure(lambda: tree.inclusion_proofs([index])[0], repeat)
    consistency = measure(lambda: log.consistency(old_size, n), repeat)
    verify_inclusion(index, n, views.node_hashes({(0, index)})[(0, index)], inclusion[2], root)
    verify_consistency(old_size, n, tree.prefix_roots([old_size])[0], root, consistency[2])
    # the part of sign that reads the tree: the new root and the last signed one's
    roots = measure(lambda: tree.prefix_roots([n, n - 1]), repeat)
    rows = {"sign": sign, "  its tree read": roots, "inclusion proof": inclusion, "consistency proof": consistency}
    olds: dict[str, tuple[float, float, Any]] = {}
    if with_old:
        olds["sign"] = measure(lambda: old_sign(log), max(repeat // 2, 1), one_more)
        olds["  its tree read"] = measure(lambda: MerkleTree(views.leaf_hashes(n)).prefix_root(n - 1), 1)
        olds["inclusion proof"] = measure(lambda: MerkleTree(views.leaf_hashes(n)).inclusion_proof(index), 1)
        olds["consistency proof"] = measure(lambda: MerkleTree(views.leaf_hashes(n)).consistency_proof(old_size), 1)
        # byte for byte the proofs of a tree over every leaf
        assert inclusion[2] == olds["inclusion proof"][2] and consistency[2] == olds["consistency proof"][2]
    for what, (seconds, peak, _) in rows.items():
        old = olds.get(what)
        tail = f"{old[0] * 1000:,.1f} ms | {old[1]:,.1f} | {old[0] / seconds:,.0f}x" if old else "— | — | —"
        print(f"| {n:,} | {what} | {seconds * 1000:,.2f} ms | {peak:,.2f} | {tail} |")


def steps(filler: Filler, url: str, views: Any, repeat: int) -> list[str]:
    """Which levels to keep: the cost of each choice at the size reached (the table's lines)."""
    n = filler.size
    lines = [
        f"| levels kept (at {n:,} leaves) | node rows | rows per leaf | table + index MiB | edge + COPY s "
        f"(leaves alone: {filler.leaf_seconds:.1f} s) | hashes read | root + 1 inclusion + 1 consistency |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for step in (1, 2, 4):
        table = "merkle_nodes" if step == 4 else f"merkle_nodes_{step}"
        reader = Counted(views if step == 4 else OtherTable(url, step))
        StoredTree(n, reader, step).root(), StoredTree(n, reader, step).inclusion_proofs([n // 3])
        StoredTree(n, reader, step).consistency_proofs([n // 2])
        asked, tree = reader.asked, StoredTree(n, reader.reader, step)
        seconds, _, _ = measure(
            lambda tree=tree: (tree.root(), tree.inclusion_proofs([n // 3]), tree.consistency_proofs([n // 2])),
            repeat * 3,  # small and noisy: more of them
        )
        rows = filler.rows(table)
        lines.append(
            f"| every {step} | {rows:,} | {rows / n:.3f} | {filler.table_bytes(table) / 2**20:,.1f} | "
            f"{filler.node_seconds[step]:.1f} | {asked} | {seconds * 1000:.2f} ms |"
        )
    return lines
