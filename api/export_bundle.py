"""Builds the court-ready export bundle of one recording (docs/export-bundle.md).

Order matters: the manifest of the media is written first, its SHA-256 goes into
the recording's Exported event, a checkpoint is signed that holds that event,
and only then are the events and their inclusion proofs written out, so the
bundle proves its own manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from uuid import UUID

from adapters.media_combine import combine
from api.runtime import Runtime
from domain.checkpoint import parse_checkpoint, parse_signed_note
from domain.merkle import MerkleTree
from domain.recording import Recording
from domain.values import Actor

FORMAT = "callvault-export/1"
# Earlier checkpoints an older verifier may have kept, each with a consistency proof.
EARLIER_CHECKPOINTS = 1000


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
            files[f"media/snapshots/{event.snapshot_id}-{event.sha256}.jpg"] = runtime.media.get(recording_id, event.media_key)
    if segments or voice is not None:
        files["media/combined.mp4"] = combine(segments, voice)
    return files


def build_bundle(runtime: Runtime, recording_id: UUID, *, reason: str, by: Actor) -> bytes:
    recording = runtime.ledger.get_recording(recording_id)
    recording.check_export("bundle")  # before reading media that may be gone
    media = media_files(runtime, recording_id)
    manifest = json.dumps({
        "format": FORMAT,
        "recording_id": str(recording_id),
        "interaction_id": recording.interaction_id,
        "exported_by": by.name,
        "reason": reason,
        "files": {name: sha256(data) for name, data in sorted(media.items())},
    }, indent=2, sort_keys=True).encode()
    runtime.ledger.record_export(recording_id, reason_code=reason, what="bundle", occurred_at=datetime.now(UTC),
                                 by=by, manifest_sha256=sha256(manifest))
    size, note = runtime.log.sign_checkpoint()
    events = runtime.log.event_proofs(recording_id, size)
    files = {
        "manifest.json": manifest,
        "checkpoint.txt": note,
        "events.jsonl": b"".join(json.dumps(e.as_json(), sort_keys=True).encode() + b"\n" for e in events),
        **media,
    }
    tree = MerkleTree(runtime.log.views.leaf_hashes(size))
    for old_size, old_note in runtime.log.checkpoints.before(size, EARLIER_CHECKPOINTS):
        files[f"checkpoints/{old_size}.txt"] = old_note
        files[f"consistency/{old_size}.json"] = json.dumps({
            "old_size": old_size,
            "old_root": parse_checkpoint(parse_signed_note(old_note)[0]).root.hex(),
            "new_size": size,
            "proof": [h.hex() for h in tree.consistency_proof(old_size)],
        }, sort_keys=True).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()
