"""Lifecycle ingest from telephony (and the agent's own desktop): idempotent writes.

Each handler turns its request into one command of domain/commands.py and hands it
to the Lifecycle service, which checks the recording's team scope and applies it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.http.context import Caller, provide
from api.http.guards import may
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
from api.services.access import actor
from api.services.lifecycle import Lifecycle
from domain import commands
from domain.permissions import Action


class RecordingIngest(Controller):
    path = "/v1/recordings"
    tags = ["ingest"]
    dependencies = provide("lifecycle")

    @post(
        "/",
        guards=[may(Action.START)],
        status_code=201,
        sync_to_thread=True,
        summary="Start a call's recording (idempotent on interaction_id)",
    )
    def start(self, data: JSONBody[StartCall], principal: Caller, lifecycle: NamedDependency[Lifecycle]) -> Started:
        start = commands.StartCall(
            interaction_id=data.interaction_id,
            agent_id=data.agent_id,
            customer_id=data.customer_id,
            queue=data.queue,
            direction=data.direction,
            tags=data.tags,
            occurred_at=data.occurred_at,
            by=actor(principal),
        )
        return Started(recording_id=lifecycle.start(principal, start))

    @post("/{recording_id:uuid}/pause", guards=[may(Action.PAUSE)], status_code=200, sync_to_thread=True)
    def pause(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[LifecycleChange],
        principal: Caller,
        lifecycle: NamedDependency[Lifecycle],
    ) -> Applied:
        pause = commands.Pause(recording_id, reason=data.reason, occurred_at=data.occurred_at, by=actor(principal))
        return Applied(lifecycle.change(principal, pause))

    @post("/{recording_id:uuid}/resume", guards=[may(Action.RESUME)], status_code=200, sync_to_thread=True)
    def resume(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[LifecycleChange],
        principal: Caller,
        lifecycle: NamedDependency[Lifecycle],
    ) -> Applied:
        resume = commands.Resume(recording_id, reason=data.reason, occurred_at=data.occurred_at, by=actor(principal))
        return Applied(lifecycle.change(principal, resume))

    @post(
        "/{recording_id:uuid}/end",
        guards=[may(Action.END)],
        status_code=200,
        sync_to_thread=True,
        summary="The call ended",
    )
    def end(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[CallEnd],
        principal: Caller,
        lifecycle: NamedDependency[Lifecycle],
    ) -> Applied:
        end = commands.EndCall(recording_id, reason=data.reason, occurred_at=data.occurred_at, by=actor(principal))
        return Applied(lifecycle.change(principal, end))

    @post(
        "/{recording_id:uuid}/acw-end",
        guards=[may(Action.ACW_END)],
        status_code=200,
        sync_to_thread=True,
        summary="After-call work ended",
    )
    def acw_end(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[AcwEnd],
        principal: Caller,
        lifecycle: NamedDependency[Lifecycle],
    ) -> Applied:
        end = commands.EndAcw(recording_id, reason=data.reason, occurred_at=data.occurred_at, by=actor(principal))
        return Applied(lifecycle.change(principal, end))

    @post("/{recording_id:uuid}/tags", guards=[may(Action.TAG)], status_code=200, sync_to_thread=True)
    def tag(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[NewTag],
        principal: Caller,
        lifecycle: NamedDependency[Lifecycle],
    ) -> Applied:
        tag = commands.Tag(
            recording_id, key=data.key, value=data.value, occurred_at=data.occurred_at, by=actor(principal)
        )
        return Applied(lifecycle.change(principal, tag))

    # Curation and holds carry no source time: they happen when the server is told.

    @post(
        "/{recording_id:uuid}/annotations",
        guards=[may(Action.ANNOTATE)],
        status_code=201,
        sync_to_thread=True,
        summary="Annotate at a media offset (quality managers and supervisors, within their teams)",
    )
    def annotate(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[NewAnnotation],
        principal: Caller,
        lifecycle: NamedDependency[Lifecycle],
    ) -> Applied:
        annotation = commands.Annotate(
            recording_id,
            media_offset_ms=data.media_offset_ms,
            text=data.text,
            occurred_at=datetime.now(UTC),
            by=actor(principal),
        )
        return Applied(lifecycle.change(principal, annotation))

    @post(
        "/{recording_id:uuid}/holds",
        guards=[may(Action.HOLD)],
        status_code=200,
        sync_to_thread=True,
        summary="Place a legal hold",
    )
    def place_hold(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[NewHold],
        principal: Caller,
        lifecycle: NamedDependency[Lifecycle],
    ) -> Applied:
        hold = commands.PlaceHold(
            recording_id, case_id=data.case_id, reason=data.reason, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        return Applied(lifecycle.change(principal, hold))

    @post(
        "/{recording_id:uuid}/holds/{case_id:str}/release",
        guards=[may(Action.HOLD)],
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
        lifecycle: NamedDependency[Lifecycle],
    ) -> Applied:
        release = commands.ReleaseHold(
            recording_id, case_id=case_id, reason=data.reason, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        return Applied(lifecycle.change(principal, release))
