"""Builds the court-ready export bundle of one recording (docs/export-bundle.md).

Order matters: the manifest of the media is written first, its SHA-256 goes into
the recording's Exported event, a checkpoint is signed that holds that event,
and only then are the events and their inclusion proofs written out, so the
bundle proves its own manifest. The events end at that Exported event: others
may be appended to the recording meanwhile (tags, annotations, other exports),
and they belong to later bundles.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from uuid import UUID

from adapters.media_combine import combine
from api.bootstrap import Runtime
from domain.checkpoint import checkpoint_of_note
from domain.merkle import MerkleTree
from domain.recording import Recording
from domain.values import Actor

FORMAT = "callvault-export/1"
# Earlier checkpoints an auditor may have kept, each shipped with a consistency proof:
# the most recent ones, and the first of every month of the log's life (see
# docs/export-bundle.md for why, and for the proof of any other from the API).
RECENT_CHECKPOINTS = 100


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def media_files(runtime: Runtime, recording_id: UUID) -> dict[str, bytes]:
    """The recording's media as uploaded (opened from its sealed objects), named after what the events say."""
    files: dict[str, bytes] = {}
    segments: list[tuple[int, bytes]] = []
    voice = None
    for event in runtime.ledger.history(recording_id).events:
        if isinstance(event, Recording.ScreenSampled):
            data = runtime.media.get(recording_id, event.media_key)
            files[f"media/segments/{event.sequence_number:06d}-{event.sha256}.ts"] = data
            segments.append((event.start_offset_ms, data))
        elif isinstance(event, Recording.VoiceRecorded):
            voice = runtime.media.get(recording_id, event.media_key)
            files[f"media/voice/{event.sha256}"] = voice
        elif isinstance(event, Recording.SnapshotTaken):
            files[f"media/snapshots/{event.snapshot_id}-{event.sha256}.jpg"] = runtime.media.get(
                recording_id, event.media_key
            )
    if segments or voice is not None:
        files["media/combined.mp4"] = combine(segments, voice)
    return files


def build_bundle(runtime: Runtime, recording_id: UUID, *, reason: str, by: Actor) -> bytes:
    recording = runtime.ledger.get_recording(recording_id)
    recording.check_export("bundle")  # before reading media that may be gone
    runtime.log.refuse_if_tampered()  # before recording an export no bundle could prove
    seen = recording.version  # the Exported event is the first after this with our manifest
    media = media_files(runtime, recording_id)
    manifest = json.dumps(
        {
            "format": FORMAT,
            "recording_id": str(recording_id),
            "interaction_id": recording.interaction_id,
            "exported_by": by.name,
            "reason": reason,
            "files": {name: sha256(data) for name, data in sorted(media.items())},
        },
        indent=2,
        sort_keys=True,
    ).encode()
    runtime.ledger.record_export(
        recording_id,
        reason_code=reason,
        what="bundle",
        occurred_at=datetime.now(UTC),
        by=by,
        manifest_sha256=sha256(manifest),
    )
    exported = exported_version(runtime, recording_id, after=seen, manifest_sha256=sha256(manifest))
    size, note = runtime.log.sign_checkpoint()  # its tree holds the Exported leaf: it was logged before
    events = runtime.log.event_proofs(recording_id, size, up_to_version=exported)
    files = {
        "manifest.json": manifest,
        "checkpoint.txt": note,
        "events.jsonl": b"".join(json.dumps(e.as_json(), sort_keys=True).encode() + b"\n" for e in events),
        **media,
    }
    tree = MerkleTree(runtime.log.views.leaf_hashes(size))
    for old_size, old_note in earlier_checkpoints(runtime, size):
        files[f"checkpoints/{old_size}.txt"] = old_note
        files[f"consistency/{old_size}.json"] = json.dumps(
            {
                "old_size": old_size,
                "old_root": checkpoint_of_note(old_note).root.hex(),
                "new_size": size,
                "proof": [h.hex() for h in tree.consistency_proof(old_size)],
            },
            sort_keys=True,
        ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def exported_version(runtime: Runtime, recording_id: UUID, *, after: int, manifest_sha256: str) -> int:
    """The version of the Exported event just recorded: the first after ``after`` with this manifest.

    An identical export recorded concurrently (same manifest bytes) may come first;
    either event binds these exact bytes, so the bundle is the same proof.
    """
    for event in runtime.ledger.events.get(recording_id, gt=after):
        if isinstance(event, Recording.Exported) and event.manifest_sha256 == manifest_sha256:
            return event.originator_version
    raise AssertionError(f"the Exported event of {recording_id} was not stored")


def earlier_checkpoints(runtime: Runtime, size: int) -> list[tuple[int, bytes]]:
    """The last RECENT_CHECKPOINTS before ``size`` and the first of every UTC month, by size."""
    store = runtime.log.checkpoints
    return sorted((dict(store.before(size, RECENT_CHECKPOINTS)) | dict(store.first_of_each_month(size))).items())
