"""The interior of the log's Merkle tree as it grows: which complete subtrees exist,
which of them are kept, and the compact range that appends leaves.

A node (level, index) is the complete, aligned subtree over the leaves
[index * 2**level, (index + 1) * 2**level); level 0 is a leaf. Once a tree holds all
of a node's leaves, its hash never changes however the tree grows (RFC 9162 splits
every tree at powers of two from 0), so each can be stored once, when it completes,
and every root or proof of any later size is put together from O(log n) of them.

Only every ``STORED_LEVEL_STEP``-th level is kept (4, 8, 12, ...; leaves are kept as
leaves): that is 1 node per 15 leaves instead of 1 per leaf, and a node of a level
in between is hashed from at most 8 kept nodes or leaves below it
(docs/benchmarks.md, "Checkpoints and proofs", says what that costs and saves).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from domain.transparency.merkle import EMPTY_ROOT, node_hash

Node = tuple[int, int]  # (level, index)
STORED_LEVEL_STEP = 4


def is_stored(level: int, step: int = STORED_LEVEL_STEP) -> bool:
    """Whether nodes of this level are kept (level 0, the leaves, always are: as leaves)."""
    return level % step == 0


def stored_below(node: Node, step: int = STORED_LEVEL_STEP) -> list[Node]:
    """The kept nodes (or leaves) a node is hashed from: itself, if its level is kept."""
    level, index = node
    base = level - level % step
    width = 1 << (level - base)
    return [(base, i) for i in range(index * width, (index + 1) * width)]


def completed_in(start: int, end: int, step: int = STORED_LEVEL_STEP) -> list[Node]:
    """The kept nodes above the leaves whose last leaf lies in [start, end): a pass over the
    leaves in consecutive ranges meets each node once, when all its leaves have been seen."""
    nodes: list[Node] = []
    level = step
    while 1 << level <= end:
        nodes.extend((level, index) for index in range(start >> level, end >> level))
        level += step
    return nodes


def kept_children(node: Node, step: int = STORED_LEVEL_STEP) -> list[Node]:
    """The nodes of the next kept level down (leaves, for the lowest) a kept node is hashed from."""
    level, index = node
    width = 1 << step
    return [(level - step, i) for i in range(index * width, (index + 1) * width)]


def hash_up(hashes: Sequence[bytes]) -> bytes:
    """The root of a complete subtree from its nodes of one level, left to right (2**k of them)."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def cover(start: int, end: int) -> list[Node]:
    """The complete subtrees MTH(D[start:end]) is made of, largest first, for a range of the
    tree: a complete subtree, or a right edge whose start is aligned to a power of two at
    least its length (every range a proof asks for is one, merkle.Range says why)."""
    size = end - start
    if size <= 0 or start % (1 << max(size - 1, 0).bit_length()):
        raise ValueError(f"[{start}, {end}) is not a range of an RFC 9162 tree")
    nodes: list[Node] = []
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def fold(roots: Sequence[bytes]) -> bytes:
    """MTH of a range from the roots of its cover, largest first: hashed from the right."""
    if not roots:
        return EMPTY_ROOT
    root = roots[-1]
    for left in reversed(roots[:-1]):
        root = node_hash(left, root)
    return root


class CompactRange:
    """The right edge of a tree of ``size`` leaves: the roots of ``cover(0, size)``.

    O(log n) hashes in memory, whatever the size. Appending leaves completes new
    subtrees, which the caller stores (those of kept levels) with the leaves.
    """

    def __init__(self, size: int, roots: Iterable[bytes], step: int = STORED_LEVEL_STEP) -> None:
        self.size = size
        self.step = step
        self._roots = list(roots)
        if len(self._roots) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} edge roots, not {len(self._roots)}")

    @staticmethod
    def edge(size: int) -> list[Node]:
        """The nodes whose roots make up the range of a tree of ``size`` leaves."""
        return cover(0, size) if size else []

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self._roots, self.step)

    def append(self, leaf_hashes: Iterable[bytes]) -> list[tuple[Node, bytes]]:
        """Adds the leaves; returns the subtrees of kept levels they complete, in completion order."""
        completed: list[tuple[Node, bytes]] = []
        roots, step = self._roots, self.step
        for leaf in leaf_hashes:
            roots.append(leaf)
            index, level = self.size, 0
            self.size += 1
            while index & 1:  # a right child: it completes its parent with the root on its left
                right = roots.pop()
                roots[-1] = node_hash(roots[-1], right)
                index, level = index >> 1, level + 1
                if level % step == 0:
                    completed.append(((level, index), roots[-1]))
        return completed

    def root(self) -> bytes:
        return fold(self._roots)
