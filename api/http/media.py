"""Media ingest: screen segments and snapshots from the agent's desktop, the voice
file from telephony, and the client's capture report.

Every body is checked before anything is stored: its size, its SHA-256 against
the one the client computed, and that it decodes as what it claims to be. Only
then is the object written (create-only) and its event appended; a refusal
leaves nothing behind but its entry in the audit trail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from litestar import Controller, Response, post, put
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter, RawBody

from adapters.media_probe import MediaInfo, probe_audio, probe_image, probe_segment
from api.bootstrap import Runtime
from api.http.context import Caller, Services
from api.http.schemas import Applied, CaptureReport, PathId, SnapshotRequest, SnapshotRequested
from api.services.access import actor, allow_recording, record
from domain.access_record import Outcome
from domain.errors import DomainError, InvalidCommand, MediaConflict
from domain.permissions import Action, Principal
from domain.values import require_utc

Count = Annotated[int, QueryParameter(ge=0, le=10_000_000)]
Size = Annotated[int, QueryParameter(ge=1, le=16_384)]
Digest = Annotated[str, QueryParameter(pattern="^[0-9a-fA-F]{64}$")]
MAX_BODY = 512 * 1024 * 1024  # the largest of the configurable limits may not exceed this


def ingest(
    runtime: Runtime,
    principal: Principal,
    recording_id: UUID,
    *,
    action: Action,
    what: str,
    body: bytes,
    sha256: str,
    at: datetime,
    limit: int,
    probe: Callable[[bytes], MediaInfo],
    key: str,
    already: str | None,
    append: Callable[[MediaInfo], bool],
) -> Response[Applied]:
    """The one path every media body takes; answers 201 stored or 200 already stored.

    Everything the request alone can be judged on is judged before the object is written;
    the recording's rules then judge the event, and a refused event takes its object back.
    """
    sha256 = sha256.lower()
    try:
        require_utc(at)
        if len(body) > limit:
            raise InvalidCommand(f"the {what} is larger than the limit of {limit} bytes")
        if hashlib.sha256(body).hexdigest() != sha256:
            raise InvalidCommand(f"the {what}'s SHA-256 does not match its body (tampered or truncated)")
        if already == sha256:
            return Response(Applied(False), status_code=200)
        if already is not None:
            raise MediaConflict(f"a different {what} is already stored here")
        info = probe(body)
        created = runtime.media.put_new(recording_id, key, body)
        try:
            applied = append(info)
        except DomainError:
            if created:  # no event refers to it: the refused object must not linger
                runtime.media.delete(key)
            raise
    except DomainError as refusal:
        record(
            runtime,
            principal,
            action,
            Outcome.REFUSED,
            [recording_id],
            {"what": what, "sha256": sha256, "why": str(refusal)},
            "refused",
        )
        raise
    return Response(Applied(applied), status_code=201 if applied else 200)


class MediaIngest(Controller):
    path = "/v1/recordings/{recording_id:uuid}"
    tags = ["media"]

    @put(
        "/segments/{sequence_number:int}",
        sync_to_thread=True,
        request_max_body_size=MAX_BODY,
        summary="Upload one encoded screen segment (MPEG-TS, H.264); idempotent on its hash",
    )
    def segment(
        self,
        recording_id: FromPath[UUID],
        sequence_number: Annotated[int, PathParameter(ge=0, le=10_000_000)],
        body: RawBody,
        sha256: Digest,
        captured_at: FromQuery[datetime],
        start_offset_ms: Count,
        duration_ms: Count,
        monitor: Count,
        width: Size,
        height: Size,
        fps: Annotated[int, QueryParameter(ge=0, le=240)],
        principal: Caller,
        runtime: Services,
        codec: FromQuery[Literal["h264"]] = "h264",  # declared by the client; the body is probed for it
    ) -> Response[Applied]:
        allow_recording(runtime, principal, Action.CAPTURE, recording_id)
        recording = runtime.ledger.get_recording(recording_id)
        key = f"recordings/{recording_id}/segments/{sequence_number:06d}-{sha256.lower()}.ts"
        return ingest(
            runtime,
            principal,
            recording_id,
            action=Action.CAPTURE,
            what="segment",
            body=body,
            sha256=sha256,
            at=captured_at,
            limit=runtime.settings.max_segment_bytes,
            probe=probe_segment,
            key=key,
            already=recording.segments.get(sequence_number),
            append=lambda info: runtime.ledger.add_segment(
                recording_id,
                sequence_number=sequence_number,
                start_offset_ms=start_offset_ms,
                duration_ms=duration_ms,
                monitor=monitor,
                width=width,
                height=height,
                codec=info.codec,
                byte_size=len(body),
                sha256=sha256.lower(),
                media_key=key,
                fps=fps,
                occurred_at=captured_at,
                by=actor(principal),
            ),
        )

    @put(
        "/voice",
        sync_to_thread=True,
        request_max_body_size=MAX_BODY,
        summary="Upload the call's voice recording (WAV or Opus); idempotent on its hash",
    )
    def voice(
        self,
        recording_id: FromPath[UUID],
        body: RawBody,
        sha256: Digest,
        recorded_at: FromQuery[datetime],
        principal: Caller,
        runtime: Services,
    ) -> Response[Applied]:
        allow_recording(runtime, principal, Action.VOICE, recording_id)
        recording = runtime.ledger.get_recording(recording_id)
        key = f"recordings/{recording_id}/voice/{sha256.lower()}"
        return ingest(
            runtime,
            principal,
            recording_id,
            action=Action.VOICE,
            what="voice recording",
            body=body,
            sha256=sha256,
            at=recorded_at,
            limit=runtime.settings.max_voice_bytes,
            probe=probe_audio,
            key=key,
            already=recording.voice_sha256,
            append=lambda info: runtime.ledger.record_voice(
                recording_id,
                codec=info.codec,
                duration_ms=info.duration_ms,
                byte_size=len(body),
                sha256=sha256.lower(),
                media_key=key,
                occurred_at=recorded_at,
                by=actor(principal),
            ),
        )

    @put(
        "/snapshots/{snapshot_id:str}",
        sync_to_thread=True,
        request_max_body_size=MAX_BODY,
        summary="Upload a requested snapshot (JPEG); idempotent on its hash",
    )
    def snapshot(
        self,
        recording_id: FromPath[UUID],
        snapshot_id: PathId,
        body: RawBody,
        sha256: Digest,
        taken_at: FromQuery[datetime],
        monitor: Count,
        principal: Caller,
        runtime: Services,
    ) -> Response[Applied]:
        allow_recording(runtime, principal, Action.CAPTURE, recording_id)
        recording = runtime.ledger.get_recording(recording_id)
        key = f"recordings/{recording_id}/snapshots/{snapshot_id}-{sha256.lower()}.jpg"
        return ingest(
            runtime,
            principal,
            recording_id,
            action=Action.CAPTURE,
            what="snapshot",
            body=body,
            sha256=sha256,
            at=taken_at,
            limit=runtime.settings.max_snapshot_bytes,
            probe=probe_image,
            key=key,
            already=recording.snapshots.get(snapshot_id),
            append=lambda info: runtime.ledger.add_snapshot(
                recording_id,
                snapshot_id=snapshot_id,
                monitor=monitor,
                width=info.width,
                height=info.height,
                byte_size=len(body),
                sha256=sha256.lower(),
                media_key=key,
                occurred_at=taken_at,
                by=actor(principal),
            ),
        )

    @post(
        "/capture-report",
        status_code=200,
        sync_to_thread=True,
        summary="The capture client's count of segments it produced for this recording",
    )
    def capture_report(
        self, recording_id: FromPath[UUID], data: JSONBody[CaptureReport], principal: Caller, runtime: Services
    ) -> Applied:
        allow_recording(runtime, principal, Action.CAPTURE, recording_id)
        return Applied(
            runtime.ledger.report_capture(
                recording_id, segments=data.segments, occurred_at=data.stopped_at, by=actor(principal)
            )
        )

    @post(
        "/snapshot-requests",
        status_code=201,
        sync_to_thread=True,
        summary="Ask the agent's capture client for a snapshot of the screen, with a note",
    )
    def request_snapshot(
        self, recording_id: FromPath[UUID], data: JSONBody[SnapshotRequest], principal: Caller, runtime: Services
    ) -> SnapshotRequested:
        allow_recording(runtime, principal, Action.REQUEST_SNAPSHOT, recording_id)
        snapshot_id = uuid4().hex
        runtime.ledger.request_snapshot(
            recording_id,
            snapshot_id=snapshot_id,
            annotation=data.annotation,
            occurred_at=datetime.now(UTC),
            by=actor(principal),
        )
        return SnapshotRequested(snapshot_id=snapshot_id)
