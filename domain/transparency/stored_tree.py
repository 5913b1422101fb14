"""Roots and proofs of the log's tree read from its stored nodes, O(log n) of them.

The same ranges as merkle.MerkleTree (merkle.inclusion_ranges, consistency_ranges),
so the proofs are byte for byte those of a tree over every leaf; each range is put
together from the complete subtrees that cover it (tree_nodes.cover), each subtree
from the kept nodes below it (tree_nodes.stored_below), all read in one call.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

from domain.transparency.merkle import EMPTY_ROOT, Range, consistency_ranges, inclusion_ranges
from domain.transparency.tree_nodes import STORED_LEVEL_STEP, Node, cover, fold, hash_up, stored_below


class NodeReader(Protocol):
    def node_hashes(self, nodes: Collection[Node]) -> Mapping[Node, bytes]:
        """The stored hashes of these nodes (level 0: the leaf hashes); those not stored are left out."""
        ...


class MissingNodes(LookupError):
    """The store does not hold the tree asked for (not that many leaves, or being rebuilt)."""


def read_subtrees(reader: NodeReader, nodes: Sequence[Node], step: int = STORED_LEVEL_STEP) -> list[bytes]:
    """The roots of these complete subtrees, from one read of the kept nodes below them."""
    below = {node: stored_below(node, step) for node in nodes}
    wanted = {n for parts in below.values() for n in parts}
    found = reader.node_hashes(wanted) if wanted else {}
    if len(found) < len(wanted):
        missing = min(wanted - set(found))
        raise MissingNodes(f"the stored tree lacks node {missing} (level, index)")
    return [hash_up([found[n] for n in below[node]]) for node in nodes]


class StoredTree:
    """The tree of the first ``size`` leaves, as a store of its nodes holds it.

    Each method reads once, however many roots or proofs it answers, so a batch of
    proofs costs one read of O(k log n) hashes; nothing here grows with the log.
    """

    def __init__(self, size: int, reader: NodeReader, step: int = STORED_LEVEL_STEP) -> None:
        self.size = size
        self._reader = reader
        self._step = step

    def subtree_roots(self, ranges: Sequence[Range]) -> list[bytes]:
        """MTH(D[start:end]) of each range (ranges of this tree, as merkle.Range says)."""
        covers = [cover(start, end) for start, end in ranges]
        unique = list(dict.fromkeys(node for nodes in covers for node in nodes))
        roots = dict(zip(unique, read_subtrees(self._reader, unique, self._step), strict=True))
        return [fold([roots[node] for node in nodes]) for nodes in covers]

    def root(self) -> bytes:
        return self.prefix_roots([self.size])[0]

    def prefix_roots(self, sizes: Sequence[int]) -> list[bytes]:
        """MTH of the first ``size`` leaves for each size: the roots checkpoints of those sizes signed."""
        for size in sizes:
            if not 0 <= size <= self.size:
                raise ValueError(f"prefix size {size} outside 0..{self.size}")
        roots = iter(self.subtree_roots([(0, size) for size in sizes if size]))
        return [next(roots) if size else EMPTY_ROOT for size in sizes]

    def inclusion_proofs(self, indexes: Iterable[int]) -> list[list[bytes]]:
        """PATH(index, D[size]) of each leaf index, as merkle.MerkleTree.inclusion_proof gives it."""
        return self._proofs([inclusion_ranges(index, self.size) for index in indexes])

    def consistency_proofs(self, old_sizes: Iterable[int]) -> list[list[bytes]]:
        """PROOF(old_size, D[size]) for each old size, as merkle.MerkleTree.consistency_proof gives it."""
        return self._proofs([consistency_ranges(old_size, self.size) for old_size in old_sizes])

    def _proofs(self, plans: list[list[Range]]) -> list[list[bytes]]:
        hashes = iter(self.subtree_roots([r for plan in plans for r in plan]))
        return [[next(hashes) for _ in plan] for plan in plans]
