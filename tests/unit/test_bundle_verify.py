"""The offline export-bundle verifier (domain.transparency) on real, synthetic bundles.

Each bundle is built here from scratch: stored-event JSON of several
recordings in one log, leaves, an RFC 9162 tree with inclusion and consistency
proofs, and checkpoints signed with a fresh Ed25519 key. No server involved.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import random
import sys
import warnings
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.note_signing import NoteSigner, generate_key, verify_note
from domain.transparency.bundle_decoding import zip_members
from domain.transparency.checkpoints import Checkpoint
from domain.transparency.leaves import Leaf
from domain.transparency.merkle import MerkleTree, leaf_hash
from domain.transparency.notes import NoteError
from domain.transparency.verifier import KNOWN_CHECKPOINT, KNOWN_CONSISTENCY, BundleError, verify_bundle

ORIGIN = "callvault.example/log"
REC = UUID("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0ff")  # the exported recording
OTHER = UUID("22222222-2222-4222-8222-222222222222")
THIRD = UUID("33333333-3333-4333-8333-333333333333")
TOPIC = "domain.recording:Recording."
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

SEG0, SEG1, VOICE, SNAP = b"segment zero \x00\x01", b"segment one \xff", b"OggS voice", b"\x89PNG snap"
OTHER_SEG = b"segment of another recording"
COMBINED = b"\x00\x00\x00\x18ftypmp42 combined"

# (recording, event type, payload fields) in log order; versions are counted per recording.
LOG: list[tuple[UUID, str, dict[str, Any]]] = [
    (REC, "CallStarted", {"interaction_id": "call-1"}),
    (OTHER, "CallStarted", {"interaction_id": "call-2"}),
    (REC, "ScreenSampled", {"sequence_number": 0, "sha256": hashlib.sha256(SEG0).hexdigest()}),
    (REC, "ScreenSampled", {"sequence_number": 1, "sha256": hashlib.sha256(SEG1).hexdigest()}),
    (THIRD, "CallStarted", {"interaction_id": "call-3"}),
    (OTHER, "ScreenSampled", {"sequence_number": 0, "sha256": hashlib.sha256(OTHER_SEG).hexdigest()}),
    (REC, "VoiceRecorded", {"codec": "opus", "sha256": hashlib.sha256(VOICE).hexdigest()}),
    (REC, "Paused", {"reason": "card details"}),
    (THIRD, "Paused", {"reason": "break"}),
    (REC, "Resumed", {"reason": "done"}),
    (REC, "SnapshotTaken", {"snapshot_id": "s1", "sha256": hashlib.sha256(SNAP).hexdigest()}),
    (OTHER, "CallEnded", {"reason": "hangup"}),
    (REC, "CallEnded", {"reason": "hangup"}),
    (REC, "Exported", {"reason_code": "court", "what": "all"}),  # manifest_sha256 added when built
    (THIRD, "CallEnded", {"reason": "hangup"}),
    (OTHER, "Played", {"reason_code": "qa", "what": "screen"}),
    (THIRD, "AcwEnded", {"reason": "done"}),
]
OLD_SIZES = (8, 13)  # earlier checkpoints shipped in the bundle (8: a power of two)
KEY_NAME = "callvault-test"
SIGNER_TEXT, VERIFIER_TEXT = generate_key(KEY_NAME)
SIGNER = NoteSigner.from_text(SIGNER_TEXT)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


@dataclass
class Built:
    files: dict[str, bytes]
    leaf_hashes: list[bytes]
    lines: dict[tuple[UUID, int], bytes]  # (recording, version) -> its events.jsonl line


def build(
    *,
    recording_id: str = str(REC),
    format_name: str = "callvault-export/1",
    extra_media: bool = False,
    proof_size: int | None = None,
    old_sizes: tuple[int, ...] = OLD_SIZES,
) -> Built:
    """A valid bundle of REC (or, with the options, one invalid in a single way)."""
    media = {
        f"media/segments/000000-{hashlib.sha256(SEG0).hexdigest()}.ts": SEG0,
        f"media/segments/000001-{hashlib.sha256(SEG1).hexdigest()}.ts": SEG1,
        f"media/voice/{hashlib.sha256(VOICE).hexdigest()}.opus": VOICE,
        f"media/snapshots/s1-{hashlib.sha256(SNAP).hexdigest()}.png": SNAP,
        "media/combined.mp4": COMBINED,
    }
    if extra_media:
        media["media/segments/other.ts"] = OTHER_SEG
    manifest = dumps(
        {
            "format": format_name,
            "recording_id": recording_id,
            "interaction_id": "call-1",
            "exported_by": "lena",
            "reason": "court order 12/2026",
            "files": {path: hashlib.sha256(data).hexdigest() for path, data in media.items()},
        }
    )
    versions: dict[UUID, int] = {}
    leaves: list[bytes] = []
    records = []
    for index, (originator, kind, fields) in enumerate(LOG):
        versions[originator] = version = versions.get(originator, 0) + 1
        payload = {"timestamp": (T0 + timedelta(seconds=index)).isoformat(), "actor": "lena", **fields}
        if kind == "Exported":
            payload["manifest_sha256"] = hashlib.sha256(manifest).hexdigest()
        state = dumps(payload)
        topic = TOPIC + kind
        leaf = Leaf.of_stored_event(index, originator, version, topic, T0 + timedelta(seconds=index), state)
        leaves.append(leaf.encode())
        records.append((index, originator, version, topic, state))
    hashes = [leaf_hash(leaf) for leaf in leaves]
    size = len(hashes)
    checkpoint = SIGNER.sign_checkpoint(Checkpoint(ORIGIN, size, MerkleTree(hashes).root()))
    proof_hashes = hashes[: proof_size or size]
    lines = {}
    for index, originator, version, topic, state in records:
        if index >= len(proof_hashes):
            continue
        lines[(originator, version)] = dumps(
            {
                "leaf_index": index,
                "leaf": base64.b64encode(leaves[index]).decode(),
                "state": base64.b64encode(state).decode(),
                "topic": topic,
                "originator_id": str(originator),
                "originator_version": version,
                "inclusion_proof": [h.hex() for h in MerkleTree(proof_hashes).inclusion_proof(index)],
            }
        )
    events = b"".join(line + b"\n" for (rec, _), line in lines.items() if rec == REC)
    files = {"manifest.json": manifest, "checkpoint.txt": checkpoint, "events.jsonl": events, **media}
    for old in old_sizes:
        files[f"checkpoints/{old}.txt"] = old_checkpoint(hashes, old)
        files[f"consistency/{old}.json"] = dumps(
            {
                "old_size": old,
                "old_root": MerkleTree(hashes[:old]).root().hex(),
                "new_size": size,
                "proof": [h.hex() for h in MerkleTree(hashes).consistency_proof(old)],
            }
        )
    return Built(files, hashes, lines)


def old_checkpoint(hashes: list[bytes], size: int, signer: NoteSigner = SIGNER, origin: str = ORIGIN) -> bytes:
    return signer.sign_checkpoint(Checkpoint(origin, size, MerkleTree(hashes[:size]).root()))


def verify(
    files: dict[str, bytes], key: str = VERIFIER_TEXT, known: bytes | None = None, served: bytes | None = None
) -> list[str]:
    return verify_bundle(files, key, known, verify_note=verify_note, known_consistency=served)


def rejected(
    files: dict[str, bytes], key: str = VERIFIER_TEXT, known: bytes | None = None, served: bytes | None = None
) -> BundleError:
    with pytest.raises(BundleError) as info:
        verify(files, key, known, served)
    assert info.value.file in str(info.value)
    return info.value


BUNDLE = build()


def test_a_valid_bundle_verifies_and_lists_its_checks() -> None:
    checks = verify(BUNDLE.files)
    assert checks[0] == f"checkpoint.txt: signed by {KEY_NAME}, origin {ORIGIN}, size {len(LOG)}"
    assert checks[1] == f"events.jsonl: 9 events of recording {REC} (versions 1-9) included in the checkpoint"
    assert checks[2] == "manifest.json: bound to the Exported event v9"
    segment = next(c for c in checks if c.startswith("media/segments/000001-"))
    assert segment.endswith(": SHA-256 matches manifest and event ScreenSampled v3")
    assert any(c.startswith("media/voice/") and c.endswith("event VoiceRecorded v4") for c in checks)
    assert any(c.startswith("media/snapshots/") and c.endswith("event SnapshotTaken v7") for c in checks)
    assert "media/combined.mp4: SHA-256 matches manifest" in checks
    assert "consistency/13.json: checkpoint extends checkpoints/13.txt" in checks
    assert not any("consistency: " in c for c in checks)


# --- any single byte of any file --------------------------------------------


def _positions(data: bytes, name: str) -> list[int]:
    rng = random.Random(f"callvault/{name}")
    return sorted({0, len(data) - 1, len(data) // 2, *(rng.randrange(len(data)) for _ in range(4))})


@pytest.mark.parametrize("name", sorted(BUNDLE.files))
def test_flipping_any_byte_of_any_file_is_caught_and_names_the_file(name: str) -> None:
    data = BUNDLE.files[name]
    for position in _positions(data, name):
        for mask in (0x01, 0x20, 0xFF):
            flipped = bytearray(data)
            flipped[position] ^= mask
            error = rejected({**BUNDLE.files, name: bytes(flipped)})
            assert error.file == name, (position, mask, str(error))


# --- missing, extra and truncated files ---------------------------------------


@pytest.mark.parametrize("name", sorted(BUNDLE.files))
def test_a_missing_file_is_named(name: str) -> None:
    files = dict(BUNDLE.files)
    del files[name]
    error = rejected(files)
    assert error.file == name and "missing" in str(error)


@pytest.mark.parametrize("name", sorted(BUNDLE.files))
def test_a_truncated_empty_member_is_named(name: str) -> None:
    assert rejected({**BUNDLE.files, name: b""}).file == name


@pytest.mark.parametrize(
    "name", ["notes.txt", "media/extra.ts", "media/", "consistency/08.json", "checkpoints/x.txt", "MANIFEST.JSON"]
)
def test_an_unexpected_file_is_named(name: str) -> None:
    assert rejected({**BUNDLE.files, name: b"x"}).file == name


def test_a_lone_proof_file_names_its_missing_partner() -> None:
    files = {**BUNDLE.files, "checkpoints/5.txt": old_checkpoint(BUNDLE.leaf_hashes, 5)}
    assert rejected(files).file == "consistency/5.json"


# --- events.jsonl -------------------------------------------------------------


def _events(lines: list[bytes]) -> dict[str, bytes]:
    return {**BUNDLE.files, "events.jsonl": b"".join(line + b"\n" for line in lines)}


REC_LINES = [line for (rec, _), line in BUNDLE.lines.items() if rec == REC]


@pytest.mark.parametrize("position", [0, 3, 8])
def test_an_event_of_another_recording_swapped_in_is_rejected(position: int) -> None:
    lines = list(REC_LINES)
    lines[position] = BUNDLE.lines[(OTHER, 2)]
    assert rejected(_events(lines)).file == "events.jsonl"


def test_an_event_of_another_recording_added_is_rejected() -> None:
    error = rejected(_events([*REC_LINES[:5], BUNDLE.lines[(THIRD, 2)], *REC_LINES[5:]]))
    assert error.file == "events.jsonl" and "recording" in str(error)


@pytest.mark.parametrize("dropped", [0, 4, 8])
def test_dropping_an_event_line_is_rejected(dropped: int) -> None:
    assert rejected(_events(REC_LINES[:dropped] + REC_LINES[dropped + 1 :])).file == "events.jsonl"


def test_duplicated_and_reordered_events_are_rejected() -> None:
    assert rejected(_events([*REC_LINES[:3], REC_LINES[2], *REC_LINES[3:]])).file == "events.jsonl"
    swapped = [REC_LINES[0], REC_LINES[2], REC_LINES[1], *REC_LINES[3:]]
    assert "version" in str(rejected(_events(swapped))) or "order" in str(rejected(_events(swapped)))


def _edit_line(position: int, **changes: Any) -> dict[str, bytes]:
    lines = list(REC_LINES)
    lines[position] = dumps({**json.loads(lines[position]), **changes})
    return _events(lines)


def test_malformed_encodings_in_events_are_rejected() -> None:
    line = json.loads(REC_LINES[2])
    proof = line["inclusion_proof"]
    padded = next(i for i, raw in enumerate(REC_LINES) if json.loads(raw)["state"].endswith("="))
    state = json.loads(REC_LINES[padded])["state"].rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    # Same bytes, non-zero padding bits: base64 that only a lax decoder accepts.
    lax = state[:-1] + alphabet[alphabet.index(state[-1]) ^ 1]
    lax += "=" * (-len(lax) % 4)
    assert base64.b64decode(lax) == base64.b64decode(json.loads(REC_LINES[padded])["state"])
    for files in (
        _edit_line(2, inclusion_proof=[proof[0].upper(), *proof[1:]]),  # same bytes, not canonical hex
        _edit_line(2, inclusion_proof=[proof[0][:-2], *proof[1:]]),  # short hash
        _edit_line(2, leaf=line["leaf"] + "\n"),  # base64 with white space
        _edit_line(2, state=line["state"] + "===="),  # over-padded base64
        _edit_line(padded, state=lax),
        _edit_line(2, originator_id=line["originator_id"].upper()),  # same UUID, not canonical
        _edit_line(2, originator_version=3.0),
        _edit_line(2, extra=1),
        _events([*REC_LINES[:2], REC_LINES[2][:-1] + b', "leaf_index": 2}', *REC_LINES[3:]]),  # duplicate key
        _events([*REC_LINES[:2], b"{}", *REC_LINES[3:]]),
        _events([*REC_LINES[:2], b"", *REC_LINES[3:]]),  # blank line
        {**BUNDLE.files, "events.jsonl": b"".join(line + b"\n" for line in REC_LINES)[:-1]},  # no final newline
    ):
        assert rejected(files).file == "events.jsonl"


def test_proofs_for_a_different_root_are_rejected() -> None:
    # Inclusion proofs of an older tree (size 16) do not lead to the size-17 root.
    assert rejected(build(proof_size=16).files).file == "events.jsonl"
    # A checkpoint the right key signed over another tree of the same size.
    forged = SIGNER.sign_checkpoint(Checkpoint(ORIGIN, len(LOG), hashlib.sha256(b"fork").digest()))
    assert rejected({**BUNDLE.files, "checkpoint.txt": forged}).file == "events.jsonl"


# --- manifest and media -----------------------------------------------------------


def test_a_manifest_naming_another_recording_is_rejected() -> None:
    error = rejected(build(recording_id=str(OTHER)).files)
    assert error.file == "manifest.json" and str(OTHER) in str(error)


def test_media_of_another_recording_listed_in_the_manifest_is_rejected() -> None:
    error = rejected(build(extra_media=True).files)
    assert error.file == "media/segments/other.ts" and "media event" in str(error)


def test_a_bundle_of_another_format_version_is_rejected() -> None:
    """Bound to the log like any other, but a format this verifier does not know may need other checks."""
    error = rejected(build(format_name="callvault-export/2").files)
    assert error.file == "manifest.json" and "callvault-export/2" in str(error)


def test_a_manifest_of_another_bundle_is_rejected() -> None:
    other_manifest = build(recording_id=str(OTHER)).files["manifest.json"]
    assert rejected({**BUNDLE.files, "manifest.json": other_manifest}).file == "manifest.json"


# --- keys and known checkpoints ------------------------------------------------------


def test_a_wrong_public_key_is_rejected() -> None:
    _, other_key = generate_key(KEY_NAME)  # same name, different key
    assert rejected(BUNDLE.files, key=other_key).file == "checkpoint.txt"
    _, renamed = generate_key("someone-else")
    assert rejected(BUNDLE.files, key=renamed).file == "checkpoint.txt"


def test_a_malformed_public_key_is_a_caller_error() -> None:
    with pytest.raises(NoteError):
        verify(BUNDLE.files, key="not a key")


@pytest.mark.parametrize("size", [0, *OLD_SIZES, len(LOG)])
def test_a_valid_known_checkpoint_verifies(size: int) -> None:
    checks = verify(BUNDLE.files, known=old_checkpoint(BUNDLE.leaf_hashes, size))
    assert checks[-1] == f"consistency: checkpoint extends the known checkpoint of size {size}"


def test_a_forged_known_checkpoint_is_a_split_view() -> None:
    fork = [*BUNDLE.leaf_hashes[:7], hashlib.sha256(b"other leaf").digest()]
    error = rejected(BUNDLE.files, known=old_checkpoint(fork, 8))
    assert error.file == "consistency/8.json" and "split view" in str(error)
    same_size = old_checkpoint([*BUNDLE.leaf_hashes[:-1], fork[-1]], len(LOG))
    assert rejected(BUNDLE.files, known=same_size).file == "checkpoint.txt"


def test_known_checkpoints_of_another_key_or_log_are_rejected() -> None:
    other_signer = NoteSigner.from_text(generate_key(KEY_NAME)[0])
    for known in (
        old_checkpoint(BUNDLE.leaf_hashes, 8, signer=other_signer),
        old_checkpoint(BUNDLE.leaf_hashes, 8, origin="another.example/log"),
        old_checkpoint([*BUNDLE.leaf_hashes, BUNDLE.leaf_hashes[0]], len(LOG) + 1),  # newer than the bundle
        b"not a note",
        b"",
    ):
        assert rejected(BUNDLE.files, known=known).file == KNOWN_CHECKPOINT


def test_a_known_checkpoint_without_a_proof_in_the_bundle_is_rejected() -> None:
    error = rejected(BUNDLE.files, known=old_checkpoint(BUNDLE.leaf_hashes, 5))
    assert error.file == "consistency/5.json" and "missing" in str(error)


def test_an_empty_first_checkpoint_is_a_valid_earlier_checkpoint() -> None:
    """A log signed before its first event: size 0, the empty tree's root, an empty proof (RFC 9162)."""
    built = build(old_sizes=(0, *OLD_SIZES))
    checks = verify(built.files, known=old_checkpoint(built.leaf_hashes, 0))
    assert f"checkpoints/0.txt: signed by {KEY_NAME}, size 0" in checks
    assert "consistency/0.json: checkpoint extends checkpoints/0.txt" in checks
    assert checks[-1] == "consistency: checkpoint extends the known checkpoint of size 0"


