"""Offline verification of an export bundle (bundle_format.FORMAT).

The checks of docs/export-bundle.md, in its order, stopping at the first
failure with a ``BundleError`` that names the bundle member concerned. Pure
bytes in, a list of passed checks out: the CLI reads the zip, a court's own
tooling can call this with any mapping of member name to bytes.

Signature verification is injected, because the domain must not import
``adapters`` (where the Ed25519 code lives). ``verify_bundle`` takes the
verifier key *text* and a keyword-only ``verify_note`` callable with exactly
the signature of ``adapters.note_signing.verify_note``, which the CLI passes:
``verify_bundle(files, key_text, known_checkpoint=old, verify_note=note_signing.verify_note)``.

The callable gets ``(note bytes, verifier key text)``, returns the signed body
once a signature by that key verifies, and raises ``ValueError`` otherwise.
Everything else (the note and checkpoint syntax, the key's name and ID, the
Merkle proofs, hashes and JSON) is checked here, strictly (bundle_decoding.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.transparency import bundle_decoding as decode
from domain.transparency.bundle_decoding import BundleError
from domain.transparency.bundle_format import (
    CHECKPOINT,
    COMBINED,
    EVENT_FIELDS,
    EVENTS,
    EXPORTED_EVENT,
    FORMAT,
    MANIFEST,
    MANIFEST_FIELDS,
    MEDIA_DIR,
    MEDIA_EVENTS,
    EventLine,
    Manifest,
    digest,
    proof_file_size,
)
from domain.transparency.checkpoint_checks import (
    KNOWN_CHECKPOINT,
    KNOWN_CONSISTENCY,
    NoteVerifier,
    check_earlier,
    check_known,
    signed_checkpoint,
)
from domain.transparency.checkpoints import Checkpoint
from domain.transparency.leaves import Leaf
from domain.transparency.merkle import leaf_hash, verify_inclusion
from domain.transparency.notes import parse_verifier_key


@dataclass(frozen=True)
class _Event:
    line: int
    index: int
    version: int
    type: str
    state: dict[str, Any]


def _event_type(topic: str) -> str:
    return topic.rsplit(".", 1)[-1]


def _check_events(data: bytes, checkpoint: Checkpoint) -> tuple[UUID, list[_Event]]:
    file = EVENTS
    if not data.endswith(b"\n"):
        raise BundleError(file, "does not end with a newline (truncated?)")
    recording: UUID | None = None
    events: list[_Event] = []
    for number, raw_line in enumerate(data[:-1].split(b"\n"), 1):
        where = f"line {number}"
        line = EventLine(**decode.json_object(raw_line, file, where, EVENT_FIELDS))
        leaf_index = decode.integer(line.leaf_index, file, f"{where} leaf_index")
        leaf_bytes = decode.b64(line.leaf, file, f"{where} leaf")
        state = decode.b64(line.state, file, f"{where} state")
        topic = decode.text(line.topic, file, f"{where} topic")
        originator = decode.uuid(line.originator_id, file, f"{where} originator_id")
        version = decode.integer(line.originator_version, file, f"{where} originator_version", 1)
        proof = decode.hash_list(line.inclusion_proof, file, f"{where} inclusion_proof")
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
        payload = decode.json_object(state, file, f"{where} state")
        events.append(_Event(number, leaf_index, version, _event_type(topic), payload))
    if recording is None:
        raise BundleError(file, "has no events")
    return recording, events


def _check_manifest(data: bytes, recording: UUID, events: list[_Event]) -> dict[str, str]:
    last = events[-1]
    if last.type != EXPORTED_EVENT:
        raise BundleError(EVENTS, f"the last event (v{last.version}) is {last.type}, not {EXPORTED_EVENT}")
    expected = decode.sha256_hex(last.state.get("manifest_sha256"), EVENTS, f"line {last.line} manifest_sha256")
    if digest(data) != expected:
        raise BundleError(MANIFEST, f"SHA-256 differs from manifest_sha256 of the Exported event v{last.version}")
    manifest = Manifest(**decode.json_object(data, MANIFEST, "manifest", MANIFEST_FIELDS))
    if manifest.format != FORMAT:
        raise BundleError(MANIFEST, f"format is {manifest.format!r}, not {FORMAT!r}")
    if decode.uuid(manifest.recording_id, MANIFEST, "recording_id") != recording:
        raise BundleError(MANIFEST, f"names recording {manifest.recording_id}, not {recording}")
    interaction = decode.text(manifest.interaction_id, MANIFEST, "interaction_id")
    if events[0].state.get("interaction_id") != interaction:
        raise BundleError(MANIFEST, "interaction_id differs from the recording's first event")
    decode.text(manifest.exported_by, MANIFEST, "exported_by")
    decode.text(manifest.reason, MANIFEST, "reason")
    listed = manifest.files
    if not isinstance(listed, dict):
        raise BundleError(MANIFEST, "files must be an object of path to SHA-256")
    for path, sha256 in listed.items():
        if (
            not path.startswith(MEDIA_DIR)
            or path.endswith("/")
            or "\\" in path
            or any(part in ("", ".", "..") for part in path.split("/"))
        ):
            raise BundleError(MANIFEST, f"files names {path!r}, not a media file of the bundle")
        decode.sha256_hex(sha256, MANIFEST, f"files[{path!r}]")
    return listed


def _check_files(files: Mapping[str, bytes], listed: dict[str, str], events: list[_Event]) -> list[str]:
    for path in sorted(listed):
        if digest(decode.member(files, path)) != listed[path]:
            raise BundleError(path, "SHA-256 differs from the manifest")
    fixed = {MANIFEST, CHECKPOINT, EVENTS}
    for name in sorted(files):
        if name not in listed and name not in fixed and proof_file_size(name) is None:
            raise BundleError(name, "is not listed in the manifest")
    media: dict[str, _Event] = {}
    for event in events:
        if event.type in MEDIA_EVENTS:
            sha256 = decode.sha256_hex(event.state.get("sha256"), EVENTS, f"line {event.line} sha256")
            media.setdefault(sha256, event)
    checks = []
    for path in sorted(listed):
        if path == COMBINED:
            checks.append(f"{path}: SHA-256 matches manifest")
            continue
        named_by = media.get(listed[path])
        if named_by is None:
            raise BundleError(path, "SHA-256 is not that of any media event of the recording")
        checks.append(f"{path}: SHA-256 matches manifest and event {named_by.type} v{named_by.version}")
    # The bundle must hold all the media its events name: an omitted segment is a lost one.
    present = {listed[path] for path in listed}
    for sha256, event in media.items():
        if sha256 not in present:
            raise BundleError(MANIFEST, f"lacks the media of event {event.type} v{event.version} ({sha256})")
    return checks


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
    entries): ``bundle_decoding.zip_members`` of the zip, which also refuses a
    zip holding one name twice (a mapping cannot show it). ``verifier_key`` is the log's verifier key text
    (``name+hexid+base64``); a malformed key raises ``notes.NoteError``
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
    checkpoint = signed_checkpoint(decode.member(files, CHECKPOINT), CHECKPOINT, verifier_key, verify_note)
    checks.append(f"{CHECKPOINT}: signed by {key_name}, origin {checkpoint.origin}, size {checkpoint.size}")
    # 2. the recording's events, each included in the checkpoint
    recording, events = _check_events(decode.member(files, EVENTS), checkpoint)
    checks.append(
        f"{EVENTS}: {len(events)} events of recording {recording} (versions 1-{len(events)}) included in the checkpoint"
    )
    # 3. the manifest, bound to the log by the Exported event
    listed = _check_manifest(decode.member(files, MANIFEST), recording, events)
    checks.append(f"{MANIFEST}: bound to the Exported event v{events[-1].version}")
    # 4. the media files
    checks.extend(_check_files(files, listed, events))
    # 5. consistency with earlier checkpoints: the bundle's own, then the verifier's
    roots, proof_checks = check_earlier(files, checkpoint, verifier_key, key_name, verify_note)
    checks.extend(proof_checks)
    if known_checkpoint is not None:
        checks.append(check_known(known_checkpoint, checkpoint, roots, verifier_key, verify_note, known_consistency))
    elif known_consistency is not None:
        raise BundleError(KNOWN_CONSISTENCY, "is given without the known checkpoint it is for")
    return checks


__all__ = ["BundleError", "KNOWN_CHECKPOINT", "KNOWN_CONSISTENCY", "NoteVerifier", "verify_bundle"]
