"""RFC 9162 §2.1 Merkle tree hashing and proofs (domain.transparency.merkle).

Every hard-coded expected hash below is copied from public reference code,
named next to it; none was computed here. The property and mutation tests
check the generators and the verifiers against each other and against the
small, literal RFC transcriptions at the bottom of this file.
"""

import ast
import hashlib
import random
from pathlib import Path

import pytest

from domain.transparency import merkle
from domain.transparency.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from domain.transparency.stored_tree import MissingNodes, StoredTree, read_subtrees
from domain.transparency.tree_nodes import STORED_LEVEL_STEP, CompactRange, cover

# --- known answers ----------------------------------------------------------

# transparency-dev/merkle, testonly/constants.go, LeafInputs(): the eight
# leaf inputs of the RFC 6962 / Certificate Transparency reference tree.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# transparency-dev/merkle, testonly/constants.go, NodeHashes(): the hash of
# every complete subtree of that tree; NODES[level][i] covers leaves
# [i * 2**level, (i + 1) * 2**level). Level 0 holds the leaf hashes.
NODES = [
    [
        bytes.fromhex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        bytes.fromhex("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        bytes.fromhex("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        bytes.fromhex("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        bytes.fromhex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        bytes.fromhex("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        bytes.fromhex("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        bytes.fromhex("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        bytes.fromhex("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        bytes.fromhex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        bytes.fromhex("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        bytes.fromhex("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        bytes.fromhex("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        bytes.fromhex("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# transparency-dev/merkle, testonly/constants.go, RootHashes() (sizes 0..8);
# sizes 1..8 are also the `roots` of proof/verify_test.go.
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]

LEAF_HASHES = NODES[0]


def _hexes(*values: str) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


# (index, size, proof). Sources:
#   [V] transparency-dev/merkle, proof/verify_test.go, `inclusionProofs`
#       (its leaf numbers are 1-based; converted to 0-based indices here);
#   [R] transparency-dev/merkle, testonly/reference_test.go, TestRefInclusionProof.
INCLUSION_VECTORS = [
    (0, 1, []),  # [V] {1, 1, nil}, [R]
    (
        0,
        8,
        _hexes(  # [V] {1, 8, ...}, [R]
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hexes(  # [V] {6, 8, ...}, [R]
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        3,
        _hexes(  # [V] {3, 3, ...}, [R]
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        ),
    ),
    (
        1,
        5,
        _hexes(  # [V] {2, 5, ...}, [R]
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        0,
        2,
        _hexes(  # [R]
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        ),
    ),
    (
        1,
        2,
        _hexes(  # [R]
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        ),
    ),
]

# (old_size, new_size, proof). Source: transparency-dev/merkle,
# proof/verify_test.go, `consistencyProofs` (the first four are also in
# testonly/reference_test.go, TestRefConsistencyProof).
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        _hexes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hexes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hexes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _hexes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

# Proof layouts from transparency-dev/merkle, proof/proof_test.go (TestInclusion,
# TestConsistency), which list proofs as (level, index) node IDs; each ID is
# looked up in NODES above. Only the cases needing no re-hashed ephemeral node
# are taken. (size, index, node IDs) and (old_size, new_size, node IDs):
INCLUSION_LAYOUTS = [
    (2, 0, [(0, 1)]),
    (2, 1, [(0, 0)]),
    (3, 1, [(0, 0), (0, 2)]),
    (7, 4, [(0, 5), (0, 6), (2, 0)]),
    (7, 5, [(0, 4), (0, 6), (2, 0)]),
    (7, 6, [(1, 2), (2, 0)]),
    (4, 2, [(0, 3), (1, 0)]),
    (5, 3, [(0, 2), (1, 0), (0, 4)]),
    (6, 3, [(0, 2), (1, 0), (1, 2)]),
    (6, 4, [(0, 5), (2, 0)]),
]
CONSISTENCY_LAYOUTS = [
    (1, 2, [(0, 1)]),
    (1, 4, [(0, 1), (1, 1)]),
    (1, 6, [(0, 1), (1, 1), (1, 2)]),
    (2, 3, [(0, 2)]),
    (2, 8, [(1, 1), (2, 1)]),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)]),
    (6, 7, [(1, 2), (0, 6), (2, 0)]),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)]),
    (2, 4, [(1, 1)]),
    (3, 5, [(0, 2), (0, 3), (1, 0), (0, 4)]),
    (3, 6, [(0, 2), (0, 3), (1, 0), (1, 2)]),
    (4, 6, [(1, 2)]),
] + [(size, size, []) for size in (1, 2, 3, 4, 5, 7, 8)]

# transparency-dev/merkle, proof/verify_test.go, `sha256SomeHash`: an
# arbitrary 32-byte value used there as a wrong hash.
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
ZERO_HASH = bytes(32)


def test_hash_primitives_match_transparency_dev():
    # transparency-dev/merkle, rfc6962/rfc6962_test.go, TestRFC6962Hasher.
    assert EMPTY_ROOT == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert leaf_hash(b"") == bytes.fromhex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456") == bytes.fromhex("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert node_hash(b"N123", b"N456") == bytes.fromhex(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_leaf_hashes_of_reference_inputs():
    assert [leaf_hash(data) for data in LEAF_INPUTS] == NODES[0]


@pytest.mark.parametrize("size", range(9))
def test_root_of_reference_tree(size):
    assert MerkleTree(LEAF_HASHES[:size]).root() == ROOTS[size]


def test_every_complete_subtree_of_reference_tree():
    for level, hashes in enumerate(NODES):
        width = 1 << level
        for i, expected in enumerate(hashes):
            assert MerkleTree(LEAF_HASHES[i * width : (i + 1) * width]).root() == expected


def _layout_vectors(layouts):
    return [(a, b, [NODES[level][i] for level, i in ids]) for a, b, ids in layouts]


@pytest.mark.parametrize(
    "index, size, expected",
    INCLUSION_VECTORS + [(i, s, p) for s, i, p in _layout_vectors(INCLUSION_LAYOUTS)],
)
def test_inclusion_proof_known_answers(index, size, expected):
    assert MerkleTree(LEAF_HASHES[:size]).inclusion_proof(index) == expected
    verify_inclusion(index, size, LEAF_HASHES[index], expected, ROOTS[size])


@pytest.mark.parametrize(
    "old_size, new_size, expected",
    CONSISTENCY_VECTORS + _layout_vectors(CONSISTENCY_LAYOUTS),
)
def test_consistency_proof_known_answers(old_size, new_size, expected):
    assert MerkleTree(LEAF_HASHES[:new_size]).consistency_proof(old_size) == expected
    verify_consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], expected)


# --- special cases (after transparency-dev/merkle proof/verify_test.go) ---


def test_single_entry_tree():
    # TestVerifyInclusionSingleEntry: a 1-leaf tree's root is its leaf hash.
    h = leaf_hash(b"data")
    verify_inclusion(0, 1, h, [], h)
    for leaf, root in ((h, b""), (b"", h), (b"", b""), (h, SOME_HASH), (SOME_HASH, h)):
        with pytest.raises(ProofError):
            verify_inclusion(0, 1, leaf, [], root)


@pytest.mark.parametrize("index, size", [(0, 0), (1, 0), (2, 1), (1, 1), (8, 8), (9, 8)])
def test_inclusion_index_outside_tree(index, size):
    # TestVerifyInclusion probes, plus index == size.
    with pytest.raises(ProofError, match="not inside a tree"):
        verify_inclusion(index, size, SOME_HASH, [], SOME_HASH)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, SOME_HASH, [], EMPTY_ROOT)


def test_consistency_special_cases():
    # TestVerifyConsistency, with 32-byte stand-ins for its "don't care" roots.
    r1, r2 = ROOTS[1], ROOTS[2]
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 1, EMPTY_ROOT, r1, [])
    verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    verify_consistency(1, 1, r2, r2, [])
    rejected = [
        (0, 0, r1, r2, []),  # equal sizes, different roots
        (1, 1, r1, r2, []),
        (0, 0, EMPTY_ROOT, r2, []),
        (1, 1, EMPTY_ROOT, r2, []),
        (1, 0, r1, r2, []),  # time travel to the past
        (2, 1, r1, r2, []),
        (2, 1, r2, r1, []),
        (1, 2, r1, r2, []),  # empty proof where one is needed
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),  # proof where none is due
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (0, 1, EMPTY_ROOT, r1, [r1]),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (1, 1, r1, r1, [r1]),
        (0, 0, r1, r1, []),  # the empty tree has exactly one root
        (0, 1, r1, r1, []),
        (0, 1, r2, r1, []),
    ]
    for case in rejected:
        with pytest.raises(ProofError):
            verify_consistency(*case)


