"""Offline verification of an export bundle (format ``callvault-export/1``).

The checks of docs/export-bundle.md, in its order, stopping at the first
failure with a ``BundleError`` that names the bundle member concerned. Pure
bytes in, a list of passed checks out: the CLI reads the zip, a court's own
tooling can call this with any mapping of member name to bytes.

Signature verification is injected, because ``domain`` must not import
``adapters`` (where the Ed25519 code lives). ``verify_bundle`` takes the
verifier key *text* and a keyword-only ``verify_note`` callable with exactly
the signature of ``adapters.note_signing.verify_note``, which the CLI passes:
``verify_bundle(files, key_text, known_checkpoint=old, verify_note=note_signing.verify_note)``.

The callable gets ``(note bytes, verifier key text)``, returns the signed body
once a signature by that key verifies, and raises ``ValueError`` otherwise.
Everything else (the note and checkpoint syntax, the key's name and ID, the
Merkle proofs, hashes and JSON) is checked here; the body the callable returns
must also be the note's own body, so a careless verifier cannot substitute one.

Strictness: JSON must be UTF-8 without duplicate keys, NaN or unknown fields;
base64 must be canonical, hex lowercase, UUIDs in their canonical form, so
that no byte of any member can change without the verification failing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from domain.checkpoint import Checkpoint, parse_checkpoint, parse_signed_note, parse_verifier_key
from domain.log_leaf import Leaf
from domain.merkle import leaf_hash, verify_consistency, verify_inclusion

FORMAT = "callvault-export/1"
MANIFEST = "manifest.json"
CHECKPOINT = "checkpoint.txt"
EVENTS = "events.jsonl"
COMBINED = "media/combined.mp4"
# `.file` of errors about the verifier's own older checkpoint, which is not a
# member of the bundle (given as ``known_checkpoint``).
KNOWN_CHECKPOINT = "<known checkpoint>"
# ... and of a consistency proof for it fetched from the log (``known_consistency``),
# for a known checkpoint older than those the bundle carries proofs for.
KNOWN_CONSISTENCY = "<consistency proof>"

MEDIA_EVENTS = frozenset({"ScreenSampled", "VoiceRecorded", "SnapshotTaken"})
_EVENT_FIELDS = frozenset(
    {"leaf_index", "leaf", "state", "topic", "originator_id", "originator_version", "inclusion_proof"}
)
_MANIFEST_FIELDS = frozenset({"format", "recording_id", "interaction_id", "exported_by", "reason", "files"})
_CONSISTENCY_FIELDS = frozenset({"old_size", "old_root", "new_size", "proof"})
_SERVED_CONSISTENCY_FIELDS = frozenset({"old_size", "new_size", "proof"})  # GET /v1/log/proofs/consistency
_SIZE = r"(?:0|[1-9][0-9]*)"
_CONSISTENCY_RE = re.compile(rf"consistency/({_SIZE})\.json")
_CHECKPOINTS_RE = re.compile(rf"checkpoints/({_SIZE})\.txt")
_HEX_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class BundleError(ValueError):
    """The bundle fails a check; ``file`` is the member (or KNOWN_CHECKPOINT) concerned."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file


class NoteVerifier(Protocol):
    """``adapters.note_signing.verify_note``: the signed body, or ValueError."""

    def __call__(self, note: bytes, verifier_key_text: str, /) -> bytes: ...


# --- strict decoding helpers ------------------------------------------------


