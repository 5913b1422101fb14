"""Search, detail and history of recordings: parsed here, judged and recorded by the service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from api.http.context import Caller, provide
from api.http.guards import may
from api.services.recordings import (
    History,
    RecordingDetail,
    Recordings,
    SearchPage,
    SearchRequest,
    parse_tags,
)
from domain.permissions import Action


class RecordingRead(Controller):
    path = "/v1/recordings"
    tags = ["recordings"]
    dependencies = provide("recordings")

    @get(
        "/",
        guards=[may(Action.SEARCH)],
        sync_to_thread=True,
        summary="Search recordings within the caller's reach (newest first)",
    )
    def search(
        self,
        principal: Caller,
        recordings: NamedDependency[Recordings],
        agent: FromQuery[str | None] = None,
        team: FromQuery[str | None] = None,
        customer: FromQuery[str | None] = None,
        queue: FromQuery[str | None] = None,
        direction: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        started_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        started_until: Annotated[datetime | None, QueryParameter(name="until")] = None,
        tag: Annotated[list[str] | None, QueryParameter(description="key=value, repeatable")] = None,
        missing: Annotated[bool | None, QueryParameter(description="with (true) or without missing segments")] = None,
        hold: FromQuery[bool | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 50,
        after: Annotated[str | None, QueryParameter(description="the `next` cursor of the previous page")] = None,
    ) -> SearchPage:
        request = SearchRequest(
            agent=agent,
            team=team,
            customer=customer,
            queue=queue,
            direction=direction,
            status=status,
            started_from=started_from,
            started_until=started_until,
            tag=parse_tags(tag or []),
            missing=missing,
            hold=hold,
            limit=limit,
            after=after,
        )
        return recordings.search(principal, request)

    @get(
        "/{recording_id:uuid}",
        guards=[may(Action.VIEW)],
        sync_to_thread=True,
        summary="A recording's current state and its events",
    )
    def detail(
        self, recording_id: FromPath[UUID], principal: Caller, recordings: NamedDependency[Recordings]
    ) -> RecordingDetail:
        return recordings.detail(principal, recording_id)

    @get(
        "/{recording_id:uuid}/history",
        guards=[may(Action.HISTORY)],
        sync_to_thread=True,
        summary="The recording replayed from its events as of a recorded time and/or version",
    )
    def history(
        self,
        recording_id: FromPath[UUID],
        principal: Caller,
        recordings: NamedDependency[Recordings],
        as_of: FromQuery[datetime | None] = None,
        version: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
    ) -> History:
        return recordings.history(principal, recording_id, as_of=as_of, version=version)