def test_malformed_arguments_are_proof_errors():
    proof = MerkleTree(LEAF_HASHES[:5]).inclusion_proof(1)
    leaf, root = LEAF_HASHES[1], ROOTS[5]
    verify_inclusion(1, 5, leaf, proof, root)
    for args in (
        (-1, 5, leaf, proof, root),
        (1, -5, leaf, proof, root),
        (True, 5, leaf, proof, root),
        (1.0, 5, leaf, proof, root),
        (1, "5", leaf, proof, root),
        (1, 5, leaf.hex(), proof, root),
        (1, 5, bytearray(leaf), proof, root),
        (1, 5, leaf, proof, root[:31]),
        (1, 5, leaf, proof, root + b"\x00"),
        (1, 5, leaf, [proof[0][:31], *proof[1:]], root),
        (1, 5, leaf, [*proof[:2], proof[2] + b"\x00"], root),
        (1, 5, leaf, [*proof[:2], None], root),
    ):
        with pytest.raises(ProofError):
            verify_inclusion(*args)

    proof = MerkleTree(LEAF_HASHES[:7]).consistency_proof(3)
    verify_consistency(3, 7, ROOTS[3], ROOTS[7], proof)
    for args in (
        (-3, 7, ROOTS[3], ROOTS[7], proof),
        (3, -7, ROOTS[3], ROOTS[7], proof),
        (-1, -1, EMPTY_ROOT, EMPTY_ROOT, []),
        (3, 7.0, ROOTS[3], ROOTS[7], proof),
        (3, 7, ROOTS[3][:16], ROOTS[7], proof),
        (3, 7, ROOTS[3], b"WrongRoot", proof),
        (3, 7, ROOTS[3], ROOTS[7], [*proof[:-1], proof[-1][:31]]),
        (0, 0, b"", b"", []),
    ):
        with pytest.raises(ProofError):
            verify_consistency(*args)