def _member(files: Mapping[str, bytes], name: str) -> bytes:
    if name not in files:
        raise BundleError(name, "missing from the bundle")
    data = files[name]
    if not isinstance(data, bytes):
        raise BundleError(name, "is not bytes")
    if not data:
        raise BundleError(name, "is empty (truncated?)")
    return data


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _json_object(data: bytes, file: str, what: str, fields: frozenset[str] | None = None) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise BundleError(file, f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BundleError(file, f"{what} is not a JSON object")
    if fields is not None and set(value) != fields:
        missing, unknown = sorted(fields - set(value)), sorted(set(value) - fields)
        raise BundleError(file, f"{what} has missing fields {missing} / unknown fields {unknown}")
    return value


def _int(value: Any, file: str, what: str, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        raise BundleError(file, f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _str(value: Any, file: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise BundleError(file, f"{what} must be a non-empty string")
    return value


def _sha256_hex(value: Any, file: str, what: str) -> str:
    if not isinstance(value, str) or not _HEX_SHA256_RE.fullmatch(value):
        raise BundleError(file, f"{what} is not a lowercase hex SHA-256: {value!r}")
    return value


def _hash_list(value: Any, file: str, what: str) -> list[bytes]:
    if not isinstance(value, list):
        raise BundleError(file, f"{what} must be a list of hex hashes")
    return [bytes.fromhex(_sha256_hex(h, file, f"{what}[{i}]")) for i, h in enumerate(value)]


def _b64(value: Any, file: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise BundleError(file, f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise BundleError(file, f"{what} is not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise BundleError(file, f"{what} is not canonical base64")
    return raw


def _uuid(value: Any, file: str, what: str) -> UUID:
    try:
        parsed = UUID(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or str(parsed) != value:
        raise BundleError(file, f"{what} is not a canonical UUID: {value!r}")
    return parsed


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _event_type(topic: str) -> str:
    return topic.rsplit(".", 1)[-1]


def _signed_checkpoint(
    note: bytes, file: str, key_text: str, verify_note: NoteVerifier, what: str = "checkpoint"
) -> Checkpoint:
    try:
        body = verify_note(note, key_text)
    except ValueError as exc:
        raise BundleError(file, f"{what} signature does not verify: {exc}") from None
    try:
        own_body, _ = parse_signed_note(note)
    except ValueError as exc:
        raise BundleError(file, f"{what} is not a signed note: {exc}") from None
    if body != own_body:
        raise BundleError(file, f"{what}: the verifier returned a body that is not the note's")
    try:
        return parse_checkpoint(body)
    except ValueError as exc:
        raise BundleError(file, f"{what} body is not a checkpoint: {exc}") from None


# --- the checks -------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    line: int
    index: int
    version: int
    type: str
    state: dict[str, Any]


def _check_events(data: bytes, checkpoint: Checkpoint) -> tuple[UUID, list[_Event]]:
    file = EVENTS
    if not data.endswith(b"\n"):
        raise BundleError(file, "does not end with a newline (truncated?)")
    recording: UUID | None = None
    events: list[_Event] = []
    for number, raw_line in enumerate(data[:-1].split(b"\n"), 1):
        where = f"line {number}"
        line = _json_object(raw_line, file, where, _EVENT_FIELDS)
        leaf_index = _int(line["leaf_index"], file, f"{where} leaf_index")
        leaf_bytes = _b64(line["leaf"], file, f"{where} leaf")
        state = _b64(line["state"], file, f"{where} state")
        topic = _str(line["topic"], file, f"{where} topic")
        originator = _uuid(line["originator_id"], file, f"{where} originator_id")
        version = _int(line["originator_version"], file, f"{where} originator_version", 1)
        proof = _hash_list(line["inclusion_proof"], file, f"{where} inclusion_proof")
        try:
            leaf = Leaf.decode(leaf_bytes)
        except ValueError as exc:
            raise BundleError(file, f"{where} leaf does not decode: {exc}") from None
        if hashlib.sha256(state).digest() != leaf.state_sha256:
            raise BundleError(file, f"{where} SHA-256 of state differs from the leaf's state hash")
        fields = (leaf_index, originator, version, topic)
        if (leaf.index, leaf.originator_id, leaf.originator_version, leaf.topic) != fields:
            raise BundleError(file, f"{where} index, originator id, version or topic differ from the leaf's")
        if leaf_index >= checkpoint.size:
            raise BundleError(file, f"{where} leaf_index {leaf_index} is not below checkpoint size {checkpoint.size}")
        try:
            verify_inclusion(leaf_index, checkpoint.size, leaf_hash(leaf_bytes), proof, checkpoint.root)
        except ValueError as exc:
            raise BundleError(file, f"{where} inclusion proof fails against the checkpoint root: {exc}") from None
        if recording is None:
            recording = originator
        elif originator != recording:
            raise BundleError(file, f"{where} is an event of recording {originator}, not {recording}")
        if events and leaf_index <= events[-1].index:
            raise BundleError(file, f"{where} leaf_index {leaf_index} is not after {events[-1].index} (log order)")
        if version != len(events) + 1:
            raise BundleError(file, f"{where} has version {version}, expected {len(events) + 1}")
        payload = _json_object(state, file, f"{where} state")
        events.append(_Event(number, leaf_index, version, _event_type(topic), payload))
    if recording is None:
        raise BundleError(file, "has no events")
    return recording, events


def _check_manifest(data: bytes, recording: UUID, events: list[_Event]) -> dict[str, str]:
    last = events[-1]
    if last.type != "Exported":
        raise BundleError(EVENTS, f"the last event (v{last.version}) is {last.type}, not Exported")
    expected = _sha256_hex(last.state.get("manifest_sha256"), EVENTS, f"line {last.line} manifest_sha256")
    if _sha256(data) != expected:
        raise BundleError(MANIFEST, f"SHA-256 differs from manifest_sha256 of the Exported event v{last.version}")
    manifest = _json_object(data, MANIFEST, "manifest", _MANIFEST_FIELDS)
    if manifest["format"] != FORMAT:
        raise BundleError(MANIFEST, f"format is {manifest['format']!r}, not {FORMAT!r}")
    if _uuid(manifest["recording_id"], MANIFEST, "recording_id") != recording:
        raise BundleError(MANIFEST, f"names recording {manifest['recording_id']}, not {recording}")
    interaction = _str(manifest["interaction_id"], MANIFEST, "interaction_id")
    if events[0].state.get("interaction_id") != interaction:
        raise BundleError(MANIFEST, "interaction_id differs from the recording's first event")
    _str(manifest["exported_by"], MANIFEST, "exported_by")
    _str(manifest["reason"], MANIFEST, "reason")
    listed = manifest["files"]
    if not isinstance(listed, dict):
        raise BundleError(MANIFEST, "files must be an object of path to SHA-256")
    for path, digest in listed.items():
        if (
            not path.startswith("media/")
            or path.endswith("/")
            or "\\" in path
            or any(part in ("", ".", "..") for part in path.split("/"))
        ):
            raise BundleError(MANIFEST, f"files names {path!r}, not a media file of the bundle")
        _sha256_hex(digest, MANIFEST, f"files[{path!r}]")
    return listed


def _check_files(files: Mapping[str, bytes], listed: dict[str, str], events: list[_Event]) -> list[str]:
    for path in sorted(listed):
        if _sha256(_member(files, path)) != listed[path]:
            raise BundleError(path, "SHA-256 differs from the manifest")
    fixed = {MANIFEST, CHECKPOINT, EVENTS}
    for name in sorted(files):
        if name not in listed and name not in fixed and _proof_file_size(name) is None:
            raise BundleError(name, "is not listed in the manifest")
    media: dict[str, _Event] = {}
    for event in events:
        if event.type in MEDIA_EVENTS:
            digest = _sha256_hex(event.state.get("sha256"), EVENTS, f"line {event.line} sha256")
            media.setdefault(digest, event)
    checks = []
    for path in sorted(listed):
        if path == COMBINED:
            checks.append(f"{path}: SHA-256 matches manifest")
            continue
        event = media.get(listed[path])
        if event is None:
            raise BundleError(path, "SHA-256 is not that of any media event of the recording")
        checks.append(f"{path}: SHA-256 matches manifest and event {event.type} v{event.version}")
    # The bundle must hold all the media its events name: an omitted segment is a lost one.
    present = {listed[path] for path in listed}
    for digest, event in media.items():
        if digest not in present:
            raise BundleError(MANIFEST, f"lacks the media of event {event.type} v{event.version} ({digest})")
    return checks


def _proof_file_size(name: str) -> int | None:
    match = _CONSISTENCY_RE.fullmatch(name) or _CHECKPOINTS_RE.fullmatch(name)
    return int(match.group(1)) if match else None


def _check_proofs(
    files: Mapping[str, bytes], checkpoint: Checkpoint, key_text: str, key_name: str, verify_note: NoteVerifier
) -> tuple[dict[int, bytes], list[str]]:
    """Every consistency/N.json with its checkpoints/N.txt: old root of size N per proof."""
    sizes = sorted({s for name in files if (s := _proof_file_size(name)) is not None})
    roots: dict[int, bytes] = {}
    checks = []
    for size in sizes:
        note_file, proof_file = f"checkpoints/{size}.txt", f"consistency/{size}.json"
        old = _signed_checkpoint(_member(files, note_file), note_file, key_text, verify_note)
        if old.origin != checkpoint.origin:
            raise BundleError(note_file, f"origin {old.origin!r} is not the log's {checkpoint.origin!r}")
        if old.size != size:
            raise BundleError(note_file, f"has size {old.size}, not {size} as its name says")
        # Size 0 is a real checkpoint (C2SP allows it; RFC 9162 defines the empty
        # tree's root): a log signed before its first event. Its proof is empty.
        if not 0 <= size < checkpoint.size:
            raise BundleError(note_file, f"size {size} is not in 0..{checkpoint.size - 1}")
        doc = _json_object(_member(files, proof_file), proof_file, "consistency proof", _CONSISTENCY_FIELDS)
        if _int(doc["old_size"], proof_file, "old_size") != size:
            raise BundleError(proof_file, f"old_size {doc['old_size']} is not {size} as its name says")
        if _int(doc["new_size"], proof_file, "new_size") != checkpoint.size:
            raise BundleError(proof_file, f"new_size {doc['new_size']} is not the checkpoint size {checkpoint.size}")
        old_root = bytes.fromhex(_sha256_hex(doc["old_root"], proof_file, "old_root"))
        if old_root != old.root:
            raise BundleError(proof_file, f"old_root is not the root of {note_file}")
        proof = _hash_list(doc["proof"], proof_file, "proof")
        try:
            verify_consistency(size, checkpoint.size, old_root, checkpoint.root, proof)
        except ValueError as exc:
            raise BundleError(proof_file, f"consistency proof fails: {exc}") from None
        roots[size] = old_root
        checks.append(f"{note_file}: signed by {key_name}, size {size}")
        checks.append(f"{proof_file}: checkpoint extends checkpoints/{size}.txt")
    return roots, checks


def _check_known(
    known: bytes,
    checkpoint: Checkpoint,
    roots: dict[int, bytes],
    key_text: str,
    verify_note: NoteVerifier,
    served: bytes | None,
) -> str:
    if not known:
        raise BundleError(KNOWN_CHECKPOINT, "is empty")
    old = _signed_checkpoint(known, KNOWN_CHECKPOINT, key_text, verify_note, "known checkpoint")
    if old.origin != checkpoint.origin:
        raise BundleError(KNOWN_CHECKPOINT, f"is of log {old.origin!r}, not {checkpoint.origin!r}")
    if old.size > checkpoint.size:
        raise BundleError(KNOWN_CHECKPOINT, f"size {old.size} is newer than the bundle's checkpoint {checkpoint.size}")
    if old.size in (0, checkpoint.size):  # nothing to prove: the roots must simply agree
        try:
            verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, [])
        except ValueError as exc:
            raise BundleError(CHECKPOINT, f"conflicts with the known checkpoint (split view): {exc}") from None
        return f"consistency: checkpoint extends the known checkpoint of size {old.size}"
    if served is not None:
        _check_served_consistency(served, old, checkpoint)
        return f"consistency: checkpoint extends the known checkpoint of size {old.size} (proof given apart)"
    proof_file = f"consistency/{old.size}.json"
    if old.size not in roots:
        raise BundleError(
            proof_file,
            f"missing: no consistency proof for the known checkpoint's size {old.size} "
            "(get one from the log: GET /v1/log/proofs/consistency)",
        )
    if roots[old.size] != old.root:
        raise BundleError(proof_file, "old_root is not the known checkpoint's root (split view)")
    return f"consistency: checkpoint extends the known checkpoint of size {old.size}"


def _check_served_consistency(served: bytes, old: Checkpoint, checkpoint: Checkpoint) -> None:
    """A proof the log served for (old size, bundle size): both roots are signed, so
    whoever delivered the proof need not be trusted, only the arithmetic."""
    file = KNOWN_CONSISTENCY
    doc = _json_object(served, file, "consistency proof", _SERVED_CONSISTENCY_FIELDS)
    if _int(doc["old_size"], file, "old_size") != old.size:
        raise BundleError(file, f"old_size {doc['old_size']} is not the known checkpoint's size {old.size}")
    if _int(doc["new_size"], file, "new_size") != checkpoint.size:
        raise BundleError(file, f"new_size {doc['new_size']} is not the bundle's checkpoint size {checkpoint.size}")
    proof = _hash_list(doc["proof"], file, "proof")
    try:
        verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, proof)
    except ValueError as exc:
        raise BundleError(
            file, f"does not prove the checkpoint extends the known checkpoint (split view?): {exc}"
        ) from None


def verify_bundle(
    files: Mapping[str, bytes],
    verifier_key: str,
    known_checkpoint: bytes | None = None,
    *,
    verify_note: NoteVerifier,
    known_consistency: bytes | None = None,
) -> list[str]:
    """The checks the bundle passed, or BundleError at the first that fails.

    ``files`` maps zip member names to their bytes (files only, no directory
    entries; the caller must reject zips with duplicate member names, which a
    mapping cannot show). ``verifier_key`` is the log's verifier key text
    (``name+hexid+base64``); a malformed key raises ``domain.checkpoint.NoteError``
    before the bundle is looked at. ``known_checkpoint`` is a signed note the
    verifier kept from earlier (``--known-checkpoint``). ``verify_note`` checks
    signatures: pass ``adapters.note_signing.verify_note``. ``known_consistency``
    is the JSON that ``GET /v1/log/proofs/consistency?from=<known size>&to=<bundle
    size>`` answers, for a known checkpoint the bundle carries no proof for; when
    given, it is the proof checked for the known checkpoint.
    """
    key_name = parse_verifier_key(verifier_key).name
    checks: list[str] = []
    # 1. the signed checkpoint
    checkpoint = _signed_checkpoint(_member(files, CHECKPOINT), CHECKPOINT, verifier_key, verify_note)
    checks.append(f"{CHECKPOINT}: signed by {key_name}, origin {checkpoint.origin}, size {checkpoint.size}")
    # 2. the recording's events, each included in the checkpoint
    recording, events = _check_events(_member(files, EVENTS), checkpoint)
    checks.append(
        f"{EVENTS}: {len(events)} events of recording {recording} (versions 1-{len(events)}) included in the checkpoint"
    )
    # 3. the manifest, bound to the log by the Exported event
    listed = _check_manifest(_member(files, MANIFEST), recording, events)
    checks.append(f"{MANIFEST}: bound to the Exported event v{events[-1].version}")
    # 4. the media files
    checks.extend(_check_files(files, listed, events))
    # 5. consistency with earlier checkpoints: the bundle's own, then the verifier's
    roots, proof_checks = _check_proofs(files, checkpoint, verifier_key, key_name, verify_note)
    checks.extend(proof_checks)
    if known_checkpoint is not None:
        checks.append(_check_known(known_checkpoint, checkpoint, roots, verifier_key, verify_note, known_consistency))
    elif known_consistency is not None:
        raise BundleError(KNOWN_CONSISTENCY, "is given without the known checkpoint it is for")
    return checks


__all__ = ["BundleError", "KNOWN_CHECKPOINT", "KNOWN_CONSISTENCY", "NoteVerifier", "verify_bundle"]
