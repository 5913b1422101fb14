"""Reading recordings: search, one recording's detail, and its history replayed.

The HTTP API and the command line call these same methods, so a search, its cursor
and the access it records are one thing whichever door it came through.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from adapters.view_rows import RecordingQuery
from adapters.view_store import ViewStore
from api.services.access import AccessControl
from api.services.freshness import ViewFreshness
from api.services.identity import Identity
from api.services.reveal import RecordingOut, personal_filters, reveal_recordings
from domain.access_record import Outcome
from domain.errors import InvalidCommand, NotFound
from domain.ledger import History as ReplayedHistory
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal, visible_agents
from domain.recording import Recording

# What every stored event carries besides its own data.
EVENT_ENVELOPE = frozenset(
    {"originator_id", "originator_version", "timestamp", "occurred_at", "actor", "role", "originator_topic"}
)


class SearchRequest(msgspec.Struct, kw_only=True, frozen=True):
    """A search's filters; every one given must match. ``after`` is the ``next`` of the previous page."""

    agent: str | None = None
    team: str | None = None
    customer: str | None = None
    queue: str | None = None
    direction: str | None = None
    status: str | None = None
    started_from: datetime | None = None
    started_until: datetime | None = None
    tag: dict[str, str] = {}
    missing: bool | None = None
    hold: bool | None = None
    limit: int = 50
    after: str | None = None


class SearchPage(msgspec.Struct):
    items: list[RecordingOut]
    next: str | None  # pass back as `after` for the next page


class EventOut(msgspec.Struct):
    version: int
    type: str
    recorded_at: datetime
    occurred_at: datetime
    actor: str
    role: str
    data: dict[str, Any]


class RecordingDetail(msgspec.Struct):
    recording: RecordingOut | None  # None while the search view has not caught up
    events: list[EventOut]


class ReplayedState(msgspec.Struct):
    status: str
    policy_version: int  # the recording policy it was started under
    screen_selected: bool
    paused: bool
    segments: list[int]
    legal_holds: list[str]
    tags: dict[str, str]
    ended_at: datetime | None
    acw_ended_at: datetime | None


class History(msgspec.Struct):
    recording_id: UUID
    version: int
    as_of: datetime | None
    state: ReplayedState
    events: list[EventOut]


def event_out(event: Any) -> EventOut:
    if isinstance(event, Recording.TranscriptRecorded):
        # What the call said is read through the transcript (an access of its own, by the roles
        # that may hear the call), not through the history, which auditors read too.
        data: dict[str, Any] = {"version": event.version, "source": event.source, "utterances": len(event.texts)}
    else:
        data = {k: v for k, v in vars(event).items() if k not in EVENT_ENVELOPE}
    return EventOut(
        version=event.originator_version,
        type=type(event).__name__,
        recorded_at=event.timestamp,
        occurred_at=event.occurred_at,
        actor=event.actor,
        role=event.role,
        data=data,
    )


def parse_tags(tags: list[str]) -> dict[str, str]:
    """``key=value`` filters, as both the query string and the command line give them."""
    parsed = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise InvalidCommand(f"tag filter {tag!r} is not key=value")
        parsed[key] = value
    return parsed


def _cursor(after: str | None) -> tuple[datetime, UUID] | None:
    if not after:
        return None
    started, _, recording = after.partition("|")
    try:
        return datetime.fromisoformat(started), UUID(recording)
    except ValueError:
        raise InvalidCommand("after is not a cursor returned by a previous page") from None


class Recordings:
    def __init__(
        self,
        ledger: RecordingLedger,
        views: ViewStore,
        freshness: ViewFreshness,
        identity: Identity,
        access: AccessControl,
    ) -> None:
        self._ledger = ledger
        self._views = views
        self._freshness = freshness
        self._identity = identity
        self._access = access

    def search(self, principal: Principal, request: SearchRequest) -> SearchPage:
        """Newest first, within the caller's reach; the page's recordings are recorded as accessed."""
        personal = personal_filters(self._ledger, request.customer, request.tag)
        filters = {
            name: str(value)
            for name, value in msgspec.structs.asdict(request).items()
            if value is not None and value != {}
        }
        if request.customer is not None:  # the trail keeps whom was searched for, not the id in clear
            filters["customer"] = f"ref:{personal['customer_ref']}"
        if request.tag:
            filters["tag"] = str(sorted(personal["tag_refs"].items()))  # type: ignore[attr-defined]
        self._access.allow(principal, Action.SEARCH, filters)
        org = self._identity.org()
        scope = visible_agents(principal, org)
        if request.team is not None:
            if request.team not in org.team_names:
                raise NotFound(f"no team named {request.team!r}")
            in_team = org.agents_of([org.team_names[request.team]])
            scope = in_team if scope is None else scope & in_team
        if request.agent is not None and scope is not None:
            # One agent asked for: in reach, the equality alone selects its rows (one index
            # scan, not one per agent in scope); out of reach, nothing.
            scope = None if request.agent in scope else frozenset()
        self._freshness.ensure("recordings")
        rows = self._views.search(
            RecordingQuery(
                agent_id=request.agent,
                agent_ids=scope,
                queue=request.queue,
                direction=request.direction,
                status=request.status,
                started_from=request.started_from,
                started_until=request.started_until,
                **personal,  # type: ignore[arg-type]
                missing_segments=request.missing,
                legal_hold=request.hold,
                query_holds=self._ledger.active_query_holds(),
                after=_cursor(request.after),
                limit=request.limit,
            )
        )
        recorded = (
            self._access.recording(principal, Action.SEARCH, Outcome.ALLOWED, [r.recording_id for r in rows], filters)
            if rows
            else None
        )
        last = rows[-1] if len(rows) == request.limit else None
        page = SearchPage(
            items=reveal_recordings(self._ledger, rows),
            next=f"{last.started_at.isoformat()}|{last.recording_id}" if last else None,
        )
        if recorded is not None:
            recorded.result()  # the page is answered only once its access is on the record
        return page

    def detail(self, principal: Principal, recording_id: UUID) -> RecordingDetail:
        events = self._replayed_for(principal, Action.VIEW, recording_id).events
        recorded = self._access.recording(principal, Action.VIEW, Outcome.ALLOWED, [recording_id])
        self._freshness.ensure("recordings")
        row = self._views.recording(recording_id)
        detail = RecordingDetail(
            recording=reveal_recordings(self._ledger, [row])[0] if row else None,
            events=[event_out(e) for e in events],
        )
        recorded.result()
        return detail

    def _replayed_for(self, principal: Principal, action: Action, recording_id: UUID) -> ReplayedHistory:
        """The whole recording replayed once, and the caller's scope checked against its agent
        (read from the same events, rather than loading the recording a second time)."""
        replay = self._ledger.history(recording_id)
        self._access.allow_agent(principal, action, recording_id, replay.recording.agent_id)
        return replay

    def history(
        self, principal: Principal, recording_id: UUID, *, as_of: datetime | None = None, version: int | None = None
    ) -> History:
        """The recording replayed from its events as of a recorded time and/or version."""
        if as_of is not None and as_of.tzinfo is None:
            raise InvalidCommand("as_of must carry a time zone, e.g. 2026-11-23T09:00:00Z")
        replay = self._replayed_for(principal, Action.HISTORY, recording_id)
        if as_of is not None or version is not None:
            replay = self._ledger.history(recording_id, as_of=as_of, version=version)
        state = replay.recording
        detail = {k: str(v) for k, v in {"as_of": as_of, "version": version}.items() if v is not None}
        self._access.record(principal, Action.HISTORY, Outcome.ALLOWED, [recording_id], detail)
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
