"""Search, detail and history of recordings, scoped by role and org; every access recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get
from litestar.params import FromPath, FromQuery, QueryParameter

from adapters.view_rows import RecordingQuery
from api.http.context import Caller, Services
from api.http.schemas import EventOut, History, RecordingDetail, ReplayedState, SearchPage
from api.services.access import allow, allow_recording, asked, record
from api.services.reveal import personal_filters, reveal_recordings
from domain.access_record import Outcome
from domain.errors import InvalidCommand, NotFound
from domain.permissions import Action, visible_agents

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "occurred_at", "actor", "role", "originator_topic"}


def event_out(event: Any) -> EventOut:
    state = vars(event)
    return EventOut(
        version=event.originator_version,
        type=type(event).__name__,
        recorded_at=event.timestamp,
        occurred_at=event.occurred_at,
        actor=event.actor,
        role=event.role,
        data={k: v for k, v in state.items() if k not in _ENVELOPE},
    )


def parse_tags(tags: list[str]) -> dict[str, str]:
    parsed = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise InvalidCommand(f"tag filter {tag!r} is not key=value")
        parsed[key] = value
    return parsed


def parse_cursor(after: str | None) -> tuple[datetime, UUID] | None:
    if not after:
        return None
    started, _, recording = after.partition("|")
    try:
        return datetime.fromisoformat(started), UUID(recording)
    except ValueError:
        raise InvalidCommand("after is not a cursor returned by a previous page") from None


class RecordingRead(Controller):
    path = "/v1/recordings"
    tags = ["recordings"]

    @get("/", sync_to_thread=True, summary="Search recordings within the caller's reach (newest first)")
    def search(
        self,
        principal: Caller,
        runtime: Services,
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
        filters = asked(locals())
        personal = personal_filters(runtime.ledger, customer, parse_tags(tag or []))
        if customer is not None:  # the trail keeps whom was searched for, not the id in clear
            filters["customer"] = f"ref:{personal['customer_ref']}"
        if tag:
            filters["tag"] = str(sorted(personal["tag_refs"].items()))
        allow(runtime, principal, Action.SEARCH, filters)
        org = runtime.org()
        scope = visible_agents(principal, org)
        if team is not None:
            if team not in org.team_names:
                raise NotFound(f"no team named {team!r}")
            in_team = org.agents_of([org.team_names[team]])
            scope = in_team if scope is None else scope & in_team
        runtime.fresh("recordings")
        rows = runtime.views.search(
            RecordingQuery(
                agent_id=agent,
                agent_ids=scope,
                queue=queue,
                direction=direction,
                status=status,
                started_from=started_from,
                started_until=started_until,
                **personal,
                missing_segments=missing,
                legal_hold=hold,
                query_holds=runtime.ledger.active_query_holds(),
                after=parse_cursor(after),
                limit=limit,
            )
        )
        if rows:
            record(runtime, principal, Action.SEARCH, Outcome.ALLOWED, [r.recording_id for r in rows], filters)
        last = rows[-1] if len(rows) == limit else None
        return SearchPage(
            items=reveal_recordings(runtime.ledger, rows),
            next=f"{last.started_at.isoformat()}|{last.recording_id}" if last else None,
        )

    @get("/{recording_id:uuid}", sync_to_thread=True, summary="A recording's current state and its events")
    def detail(self, recording_id: FromPath[UUID], principal: Caller, runtime: Services) -> RecordingDetail:
        allow_recording(runtime, principal, Action.VIEW, recording_id)
        events = runtime.ledger.history(recording_id).events
        record(runtime, principal, Action.VIEW, Outcome.ALLOWED, [recording_id])
        runtime.fresh("recordings")
        row = runtime.views.recording(recording_id)
        return RecordingDetail(
            recording=reveal_recordings(runtime.ledger, [row])[0] if row else None,
            events=[event_out(e) for e in events],
        )

    @get(
        "/{recording_id:uuid}/history",
        sync_to_thread=True,
        summary="The recording replayed from its events as of a recorded time and/or version",
    )
    def history(
        self,
        recording_id: FromPath[UUID],
        principal: Caller,
        runtime: Services,
        as_of: FromQuery[datetime | None] = None,
        version: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
    ) -> History:
        allow_recording(runtime, principal, Action.HISTORY, recording_id)
        if as_of is not None and as_of.tzinfo is None:
            raise InvalidCommand("as_of must carry a time zone, e.g. 2026-11-23T09:00:00Z")
        replay = runtime.ledger.history(recording_id, as_of=as_of, version=version)
        state = replay.recording
        detail = {k: str(v) for k, v in {"as_of": as_of, "version": version}.items() if v is not None}
        record(runtime, principal, Action.HISTORY, Outcome.ALLOWED, [recording_id], detail)
        return History(
            recording_id=recording_id,
            version=state.version,
            as_of=as_of,
            state=ReplayedState(
                status=state.status.value,
                policy_version=state.policy_version,
                screen_selected=state.screen_selected,
                paused=state.paused,
                segments=sorted(state.segments),
                legal_holds=sorted(state.holds),
                tags=dict(state.tags),
                ended_at=state.ended_at,
                acw_ended_at=state.acw_ended_at,
            ),
            events=[event_out(e) for e in replay.events],
        )
