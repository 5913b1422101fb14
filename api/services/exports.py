"""Exports and proofs: the court-ready export bundle of one recording (docs/export-bundle.md),
in the format of domain/transparency/bundle_format.py that the offline verifier reads, and
the inclusion proofs of a recording's events.

Order matters: the manifest of the media is written first, its SHA-256 goes into
the recording's Exported event, a checkpoint is signed that holds that event,
and only then are the events and their inclusion proofs written out, so the
bundle proves its own manifest. The events end at that Exported event: others
may be appended to the recording meanwhile (tags, annotations, other exports),
and they belong to later bundles.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from adapters.media_combine import combine, voice_track
from adapters.media_vault import MediaVault
from api.services.access import AccessControl, actor
from api.services.transparency import TransparencyLog
from domain.access_record import Outcome
from domain.commands import RecordExport
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal
from domain.recording import Recording
from domain.transparency.bundle_format import (
    CHECKPOINT,
    COMBINED,
    EVENTS,
    MANIFEST,
    RECENT_CHECKPOINTS,
    ConsistencyFile,
    EventLine,
    Manifest,
    consistency_name,
    digest,
    earlier_checkpoint_name,
    encode_events,
    segment_name,
    snapshot_name,
    voice_name,
)
from domain.transparency.checkpoints import checkpoint_of_note
from domain.values import Actor

BUNDLE_PART = "bundle"  # the `what` of the Exported event a bundle records


class Exports:
    """What leaves the building with proof: bundles and proofs, each access recorded."""

    def __init__(
        self, ledger: RecordingLedger, media: MediaVault, transparency: TransparencyLog, access: AccessControl
    ) -> None:
        self._ledger = ledger
        self._media = media
        self._transparency = transparency
        self._access = access

    def export(self, principal: Principal, recording_id: UUID, *, reason: str) -> bytes:
        """The bundle (zip bytes), for a caller whose role and team may export this recording."""
        self._access.allow_recording(principal, Action.EXPORT, recording_id)
        return self.build_bundle(recording_id, reason=reason, by=actor(principal))

    def proofs(
        self, principal: Principal, recording_id: UUID, size: int | None = None
    ) -> tuple[int, bytes, list[EventLine]]:
        """(tree size, its signed checkpoint, each event of the recording with its inclusion
        proof) against the checkpoint of ``size`` (default: the latest); the reading is recorded.
        The role check is the route's: a log reader may prove any recording's events."""
        tree_size, note = self._transparency.checkpoint(size)
        proofs = self._transparency.event_proofs(recording_id, tree_size)
        self._access.record(principal, Action.LOG_READ, Outcome.ALLOWED, [recording_id], {"tree_size": str(tree_size)})
        return tree_size, note, proofs

    def build_bundle(self, recording_id: UUID, *, reason: str, by: Actor) -> bytes:
        recording = self._ledger.get_recording(recording_id)
        recording.check_export(BUNDLE_PART)  # before reading media that may be gone
        self._transparency.refuse_if_tampered()  # before recording an export no bundle could prove
        seen = recording.version  # the Exported event is the first after this with our manifest
        media = self._media_files(recording_id)
        manifest = Manifest(
            recording_id=str(recording_id),
            interaction_id=recording.interaction_id,
            exported_by=by.name,
            reason=reason,
            files={name: digest(data) for name, data in sorted(media.items())},
        ).encode()
        self._ledger.execute(
            RecordExport(
                recording_id,
                reason_code=reason,
                what=BUNDLE_PART,
                occurred_at=datetime.now(UTC),
                by=by,
                manifest_sha256=digest(manifest),
            )
        )
        exported = self._exported_version(recording_id, after=seen, manifest_sha256=digest(manifest))
        size, note = self._transparency.sign_checkpoint()  # its tree holds the Exported leaf: it was logged before
        events = self._transparency.event_proofs(recording_id, size, up_to_version=exported)
        files = {MANIFEST: manifest, CHECKPOINT: note, EVENTS: encode_events(events), **media}
        for old_size, old_note, proof in self._transparency.proofs_from_earlier(size, RECENT_CHECKPOINTS):
            files[earlier_checkpoint_name(old_size)] = old_note
            old_root = checkpoint_of_note(old_note).root
            files[consistency_name(old_size)] = ConsistencyFile.of(old_size, old_root, size, proof).encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as bundle:
            for name, data in files.items():
                bundle.writestr(name, data)
        return buffer.getvalue()

    def _media_files(self, recording_id: UUID) -> dict[str, bytes]:
        """The recording's media as uploaded (opened from its sealed objects), named after what the events say."""
        files: dict[str, bytes] = {}
        segments: list[tuple[int, Callable[[], bytes]]] = []
        voice = None
        for event in self._ledger.history(recording_id).events:
            if isinstance(event, Recording.ScreenSampled):
                data = self._media.get(recording_id, event.media_key)
                files[segment_name(event.sequence_number, event.sha256)] = data
                segments.append((event.start_offset_ms, _returning(data)))
            elif isinstance(event, Recording.VoiceRecorded):
                voice = self._media.get(recording_id, event.media_key)
                files[voice_name(event.sha256)] = voice
            elif isinstance(event, Recording.SnapshotTaken):
                files[snapshot_name(event.snapshot_id, event.sha256)] = self._media.get(recording_id, event.media_key)
        if segments or voice is not None:
            files[COMBINED] = combine(segments, voice_track(voice) if voice is not None else None)
        return files

    def _exported_version(self, recording_id: UUID, *, after: int, manifest_sha256: str) -> int:
        """The version of the Exported event just recorded: the first after ``after`` with this manifest.

        An identical export recorded concurrently (same manifest bytes) may come first;
        either event binds these exact bytes, so the bundle is the same proof.
        """
        for event in self._ledger.events.get(recording_id, gt=after):
            if isinstance(event, Recording.Exported) and event.manifest_sha256 == manifest_sha256:
                return event.originator_version
        raise AssertionError(f"the Exported event of {recording_id} was not stored")


def _returning(data: bytes) -> Callable[[], bytes]:
    """A segment already read, in the form combine() reads segments."""
    return lambda: data
