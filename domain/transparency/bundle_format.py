"""The export bundle's format, ``callvault-export/1`` (docs/export-bundle.md).

Its member names, the JSON of its manifest, event lines and consistency proofs,
and the events whose media it carries, each defined here once: the server writes
bundles with them (api/services/exports.py, api/services/transparency.py) and the
offline verifier (verifier.py) reads bundles with them, so the two cannot drift.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from uuid import UUID

FORMAT = "callvault-export/1"
MANIFEST = "manifest.json"
CHECKPOINT = "checkpoint.txt"
EVENTS = "events.jsonl"
MEDIA_DIR = "media/"
COMBINED = f"{MEDIA_DIR}combined.mp4"
EARLIER_CHECKPOINTS_DIR = "checkpoints/"  # N.txt: an earlier signed checkpoint of size N
CONSISTENCY_DIR = "consistency/"  # N.json: this checkpoint extends checkpoints/N.txt
# Earlier checkpoints an auditor may have kept, each shipped with a consistency proof:
# the most recent ones, and the first of every month of the log's life (see
# docs/export-bundle.md for why, and for the proof of any other from the API).
RECENT_CHECKPOINTS = 100

# The recording's events (the last part of their topic) that the bundle refers to.
EXPORTED_EVENT = "Exported"  # the last event of a bundle; binds its manifest
MEDIA_EVENTS = frozenset({"ScreenSampled", "VoiceRecorded", "SnapshotTaken"})  # each names a media file by SHA-256

_SIZE = r"(?:0|[1-9][0-9]*)"
_PROOF_FILE_RE = re.compile(
    rf"(?:{re.escape(CONSISTENCY_DIR)}({_SIZE})\.json|{re.escape(EARLIER_CHECKPOINTS_DIR)}({_SIZE})\.txt)"
)


def digest(data: bytes) -> str:
    """The lowercase hex SHA-256 by which the manifest and the events name a file."""
    return hashlib.sha256(data).hexdigest()


def segment_name(sequence_number: int, sha256: str) -> str:
    return f"{MEDIA_DIR}segments/{sequence_number:06d}-{sha256}.ts"


def voice_name(sha256: str) -> str:
    return f"{MEDIA_DIR}voice/{sha256}"


def snapshot_name(snapshot_id: str, sha256: str) -> str:
    return f"{MEDIA_DIR}snapshots/{snapshot_id}-{sha256}.jpg"


def earlier_checkpoint_name(size: int) -> str:
    return f"{EARLIER_CHECKPOINTS_DIR}{size}.txt"


def consistency_name(size: int) -> str:
    return f"{CONSISTENCY_DIR}{size}.json"


def proof_file_size(name: str) -> int | None:
    """N of ``checkpoints/N.txt`` or ``consistency/N.json``; None for any other member."""
    match = _PROOF_FILE_RE.fullmatch(name)
    return int(match.group(1) or match.group(2)) if match else None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``: what was exported, by whom and why, and the SHA-256 (hex) of
    every media file by its path in the bundle."""

    recording_id: str
    interaction_id: str
    exported_by: str
    reason: str
    files: dict[str, str]
    format: str = FORMAT

    def encode(self) -> bytes:
        return json.dumps(vars(self), indent=2, sort_keys=True).encode()


@dataclass(frozen=True)
class EventLine:
    """One line of ``events.jsonl`` (and one event of GET /v1/log/proofs/recordings/{id}):
    a stored event, its leaf (leaves.py) and the leaf's inclusion proof."""

    leaf_index: int
    leaf: str  # base64 of the leaf bytes
    state: str  # base64 of the stored event bytes exactly as persisted
    topic: str
    originator_id: str
    originator_version: int
    inclusion_proof: list[str]  # hex hashes, from the leaf upwards

    @classmethod
    def of(
        cls,
        leaf_index: int,
        leaf: bytes,
        state: bytes,
        topic: str,
        originator_id: UUID,
        originator_version: int,
        inclusion_proof: Sequence[bytes],
    ) -> EventLine:
        proof = [h.hex() for h in inclusion_proof]
        return cls(leaf_index, _b64(leaf), _b64(state), topic, str(originator_id), originator_version, proof)

    def as_json(self) -> dict[str, object]:
        return dict(vars(self))


def encode_events(lines: Iterable[EventLine]) -> bytes:
    return b"".join(json.dumps(line.as_json(), sort_keys=True).encode() + b"\n" for line in lines)


@dataclass(frozen=True)
class ConsistencyFile:
    """``consistency/<old size>.json``: the bundle's checkpoint extends the earlier one."""

    old_size: int
    old_root: str  # hex, the root of checkpoints/<old size>.txt
    new_size: int
    proof: list[str]  # hex hashes (RFC 9162 §2.1.4)

    @classmethod
    def of(cls, old_size: int, old_root: bytes, new_size: int, proof: Sequence[bytes]) -> ConsistencyFile:
        return cls(old_size, old_root.hex(), new_size, [h.hex() for h in proof])

    def encode(self) -> bytes:
        return json.dumps(vars(self), sort_keys=True).encode()


@dataclass(frozen=True)
class ServedConsistency:
    """What GET /v1/log/proofs/consistency answers (api.http.schemas.ConsistencyProof),
    for a checkpoint the bundle carries no proof for: a ConsistencyFile without the old
    root, which the verifier takes from the signed checkpoint it kept instead."""

    old_size: int
    new_size: int
    proof: list[str]


def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


MANIFEST_FIELDS = _names(Manifest)
EVENT_FIELDS = _names(EventLine)
CONSISTENCY_FIELDS = _names(ConsistencyFile)
SERVED_CONSISTENCY_FIELDS = _names(ServedConsistency)
