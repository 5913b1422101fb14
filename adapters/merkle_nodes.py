"""The Merkle tree's kept nodes (table merkle_nodes, migration 0011) beside its leaves
(log_leaves): rows the log_leaves view appends, and the hashes a root or proof reads."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from adapters.sql_dialect import Dialect
from adapters.view_rows import ViewRow
from domain.transparency.tree_nodes import Node


class MerkleNodeRow(ViewRow, kw_only=True):
    """The hash of a complete subtree of a kept level (domain/transparency/tree_nodes.py)."""

    level: int
    node_index: int
    hash: bytes


_LEAVES = "SELECT 0 AS level, leaf_index AS node_index, leaf_hash AS hash FROM log_leaves"
_NODES = "SELECT level, node_index, hash FROM merkle_nodes"


def read_node_hashes(cursor: Any, dialect: Dialect, nodes: Collection[Node]) -> dict[Node, bytes]:
    """The stored hashes of these nodes, in one statement; level 0 are the leaves' own hashes.

    One indexed look-up per level asked for (a proof asks for a few dozen nodes over
    O(log n) levels), never a scan, however large the tables.
    """
    by_level: dict[int, list[int]] = {}
    for level, index in nodes:
        by_level.setdefault(level, []).append(index)
    parts: list[str] = []
    params: list[int] = []
    for level, indexes in sorted(by_level.items()):
        marks = ",".join("?" * len(indexes))
        if level == 0:
            parts.append(f"{_LEAVES} WHERE leaf_index IN ({marks})")
        else:
            parts.append(f"{_NODES} WHERE level = ? AND node_index IN ({marks})")
            params.append(level)
        params.extend(indexes)
    if not parts:
        return {}
    cursor.execute(dialect.sql(" UNION ALL ".join(parts)), params)
    return {(int(row["level"]), int(row["node_index"])): bytes(row["hash"]) for row in cursor.fetchall()}