def test_an_empty_checkpoint_needs_the_empty_root_and_an_empty_proof() -> None:
    built = build(old_sizes=(0,))
    proof = json.loads(built.files["consistency/0.json"])
    with_a_proof = dumps({**proof, "proof": [built.leaf_hashes[0].hex()]})
    assert rejected({**built.files, "consistency/0.json": with_a_proof}).file == "consistency/0.json"
    not_empty = SIGNER.sign_checkpoint(Checkpoint(ORIGIN, 0, hashlib.sha256(b"something").digest()))
    wrong_root = dumps({**proof, "old_root": hashlib.sha256(b"something").hexdigest()})
    error = rejected({**built.files, "checkpoints/0.txt": not_empty, "consistency/0.json": wrong_root})
    assert error.file == "consistency/0.json" and "empty tree" in str(error)


def served(old: int, new: int = len(LOG), proof: list[bytes] | None = None) -> bytes:
    """The JSON of GET /v1/log/proofs/consistency?from=OLD&to=NEW."""
    hashes = MerkleTree(BUNDLE.leaf_hashes).consistency_proof(old) if proof is None else proof
    return dumps({"old_size": old, "new_size": new, "proof": [h.hex() for h in hashes]})


def test_a_known_checkpoint_verifies_with_a_proof_given_apart() -> None:
    known = old_checkpoint(BUNDLE.leaf_hashes, 5)  # the bundle carries no proof for size 5
    checks = verify(BUNDLE.files, known=known, served=served(5))
    assert checks[-1] == "consistency: checkpoint extends the known checkpoint of size 5 (proof given apart)"