def test_errors_say_what_is_wrong():
    leaf, root = LEAF_HASHES[1], ROOTS[5]
    proof = MerkleTree(LEAF_HASHES[:5]).inclusion_proof(1)
    for args, reason in (
        ((1, 5, leaf, [*proof, SOME_HASH], root), "longer than the tree is deep"),
        ((1, 5, leaf, proof[:-1], root), "shorter than the tree is deep"),
        ((1, 5, SOME_HASH, proof, root), "does not lead to the given root"),
        ((5, 5, leaf, proof, root), "not inside a tree of size 5"),
        ((-1, 5, leaf, proof, root), "index must be a non-negative integer"),
        ((1, 5, leaf, [proof[0], b"x", proof[2]], root), "proof element 1 is not a 32-byte"),
        ((1, 5, leaf, proof, b"x"), "root is not a 32-byte hash"),
    ):
        with pytest.raises(ProofError, match=reason):
            verify_inclusion(*args)

    old, new = ROOTS[3], ROOTS[7]
    proof = MerkleTree(LEAF_HASHES[:7]).consistency_proof(3)
    for args, reason in (
        ((3, 7, old, new, [*proof, SOME_HASH]), "longer than the tree is deep"),
        ((3, 7, old, new, proof[:-1]), "shorter than the tree is deep"),
        ((3, 7, SOME_HASH, new, proof), "does not lead to the old root"),
        ((3, 7, old, SOME_HASH, proof), "does not lead to the new root"),
        ((3, 7, old, new, []), "consistency proof is empty"),
        ((7, 3, new, old, proof), "larger than new size"),
        ((0, 7, old, new, []), "empty tree's root"),
        ((7, 7, old, new, []), "different roots"),
        ((7, 7, new, new, proof), "must be empty"),
        ((3, -7, old, new, proof), "new size must be a non-negative integer"),
        ((3, 7, old[:31], new, proof), "old root is not a 32-byte hash"),
    ):
        with pytest.raises(ProofError, match=reason):
            verify_consistency(*args)


def test_generators_refuse_impossible_requests():
    for index in (-1, 5, 6):
        with pytest.raises(ValueError):
            MerkleTree(LEAF_HASHES[:5]).inclusion_proof(index)
    with pytest.raises(ValueError):
        MerkleTree([]).inclusion_proof(0)
    for old_size in (-1, 6):
        with pytest.raises(ValueError):
            MerkleTree(LEAF_HASHES[:5]).consistency_proof(old_size)


