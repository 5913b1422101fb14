"""Media ingest: screen segments and snapshots from the agent's desktop, the voice
file from telephony, and the capture client's report and snapshot requests.

Rules before side effects. Every body is first judged on what the request alone
shows (its size, its SHA-256 against the one the client computed, that it
decodes as what it claims to be), then the recording's rules are asked whether
its event may be added (``Recording.check_*``, on the committed state); only
then is the object written (create-only) and its event appended. A refusal
writes nothing, and leaves only its entry in the audit trail.

A body comes as bytes or, from the HTTP API, as an ``UploadBody`` it streamed into
(hashed as it arrived, kept in a spool that moves to disk past a megabyte): probed,
sealed and stored from there piece by piece, so this process never holds it whole
(the store's create-only put gathers the sealed object once, outside Python's heap).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO, Literal, TypeVar
from uuid import UUID, uuid4

from adapters import metrics
from adapters.media_probe import MediaInfo, probe_audio, probe_image, probe_segment
from adapters.media_vault import MediaVault
from adapters.upload_body import UploadBody
from api.services.access import AccessControl, actor
from domain import commands
from domain.access_record import Outcome
from domain.errors import DomainError, InvalidCommand
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal
from domain.recording import Recording
from domain.values import require_utc

Upload = TypeVar("Upload", commands.AddSegment, commands.RecordVoice, commands.AddSnapshot)
Body = bytes | UploadBody
Kind = Literal["segment", "voice", "snapshot"]
WHAT: dict[Kind, str] = {"segment": "segment", "voice": "voice recording", "snapshot": "snapshot"}


class MediaIngest:
    def __init__(
        self,
        ledger: RecordingLedger,
        media: MediaVault,
        access: AccessControl,
        *,
        max_segment_bytes: int,
        max_voice_bytes: int,
        max_snapshot_bytes: int,
    ) -> None:
        self._ledger = ledger
        self._media = media
        self._access = access
        self._limits: dict[Kind, int] = {
            "segment": max_segment_bytes,
            "voice": max_voice_bytes,
            "snapshot": max_snapshot_bytes,
        }

    def receive(self, kind: Kind) -> UploadBody:
        """An empty body for an upload of this kind to stream into; it keeps no more than the kind's limit."""
        return UploadBody(self._limits[kind])

    def add_segment(
        self,
        principal: Principal,
        recording_id: UUID,
        body: Body,
        *,
        sequence_number: int,
        sha256: str,
        captured_at: datetime,
        start_offset_ms: int,
        duration_ms: int,
        monitor: int,
        width: int,
        height: int,
        fps: int,
    ) -> bool:
        """One encoded screen segment; True if stored now, False if it already was (a retried upload)."""
        self._access.allow_recording(principal, Action.CAPTURE, recording_id)
        sha256 = sha256.lower()
        key = f"recordings/{recording_id}/segments/{sequence_number:06d}-{sha256}.ts"

        def segment(info: MediaInfo, size: int) -> commands.AddSegment:
            return commands.AddSegment(
                recording_id,
                sequence_number=sequence_number,
                start_offset_ms=start_offset_ms,
                duration_ms=duration_ms,
                monitor=monitor,
                width=width,
                height=height,
                codec=info.codec,
                byte_size=size,
                sha256=sha256,
                media_key=key,
                fps=fps,
                occurred_at=captured_at,
                by=actor(principal),
            )

        return self._ingest(
            principal,
            recording_id,
            Action.CAPTURE,
            "segment",
            body,
            sha256,
            captured_at,
            probe=probe_segment,
            command_for=segment,
            check=Recording.check_segment,
        )

    def record_voice(
        self, principal: Principal, recording_id: UUID, body: Body, *, sha256: str, recorded_at: datetime
    ) -> bool:
        """The call's voice recording (WAV or Opus), one per call."""
        self._access.allow_recording(principal, Action.VOICE, recording_id)
        sha256 = sha256.lower()
        key = f"recordings/{recording_id}/voice/{sha256}"

        def voice(info: MediaInfo, size: int) -> commands.RecordVoice:
            return commands.RecordVoice(
                recording_id,
                codec=info.codec,
                duration_ms=info.duration_ms,
                byte_size=size,
                sha256=sha256,
                media_key=key,
                occurred_at=recorded_at,
                by=actor(principal),
            )

        return self._ingest(
            principal,
            recording_id,
            Action.VOICE,
            "voice",
            body,
            sha256,
            recorded_at,
            probe=probe_audio,
            command_for=voice,
            check=Recording.check_voice,
        )

    def add_snapshot(
        self,
        principal: Principal,
        recording_id: UUID,
        snapshot_id: str,
        body: Body,
        *,
        sha256: str,
        taken_at: datetime,
        monitor: int,
    ) -> bool:
        """A snapshot (JPEG) someone requested for this recording."""
        self._access.allow_recording(principal, Action.CAPTURE, recording_id)
        sha256 = sha256.lower()
        key = f"recordings/{recording_id}/snapshots/{snapshot_id}-{sha256}.jpg"

        def snapshot(info: MediaInfo, size: int) -> commands.AddSnapshot:
            return commands.AddSnapshot(
                recording_id,
                snapshot_id=snapshot_id,
                monitor=monitor,
                width=info.width,
                height=info.height,
                byte_size=size,
                sha256=sha256,
                media_key=key,
                occurred_at=taken_at,
                by=actor(principal),
            )

        return self._ingest(
            principal,
            recording_id,
            Action.CAPTURE,
            "snapshot",
            body,
            sha256,
            taken_at,
            probe=probe_image,
            command_for=snapshot,
            check=Recording.check_snapshot,
        )

    def report_capture(self, principal: Principal, report: commands.ReportCapture) -> bool:
        """The capture client's count of the segments it produced; what never arrived is recorded."""
        self._access.allow_recording(principal, Action.CAPTURE, report.recording_id)
        applied: bool = self._ledger.execute(report)
        return applied

    def request_snapshot(self, principal: Principal, recording_id: UUID, annotation: str, at: datetime) -> str:
        """Asks the agent's capture client for a still of the screen, with a note; the snapshot's id."""
        self._access.allow_recording(principal, Action.REQUEST_SNAPSHOT, recording_id)
        snapshot_id = uuid4().hex
        self._ledger.execute(
            commands.RequestSnapshot(
                recording_id, snapshot_id=snapshot_id, annotation=annotation, occurred_at=at, by=actor(principal)
            )
        )
        return snapshot_id

    def _ingest(
        self,
        principal: Principal,
        recording_id: UUID,
        action: Action,
        kind: Kind,
        body: Body,
        sha256: str,
        at: datetime,
        *,
        probe: Callable[[BinaryIO], MediaInfo],
        command_for: Callable[[MediaInfo, int], Upload],
        check: Callable[[Recording, Upload], bool],
    ) -> bool:
        """The one path every media body takes: the request's checks, the recording's, then the write."""
        what, limit = WHAT[kind], self._limits[kind]
        upload = UploadBody.of(body) if isinstance(body, bytes) else body
        try:
            require_utc(at)
            if upload.size > limit:
                raise InvalidCommand(f"the {what} is larger than the limit of {limit} bytes")
            if upload.digest.hex() != sha256:
                raise InvalidCommand(f"the {what}'s SHA-256 does not match its body (tampered or truncated)")
            command = command_for(probe(upload.file()), upload.size)
            if not check(self._ledger.get_recording(recording_id), command):
                return False  # this very body is stored already: a retried upload
            self._media.put_new(recording_id, command.media_key, upload)
            # Another writer may change the recording between the check and this append.
            # If the append is then refused, the object just written stays, referred to by
            # no event: it is not deleted, since the key (named by the body's hash) may be
            # the very object a concurrent identical upload's event refers to.
            applied: Any = self._ledger.execute(command)
            if applied:
                metrics.stored_upload(kind, upload.size)
        except DomainError as refusal:
            metrics.refused_upload(kind, refusal)
            detail = {"what": what, "sha256": sha256, "why": str(refusal)}
            self._access.record(principal, action, Outcome.REFUSED, [recording_id], detail, "refused")
            raise
        finally:
            if upload is not body:
                upload.close()
        return bool(applied)