def test_a_proof_given_apart_must_prove_the_known_checkpoint() -> None:
    known = old_checkpoint(BUNDLE.leaf_hashes, 5)
    fork = [*BUNDLE.leaf_hashes[:4], hashlib.sha256(b"other leaf").digest()]
    good = MerkleTree(BUNDLE.leaf_hashes).consistency_proof(5)
    for bad in (
        served(6),  # another old size
        served(5, len(LOG) - 1),  # another new size
        served(5, proof=good[:-1]),
        served(5, proof=[hashlib.sha256(b"x").digest(), *good[1:]]),
        b'{"old_size": 5, "new_size": 17}',
        b"not json",
    ):
        assert rejected(BUNDLE.files, known=known, served=bad).file == KNOWN_CONSISTENCY, bad
    error = rejected(BUNDLE.files, known=old_checkpoint(fork, 5), served=served(5))
    assert error.file == KNOWN_CONSISTENCY and "split view" in str(error)
    assert rejected(BUNDLE.files, served=served(5)).file == KNOWN_CONSISTENCY  # for which checkpoint?


def zipped(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of a duplicate name, and writes it
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_zip_is_read_whole_and_refused_when_it_holds_a_name_twice() -> None:
    members = list(BUNDLE.files.items())
    assert verify(zip_members(zipped(members), "bundle.zip"))
    # A second manifest after the first: which one a reader sees depends on the reader.
    twice = zipped([*members, ("manifest.json", BUNDLE.files["manifest.json"] + b" ")])
    for data in (twice, b"PK not a zip"):
        with pytest.raises(BundleError) as info:
            zip_members(data, "bundle.zip")
        assert info.value.file == "bundle.zip"


def test_the_body_must_come_from_the_note_itself() -> None:
    def lying_verifier(note: bytes, key: str) -> bytes:
        return Checkpoint(ORIGIN, 1, bytes(32)).body()

    with pytest.raises(BundleError) as info:
        verify_bundle(BUNDLE.files, VERIFIER_TEXT, verify_note=lying_verifier)
    assert info.value.file == "checkpoint.txt"


def test_the_transparency_package_needs_only_the_standard_library() -> None:
    """A court's own tooling can run the verifier with nothing of the server installed."""
    package = Path(__file__).parents[2] / "domain" / "transparency"
    for source in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                inside = module == "domain.transparency" or module.startswith("domain.transparency.")
                assert inside or module.split(".")[0] in sys.stdlib_module_names, (source.name, module)