def test_tree_size_is_not_committed_by_the_root():
    # Inherent in RFC 9162: the verifier can only reject a wrong size when it
    # changes the shape of the proof. Index 0 of a 5-leaf tree is proven by the
    # same left-edge path as in a 6-, 7- or 8-leaf tree, so the size must come
    # from a signed tree head, not from the proof.
    proof = MerkleTree(LEAF_HASHES[:5]).inclusion_proof(0)
    for claimed_size in (5, 6, 7, 8):
        verify_inclusion(0, claimed_size, LEAF_HASHES[0], proof, ROOTS[5])


def test_domain_module_is_pure():
    tree = ast.parse(Path(merkle.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"hashlib", "collections.abc"}


# --- cross-checks -----------------------------------------------------------


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


@pytest.mark.parametrize("size", range(65))
def test_generated_proofs_verify(size):
    leaves = _leaves(size)
    roots = [_reference_root(leaves[:m]) for m in range(size + 1)]
    assert MerkleTree(leaves).root() == roots[size]
    for index in range(size):
        proof = MerkleTree(leaves).inclusion_proof(index)
        assert proof == _reference_path(index, leaves)
        verify_inclusion(index, size, leaves[index], proof, roots[size])
    for old_size in range(size + 1):
        proof = MerkleTree(leaves).consistency_proof(old_size)
        assert proof == _reference_consistency(old_size, leaves)
        verify_consistency(old_size, size, roots[old_size], roots[size], proof)


def test_random_larger_trees():
    rng = random.Random(9162)
    leaves = _leaves(1500)
    for _ in range(40):
        size = rng.randint(65, len(leaves))
        root = MerkleTree(leaves[:size]).root()
        assert root == _reference_root(leaves[:size])
        index, old_size = rng.randrange(size), rng.randint(0, size)
        verify_inclusion(index, size, leaves[index], MerkleTree(leaves[:size]).inclusion_proof(index), root)
        old_root = MerkleTree(leaves[:old_size]).root()
        verify_consistency(old_size, size, old_root, root, MerkleTree(leaves[:size]).consistency_proof(old_size))


def test_ten_thousand_leaves():
    leaves = _leaves(10_000)
    root = MerkleTree(leaves).root()
    assert root == _reference_root(leaves)
    for index in (0, 1, 4095, 4096, 8191, 8192, 9998, 9999):
        proof = MerkleTree(leaves).inclusion_proof(index)
        assert proof == _reference_path(index, leaves)
        verify_inclusion(index, 10_000, leaves[index], proof, root)
    for old_size in (1, 2, 3, 4096, 5000, 8192, 9999):
        proof = MerkleTree(leaves).consistency_proof(old_size)
        verify_consistency(old_size, 10_000, MerkleTree(leaves[:old_size]).root(), root, proof)


def test_prefix_roots_are_the_roots_of_earlier_trees():
    """What the signer compares with the last signed root before it signs a larger tree."""
    leaves = _leaves(300)
    tree = MerkleTree(leaves)
    tree.root()  # cached subtrees shared with the prefixes
    for size in range(0, 301):
        assert tree.prefix_root(size) == _reference_root(leaves[:size])
    for size in (-1, 301):
        with pytest.raises(ValueError):
            tree.prefix_root(size)


def test_consistency_detects_rewritten_history():
    for size in range(2, 17):
        honest = _leaves(size)
        for old_size in range(1, size):
            old_root = MerkleTree(honest[:old_size]).root()
            for tampered_index in range(old_size):
                forked = list(honest)
                forked[tampered_index] = leaf_hash(b"rewritten")
                forked_root = MerkleTree(forked).root()
                with pytest.raises(ProofError):
                    verify_consistency(
                        old_size,
                        size,
                        old_root,
                        forked_root,
                        MerkleTree(forked).consistency_proof(old_size),
                    )
                with pytest.raises(ProofError):
                    verify_consistency(
                        old_size,
                        size,
                        old_root,
                        forked_root,
                        MerkleTree(honest).consistency_proof(old_size),
                    )


# --- mutation corpus (in the manner of transparency-dev/merkle verify_test.go) --

FLIPPED_BITS = (0, 3, 4, 7, 100, 255)


def _flip(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(changed)


def _corrupted_proofs(proof, extras):
    """(description, proof) for every structural corruption of a proof."""
    out = []
    if proof:
        out.append(("empty proof", []))
    for i, element in enumerate(proof):
        for bit in FLIPPED_BITS:
            flipped = [*proof[:i], _flip(element, bit), *proof[i + 1 :]]
            out.append((f"proof[{i}] bit {bit}", flipped))
        out.append((f"proof[{i}] removed", proof[:i] + proof[i + 1 :]))
        out.append((f"proof[{i}] duplicated", proof[: i + 1] + proof[i:]))
        out.append((f"proof[{i}] short", [*proof[:i], element[:31], *proof[i + 1 :]]))
        out.append((f"proof[{i}] long", [*proof[:i], element + b"\x00", *proof[i + 1 :]]))
        out.append((f"proof[{i}] zeroed", [*proof[:i], ZERO_HASH, *proof[i + 1 :]]))
    for name, extra in [*extras, ("zero hash", ZERO_HASH), ("some hash", SOME_HASH), ("b''", b"")]:
        out.append((f"{name} prefixed", [extra, *proof]))
        out.append((f"{name} suffixed", [*proof, extra]))
        if len(proof) > 1:
            out.append((f"{name} inserted", [proof[0], extra, *proof[1:]]))
    if proof != proof[::-1]:
        out.append(("proof reversed", proof[::-1]))
    return out


def _accepts(verify, *args) -> bool:
    try:
        verify(*args)
    except ProofError:
        return False
    return True


@pytest.mark.parametrize("size", range(1, 17))
def test_inclusion_mutations_are_rejected(size):
    leaves = _leaves(size + 1)
    root = MerkleTree(leaves[:size]).root()
    wrongly = []
    for index in range(size):
        leaf, proof = leaves[index], MerkleTree(leaves[:size]).inclusion_proof(index)
        verify_inclusion(index, size, leaf, proof, root)  # the genuine proof holds

        probes = [
            (f"index {i}", i, size, leaf, proof, root)
            for i in {index - 1, index + 1, index ^ 1, index ^ 2, size, -1} - {index}
        ]
        wrong_leaves = [
            leaf_hash(b"WrongLeaf"),
            b"WrongLeaf",
            ZERO_HASH,
            SOME_HASH,
            leaves[size],
            *(_flip(leaf, bit) for bit in FLIPPED_BITS),
        ]
        wrong_leaves += [other for other in (root, *leaves[:size]) if other != leaf]
        probes += [("wrong leaf", index, size, bad, proof, root) for bad in wrong_leaves]
        wrong_roots = [
            EMPTY_ROOT,
            SOME_HASH,
            ZERO_HASH,
            b"WrongRoot",
            leaves[size],
            MerkleTree(leaves[: size - 1]).root(),
            MerkleTree(leaves[: size + 1]).root(),
            *(_flip(root, bit) for bit in FLIPPED_BITS),
        ]
        wrong_roots += [leaf] if leaf != root else []
        probes += [("wrong root", index, size, leaf, proof, bad) for bad in wrong_roots]
        probes += [
            (desc, index, size, leaf, bad, root)
            for desc, bad in _corrupted_proofs(proof, [("root", root), ("leaf", leaf)])
        ]
        wrongly += [f"{index}/{size}: {desc}" for desc, *args in probes if _accepts(verify_inclusion, *args)]

        # Sizes: the root does not commit to the size, so a wrong size can only
        # be caught when it changes the proof's shape (see the test above).
        for claimed in {size - 1, size + 1, size * 2, size // 2, -size}:
            expected = 0 <= index < claimed and (_inclusion_shape(index, claimed) == _inclusion_shape(index, size))
            if _accepts(verify_inclusion, index, claimed, leaf, proof, root) != expected:
                wrongly.append(f"{index}/{size}: size {claimed}")
    assert wrongly == []


@pytest.mark.parametrize("size", range(1, 17))
def test_consistency_mutations_are_rejected(size):
    leaves = _leaves(size + 1)
    roots = [MerkleTree(leaves[:m]).root() for m in range(size + 2)]
    new_root = roots[size]
    wrongly = []
    for old_size in range(size + 1):
        old_root, proof = roots[old_size], MerkleTree(leaves[:size]).consistency_proof(old_size)
        verify_consistency(old_size, size, old_root, new_root, proof)  # the genuine proof holds

        wrong_roots = [
            SOME_HASH,
            ZERO_HASH,
            EMPTY_ROOT,
            roots[size + 1],
            *roots[:size],
            *(_flip(old_root, bit) for bit in FLIPPED_BITS),
        ]
        probes = [("wrong old root", old_size, size, bad, new_root, proof) for bad in wrong_roots if bad != old_root]
        probes += [
            ("malformed old root", old_size, size, b"WrongRoot", new_root, proof),
            ("malformed new root", old_size, size, old_root, b"WrongRoot", proof),
        ]
        if old_size > 0:  # nothing about the new tree follows from the empty tree
            wrong_roots = [
                SOME_HASH,
                ZERO_HASH,
                EMPTY_ROOT,
                roots[size + 1],
                *roots[:size],
                *(_flip(new_root, bit) for bit in FLIPPED_BITS),
            ]
            probes += [
                ("wrong new root", old_size, size, old_root, bad, proof) for bad in wrong_roots if bad != new_root
            ]
        if old_root != new_root:
            probes.append(("swapped roots", old_size, size, new_root, old_root, proof))
        extras = [("old root", old_root), ("new root", new_root)]
        probes += [(desc, old_size, size, old_root, new_root, bad) for desc, bad in _corrupted_proofs(proof, extras)]
        wrongly += [f"{old_size}->{size}: {desc}" for desc, *args in probes if _accepts(verify_consistency, *args)]

        claims = {(old_size + d1, size + d2) for d1 in (-1, 0, 1) for d2 in (-1, 0, 1)}
        claims |= {
            (old_size ^ 2, size),
            (old_size, size * 2),
            (old_size, size // 2),
            (-old_size - 1, size),
            (old_size, -size),
        }
        for claimed_old, claimed_new in claims - {(old_size, size)}:
            accepted = _accepts(verify_consistency, claimed_old, claimed_new, old_root, new_root, proof)
            if accepted != _rfc_cannot_tell(old_size, size, claimed_old, claimed_new):
                wrongly.append(f"{old_size}->{size}: sizes {claimed_old}->{claimed_new}")
    assert wrongly == []


def _rfc_cannot_tell(old_size, new_size, claimed_old, claimed_new) -> bool:
    """Whether a genuine proof for old_size->new_size also fits the claimed sizes.

    Roots do not commit to sizes: from the empty tree any new size follows,
    two equal roots fit any two equal sizes, and otherwise a claim passes
    exactly when it gives the proof the same shape.
    """
    if old_size == 0:
        return claimed_old == 0 and claimed_new > 0  # (0, 0) needs both roots empty
    if old_size == new_size:  # equal roots fit any equal pair of non-zero sizes
        return 0 < claimed_old == claimed_new
    if not 0 < claimed_old < claimed_new:
        return False
    return _consistency_shape(claimed_old, claimed_new) == _consistency_shape(old_size, new_size)


# --- literal RFC transcriptions and a level-by-level tree, for cross-checks ---


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _reference_root(leaves: list[bytes]) -> bytes:
    """Bottom-up, pairing neighbours and carrying an odd last node up unchanged."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    return _levels(leaves)[-1][0]


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        levels.append(above + below[-1:] if len(below) % 2 else above)
    return levels


def _reference_path(index: int, leaves: list[bytes]) -> list[bytes]:
    path = []
    for level in _levels(leaves)[:-1]:
        if index ^ 1 < len(level):
            path.append(level[index ^ 1])
        index //= 2
    return path


def _reference_consistency(m: int, leaves: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) and SUBPROOF of RFC 9162 §2.1.4.1, word for word."""

    def subproof(m, d, b):
        if m == len(d):
            return [] if b else [_reference_root(d)]
        k = _split(len(d))
        if m <= k:
            return subproof(m, d[:k], b) + [_reference_root(d[k:])]
        return subproof(m - k, d[k:], False) + [_reference_root(d[:k])]

    return [] if m in (0, len(leaves)) else subproof(m, leaves, True)


def _inclusion_shape(index: int, size: int) -> list[str]:
    """Which side each sibling of PATH(index, D[size]) sits on, bottom-up."""
    sides = []
    while size > 1:
        k = _split(size)
        if index < k:
            sides.append("right")
            size = k
        else:
            sides.append("left")
            index, size = index - k, size - k
    return sides[::-1]


def _consistency_shape(m: int, n: int, b: bool = True) -> list[str]:
    """The role of each element of SUBPROOF(m, D[n], b), in proof order."""
    if m == n:
        return [] if b else ["old subtree root"]
    k = _split(n)
    if m <= k:
        return _consistency_shape(m, k, b) + ["new right subtree"]
    return _consistency_shape(m - k, n - k, False) + ["shared left subtree"]


# --- the stored tree: roots and proofs from kept nodes (domain.transparency.stored_tree) --


class NodeTable:
    """What the log_leaves view stores, in memory: leaf hashes and the nodes a compact range
    completed while the leaves were appended in batches; counts what each read asked for."""

    def __init__(self, leaves: list[bytes], step: int = STORED_LEVEL_STEP, batch: int = 7) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {(0, i): h for i, h in enumerate(leaves)}
        self.reads: list[int] = []
        edge = CompactRange(0, [], step)
        for start in range(0, len(leaves), batch):
            for node, value in edge.append(leaves[start : start + batch]):
                assert node not in self.nodes  # each completes once
                self.nodes[node] = value
        self.edge = edge

    def node_hashes(self, nodes):
        self.reads.append(len(nodes))
        return {n: self.nodes[n] for n in nodes if n in self.nodes}


SIZES = [*range(1, 301), 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097]


@pytest.mark.parametrize("step", [1, 2, 4])
def test_stored_nodes_give_the_roots_and_proofs_of_the_whole_tree(step):
    leaves = _leaves(SIZES[-1])
    table = NodeTable(leaves, step)
    assert {level for level, _ in table.nodes} == set(range(0, 13, step))
    rng = random.Random(step)
    for size in SIZES:
        tree, stored = MerkleTree(leaves[:size]), StoredTree(size, table, step)
        # every index and old size of the small trees; of the others, both ends and a sample
        indexes = range(size) if size <= 64 else rng.sample(range(size), 16) + [0, size - 1]
        olds = range(size + 1) if size <= 64 else rng.sample(range(size + 1), 16) + [0, 1, size - 1, size]
        assert stored.root() == tree.root()
        assert stored.prefix_roots(list(olds)) == [tree.prefix_root(m) for m in olds]
        assert stored.inclusion_proofs(indexes) == [tree.inclusion_proof(i) for i in indexes]
        assert stored.consistency_proofs(olds) == [tree.consistency_proof(m) for m in olds]


def test_a_proof_reads_a_few_kept_nodes_once():
    leaves = _leaves(4097)
    table = NodeTable(leaves)
    stored = StoredTree(4097, table)
    stored.inclusion_proofs([2049])
    stored.consistency_proofs([3000])
    # one read each; a level between kept ones costs at most 8 nodes, and a path has 13 levels
    assert len(table.reads) == 2 and max(table.reads) <= 8 * 13
    assert StoredTree(0, table).root() == EMPTY_ROOT and table.reads[2:] == []


def test_the_compact_range_is_the_right_edge_of_the_tree():
    leaves = _leaves(300)
    edge = CompactRange(0, [])
    for size in range(1, 301):
        edge.append(leaves[size - 1 : size])
        assert edge.size == size and edge.root() == _reference_root(leaves[:size])
        restored = CompactRange(size, read_subtrees(NodeTable(leaves[:size]), CompactRange.edge(size)))
        assert restored.root() == edge.root()
        assert restored.copy().append(leaves[:3]) == edge.copy().append(leaves[:3])
    with pytest.raises(ValueError):
        CompactRange(5, [leaves[0]])


def test_a_missing_node_is_reported_not_guessed():
    leaves = _leaves(40)
    table = NodeTable(leaves)
    del table.nodes[(4, 1)]
    StoredTree(16, table).root()  # [0, 16) does not need it
    with pytest.raises(MissingNodes):
        StoredTree(40, table).root()
    with pytest.raises(MissingNodes):
        StoredTree(41, table).root()  # a leaf not there


def test_only_ranges_of_a_tree_are_covered():
    assert cover(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert cover(8, 13) == [(2, 2), (0, 12)]
    for start, end in ((1, 3), (4, 9), (3, 3), (2, 1)):
        with pytest.raises(ValueError):
            cover(start, end)


def test_transparency_modules_stay_small():
    for source in Path(merkle.__file__).parent.glob("*.py"):
        assert len(source.read_text().splitlines()) < 230, source.name
