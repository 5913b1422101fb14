"""Lifecycle ingest from telephony (and the agent's own desktop): idempotent writes."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from litestar import Controller, post
from litestar.params import FromPath, JSONBody

from api.http.context import Caller, Services
from api.http.schemas import (
    AcwEnd,
    Applied,
    CallEnd,
    HoldRelease,
    LifecycleChange,
    NewAnnotation,
    NewHold,
    NewTag,
    PathId,
    StartCall,
    Started,
)
from api.services.access import actor, allow, allow_recording
from domain.permissions import Action


class RecordingIngest(Controller):
    path = "/v1/recordings"
    tags = ["ingest"]

    @post("/", status_code=201, sync_to_thread=True, summary="Start a call's recording (idempotent on interaction_id)")
    def start(self, data: JSONBody[StartCall], principal: Caller, runtime: Services) -> Started:
        allow(runtime, principal, Action.START)
        recording_id = runtime.ledger.start_call(
            interaction_id=data.interaction_id,
            agent_id=data.agent_id,
            customer_id=data.customer_id,
            queue=data.queue,
            direction=data.direction,
            tags=data.tags,
            occurred_at=data.occurred_at,
            by=actor(principal),
        )
        return Started(recording_id=recording_id)

    @post("/{recording_id:uuid}/pause", status_code=200, sync_to_thread=True)
    def pause(
        self, recording_id: FromPath[UUID], data: JSONBody[LifecycleChange], principal: Caller, runtime: Services
    ) -> Applied:
        allow_recording(runtime, principal, Action.PAUSE, recording_id)
        return Applied(
            runtime.ledger.pause(recording_id, reason=data.reason, occurred_at=data.occurred_at, by=actor(principal))
        )

    @post("/{recording_id:uuid}/resume", status_code=200, sync_to_thread=True)
    def resume(
        self, recording_id: FromPath[UUID], data: JSONBody[LifecycleChange], principal: Caller, runtime: Services
    ) -> Applied:
        allow_recording(runtime, principal, Action.RESUME, recording_id)
        return Applied(
            runtime.ledger.resume(recording_id, reason=data.reason, occurred_at=data.occurred_at, by=actor(principal))
        )

    @post("/{recording_id:uuid}/end", status_code=200, sync_to_thread=True, summary="The call ended")
    def end(
        self, recording_id: FromPath[UUID], data: JSONBody[CallEnd], principal: Caller, runtime: Services
    ) -> Applied:
        allow_recording(runtime, principal, Action.END, recording_id)
        return Applied(
            runtime.ledger.end_call(recording_id, reason=data.reason, occurred_at=data.occurred_at, by=actor(principal))
        )

    @post("/{recording_id:uuid}/acw-end", status_code=200, sync_to_thread=True, summary="After-call work ended")
    def acw_end(
        self, recording_id: FromPath[UUID], data: JSONBody[AcwEnd], principal: Caller, runtime: Services
    ) -> Applied:
        allow_recording(runtime, principal, Action.ACW_END, recording_id)
        return Applied(
            runtime.ledger.end_acw(recording_id, reason=data.reason, occurred_at=data.occurred_at, by=actor(principal))
        )

    @post("/{recording_id:uuid}/tags", status_code=200, sync_to_thread=True)
    def tag(
        self, recording_id: FromPath[UUID], data: JSONBody[NewTag], principal: Caller, runtime: Services
    ) -> Applied:
        allow_recording(runtime, principal, Action.TAG, recording_id)
        return Applied(
            runtime.ledger.tag(
                recording_id, key=data.key, value=data.value, occurred_at=data.occurred_at, by=actor(principal)
            )
        )

    @post(
        "/{recording_id:uuid}/annotations",
        status_code=201,
        sync_to_thread=True,
        summary="Annotate at a media offset (quality)",
    )
    def annotate(
        self, recording_id: FromPath[UUID], data: JSONBody[NewAnnotation], principal: Caller, runtime: Services
    ) -> Applied:
        allow_recording(runtime, principal, Action.ANNOTATE, recording_id)
        runtime.ledger.annotate(
            recording_id,
            media_offset_ms=data.media_offset_ms,
            text=data.text,
            occurred_at=datetime.now(UTC),
            by=actor(principal),
        )
        return Applied(True)

    @post("/{recording_id:uuid}/holds", status_code=200, sync_to_thread=True, summary="Place a legal hold")
    def place_hold(
        self, recording_id: FromPath[UUID], data: JSONBody[NewHold], principal: Caller, runtime: Services
    ) -> Applied:
        allow_recording(runtime, principal, Action.HOLD, recording_id)
        return Applied(
            runtime.ledger.place_hold(
                recording_id,
                case_id=data.case_id,
                reason=data.reason,
                occurred_at=datetime.now(UTC),
                by=actor(principal),
            )
        )

    @post(
        "/{recording_id:uuid}/holds/{case_id:str}/release",
        status_code=200,
        sync_to_thread=True,
        summary="Release a legal hold",
    )
    def release_hold(
        self,
        recording_id: FromPath[UUID],
        case_id: PathId,
        data: JSONBody[HoldRelease],
        principal: Caller,
        runtime: Services,
    ) -> Applied:
        allow_recording(runtime, principal, Action.HOLD, recording_id)
        runtime.ledger.release_hold(
            recording_id, case_id=case_id, reason=data.reason, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        return Applied(True)
