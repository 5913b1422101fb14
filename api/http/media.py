"""Media ingest: screen segments and snapshots from the agent's desktop, the voice
file from telephony, and the client's capture report.

The handlers parse the request and hand it to the MediaIngest service
(api/services/media.py), which judges the body and the recording's rules
before anything is written. An upload's body is streamed into an ``UploadBody``
(hashed as it arrives, spooled to disk past a megabyte), never read whole into
memory; the service then runs in a worker thread, as the other handlers do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal
from uuid import UUID

import anyio.to_thread
from litestar import Controller, Request, Response, post, put
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter

from api.http.context import Caller, provide
from api.http.guards import may
from api.http.schemas import Applied, CaptureReport, PathId, SnapshotRequest, SnapshotRequested
from api.services.access import actor
from api.services.media import Kind, MediaIngest
from api.services.playback import Playback
from domain import commands
from domain.permissions import Action

Count = Annotated[int, QueryParameter(ge=0, le=10_000_000)]
Size = Annotated[int, QueryParameter(ge=1, le=16_384)]
Digest = Annotated[str, QueryParameter(pattern="^[0-9a-fA-F]{64}$")]
MAX_BODY = 512 * 1024 * 1024  # the largest of the configurable limits may not exceed this
# An upload's handler reads its body itself (request.stream()): marked so, since its signature has no body.
UPLOAD = {"upload": True}
Upload = Request[Any, Any, Any]


def stored(applied: bool, then: BackgroundTask | None = None) -> Response[Applied]:
    """201 when the upload was stored now, 200 when it already was (a retry); ``then`` runs after the answer."""
    return Response(Applied(applied), status_code=201 if applied else 200, background=then if applied else None)


async def ingest(request: Upload, media_ingest: MediaIngest, kind: Kind, service: partial[bool]) -> bool:
    """Streams the request's body into an upload body and hands it to ``service`` (in a worker thread)."""
    with media_ingest.receive(kind) as body:
        async for chunk in request.stream():
            body.write(chunk)
        applied: bool = await anyio.to_thread.run_sync(partial(service, body=body))
        return applied


class MediaIngestRoutes(Controller):
    path = "/v1/recordings/{recording_id:uuid}"
    tags = ["media"]
    dependencies = provide("media_ingest", "playback")

    @put(
        "/segments/{sequence_number:int}",
        guards=[may(Action.CAPTURE)],
        request_max_body_size=MAX_BODY,
        opt=UPLOAD,
        summary="Upload one encoded screen segment (MPEG-TS, H.264) as the body; idempotent on its hash",
    )
    async def segment(
        self,
        request: Upload,
        recording_id: FromPath[UUID],
        sequence_number: Annotated[int, PathParameter(ge=0, le=10_000_000)],
        sha256: Digest,
        captured_at: FromQuery[datetime],
        start_offset_ms: Count,
        duration_ms: Count,
        monitor: Count,
        width: Size,
        height: Size,
        fps: Annotated[int, QueryParameter(ge=0, le=240)],
        principal: Caller,
        media_ingest: NamedDependency[MediaIngest],
        codec: FromQuery[Literal["h264"]] = "h264",  # declared by the client; the body is probed for it
    ) -> Response[Applied]:
        add = partial(
            media_ingest.add_segment,
            principal,
            recording_id,
            sequence_number=sequence_number,
            sha256=sha256,
            captured_at=captured_at,
            start_offset_ms=start_offset_ms,
            duration_ms=duration_ms,
            monitor=monitor,
            width=width,
            height=height,
            fps=fps,
        )
        return stored(await ingest(request, media_ingest, "segment", add))

    @put(
        "/voice",
        guards=[may(Action.VOICE)],
        request_max_body_size=MAX_BODY,
        opt=UPLOAD,
        summary="Upload the call's voice recording (WAV or Opus) as the body; idempotent on its hash",
    )
    async def voice(
        self,
        request: Upload,
        recording_id: FromPath[UUID],
        sha256: Digest,
        recorded_at: FromQuery[datetime],
        principal: Caller,
        media_ingest: NamedDependency[MediaIngest],
        playback: NamedDependency[Playback],
    ) -> Response[Applied]:
        record = partial(media_ingest.record_voice, principal, recording_id, sha256=sha256, recorded_at=recorded_at)
        applied = await ingest(request, media_ingest, "voice", record)
        # Encoding an hour of voice takes seconds: done once now, after the answer, not by the first viewing.
        return stored(applied, BackgroundTask(playback.prepare_voice, recording_id))

    @put(
        "/snapshots/{snapshot_id:str}",
        guards=[may(Action.CAPTURE)],
        request_max_body_size=MAX_BODY,
        opt=UPLOAD,
        summary="Upload a requested snapshot (JPEG) as the body; idempotent on its hash",
    )
    async def snapshot(
        self,
        request: Upload,
        recording_id: FromPath[UUID],
        snapshot_id: PathId,
        sha256: Digest,
        taken_at: FromQuery[datetime],
        monitor: Count,
        principal: Caller,
        media_ingest: NamedDependency[MediaIngest],
    ) -> Response[Applied]:
        add = partial(
            media_ingest.add_snapshot,
            principal,
            recording_id,
            snapshot_id,
            sha256=sha256,
            taken_at=taken_at,
            monitor=monitor,
        )
        return stored(await ingest(request, media_ingest, "snapshot", add))

    @post(
        "/capture-report",
        guards=[may(Action.CAPTURE)],
        status_code=200,
        sync_to_thread=True,
        summary="The capture client's count of segments it produced for this recording",
    )
    def capture_report(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[CaptureReport],
        principal: Caller,
        media_ingest: NamedDependency[MediaIngest],
    ) -> Applied:
        report = commands.ReportCapture(
            recording_id, segments=data.segments, occurred_at=data.stopped_at, by=actor(principal)
        )
        return Applied(media_ingest.report_capture(principal, report))

    @post(
        "/snapshot-requests",
        guards=[may(Action.REQUEST_SNAPSHOT)],
        status_code=201,
        sync_to_thread=True,
        summary="Ask the agent's capture client for a snapshot of the screen, with a note",
    )
    def request_snapshot(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[SnapshotRequest],
        principal: Caller,
        media_ingest: NamedDependency[MediaIngest],
    ) -> SnapshotRequested:
        snapshot_id = media_ingest.request_snapshot(principal, recording_id, data.annotation, datetime.now(UTC))
        return SnapshotRequested(snapshot_id=snapshot_id)
