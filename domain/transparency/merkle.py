"""Merkle tree hashing and proofs of RFC 9162 (Certificate Transparency v2) §2.1.

The tree of RFC 6962, transparency-dev/merkle and Sigstore Rekor, so their
verifiers accept these roots and proofs, and ours accept theirs. Generation
follows the RFC's recursive MTH/PATH/SUBPROOF over index ranges (no copying);
verification is a separate path, the bit-walking algorithms of §2.1.3.2 and
§2.1.4.2, which only combine the hashes it is given.
"""

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}), the root of the empty tree
# Domain separation (RFC 9162 §2.1.1): a leaf can never pass for an inner node.
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


class ProofError(ValueError):
    """A proof does not show what it claims, or its inputs are malformed."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): where MTH splits."""
    return 1 << ((n - 1).bit_length() - 1)


# --- generation (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1) ---------------------

# A proof is a list of subtree roots MTH(D[start:end]); which subtrees depends only on
# the sizes, so the ranges are planned apart from the hashing. Every range is a complete
# aligned subtree or the right edge [start, size) of the tree (stored_tree.py relies on it).
Range = tuple[int, int]


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees of PATH(index, D[size]), from the leaf upwards."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} outside 0..{size - 1}")
    path: list[Range] = []
    start, end = 0, size
    while end - start > 1:  # descend towards the leaf, collecting the other halves
        mid = start + _split_point(end - start)
        if index < mid:
            path.append((mid, end))
            end = mid
        else:
            path.append((start, mid))
            start = mid
    path.reverse()  # collected top-down; the RFC orders the path bottom-up
    return path


def consistency_ranges(old_size: int, size: int) -> list[Range]:
    """The subtrees of PROOF(old_size, D[size]): none when old_size is 0 or the whole tree."""
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} outside 0..{size}")
    if old_size in (0, size):
        return []
    proof: list[Range] = []
    # SUBPROOF(m, D[start:end], old_root_is_this_subtree), unrolled top-down.
    m, start, end, is_old_root = old_size, 0, size, True
    while m != end - start:
        mid = start + _split_point(end - start)
        if m <= mid - start:
            proof.append((mid, end))
            end = mid
        else:
            proof.append((start, mid))
            m, start, is_old_root = m - (mid - start), mid, False
    if not is_old_root:  # the verifier cannot know this subtree's root: send it
        proof.append((start, end))
    proof.reverse()
    return proof


class MerkleTree:
    """A tree over fixed leaf hashes, for many proofs: subtree roots of 64 leaves or
    more are kept once computed, so k proofs cost O(n + k log n) hashes, not O(k n).
    (stored_tree.StoredTree serves the same from the nodes the log_leaves view keeps.)"""

    CACHED_FROM = 64  # smaller subtrees are cheaper to rehash than to keep

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.leaf_hashes = leaf_hashes
        self.size = len(leaf_hashes)
        self._roots: dict[Range, bytes] = {}

    def subtree_root(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a non-empty range."""
        if end - start == 1:
            return self.leaf_hashes[start]
        key = (start, end)
        if key in self._roots:
            return self._roots[key]
        mid = start + _split_point(end - start)
        root = node_hash(self.subtree_root(start, mid), self.subtree_root(mid, end))
        if end - start >= self.CACHED_FROM:
            self._roots[key] = root
        return root

    def root(self) -> bytes:
        return self.prefix_root(self.size)

    def prefix_root(self, size: int) -> bytes:
        """MTH of the first ``size`` leaves: the root a checkpoint of that size signed.

        Its subtrees are those of this tree (both split at powers of two from 0), so
        after ``root()`` this costs only the O(log n) hashes on its right edge.
        """
        if not 0 <= size <= self.size:
            raise ValueError(f"prefix size {size} outside 0..{self.size}")
        return self.subtree_root(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int) -> list[bytes]:
        """PATH(index, D[size]): sibling subtree roots, from the leaf upwards."""
        return [self.subtree_root(*r) for r in inclusion_ranges(index, self.size)]

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """PROOF(old_size, D[size]): empty when old_size is 0 or the whole tree."""
        return [self.subtree_root(*r) for r in consistency_ranges(old_size, self.size)]


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2) ---------------------------


def _require_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"{name} must be a non-negative integer, got {value!r}")


def _require_hash(what: str, value: bytes) -> None:
    # Exact lengths: a short or long "hash" could otherwise shift bytes between nodes.
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash")


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless proof shows leaf_hash at index in the tree of root."""
    _require_size("index", index)
    _require_size("size", size)
    _require_hash("leaf hash", leaf_hash)
    _require_hash("root", root)
    for i, p in enumerate(proof):
        _require_hash(f"proof element {i}", p)
    if index >= size:
        raise ProofError(f"leaf index {index} is not inside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:  # skip levels where r has no right sibling
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("inclusion proof does not lead to the given root")


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Raise ProofError unless proof shows the old tree is a prefix of the new one."""
    _require_size("old size", old_size)
    _require_size("new size", new_size)
    _require_hash("old root", old_root)
    _require_hash("new root", new_root)
    for i, c in enumerate(proof):
        _require_hash(f"proof element {i}", c)
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0 or old_size == new_size:  # trivial cases: no proof is due
        if proof:
            raise ProofError("consistency proof must be empty for these sizes")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("old root is not the empty tree's root, SHA-256(b'')")
        if old_size == new_size and old_root != new_root:
            raise ProofError("trees of equal size have different roots")
        return  # the empty tree is a prefix of every tree
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node itself
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")
