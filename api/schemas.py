"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from api.reveal import AuditOut, RecordingOut

Text = Annotated[str, Meta(min_length=1, max_length=256)]
Reason = Annotated[str, Meta(max_length=1024)]
LongText = Annotated[str, Meta(min_length=1, max_length=4096)]
RoleName = Literal["agent", "telephony", "supervisor", "quality", "legal", "auditor", "admin"]


class Body(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class StartCall(Body, kw_only=True):
    interaction_id: Text
    agent_id: Text
    customer_id: Text
    queue: Text
    direction: Literal["inbound", "outbound", "internal"]
    tags: dict[Annotated[str, Meta(min_length=1, max_length=128)], Annotated[str, Meta(max_length=1024)]] = {}
    occurred_at: datetime


class LifecycleChange(Body, kw_only=True):
    """Pause, resume or end: the source's occurred_at is the retry key."""

    reason: Reason = ""
    occurred_at: datetime


class CallEnd(LifecycleChange, kw_only=True):
    def __post_init__(self) -> None:
        self.reason = self.reason or "hangup"  # telephony often sends no reason for a plain hang-up


class AcwEnd(Body, kw_only=True):
    reason: Literal["status_change", "timeout"] = "status_change"
    occurred_at: datetime


class NewTag(Body, kw_only=True):
    key: Annotated[str, Meta(min_length=1, max_length=128)]
    value: Annotated[str, Meta(max_length=1024)]
    occurred_at: datetime


class NewAnnotation(Body, kw_only=True):
    media_offset_ms: Annotated[int, Meta(ge=0, le=86_400_000)]
    text: LongText


class NewHold(Body, kw_only=True):
    case_id: Text
    reason: Annotated[str, Meta(min_length=1, max_length=1024)]


class HoldRelease(Body, kw_only=True):
    reason: Annotated[str, Meta(min_length=1, max_length=1024)]


class NewUser(Body, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]
    role: RoleName
    team: Text | None = None


class UserTeam(Body, kw_only=True):
    team: Text | None


class Deactivation(Body, kw_only=True):
    reason: Annotated[str, Meta(min_length=1, max_length=1024)]


class NewTeam(Body, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=128)]
    parent: Text | None = None


class Responsibility(Body, kw_only=True):
    user: Text


class CaptureReport(Body, kw_only=True):
    segments: Annotated[int, Meta(ge=0, le=10_000_000)]
    stopped_at: datetime


class SnapshotRequest(Body, kw_only=True):
    annotation: LongText


class SnapshotRequested(msgspec.Struct):
    snapshot_id: str


class ExportRequest(Body, kw_only=True):
    reason: Annotated[str, Meta(min_length=1, max_length=1024)]


class RecordingProofs(msgspec.Struct):
    tree_size: int
    checkpoint: str  # the signed note
    events: list[dict[str, Any]]  # as in an export bundle's events.jsonl


class ConsistencyProof(msgspec.Struct):
    old_size: int
    new_size: int
    proof: list[str]


class Started(msgspec.Struct):
    recording_id: UUID


class Applied(msgspec.Struct):
    """False when the request repeated one already applied (a retry)."""

    applied: bool


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


class SearchPage(msgspec.Struct):
    items: list[RecordingOut]
    next: str | None  # pass back as ?after= for the next page


class AuditPage(msgspec.Struct):
    items: list[AuditOut]
    next: str | None


class UserOut(msgspec.Struct):
    user_id: UUID
    name: str
    role: str
    team: str | None
    active: bool


class NewToken(msgspec.Struct):
    """The bearer token is shown once, here; only its hash is kept."""

    user_id: UUID
    name: str
    role: str
    token: str


class TeamOut(msgspec.Struct):
    team_id: UUID
    name: str
    parent: str | None
    responsible: list[str]


class Health(msgspec.Struct):
    status: str
    views: dict[str, int] = {}  # events each view lags behind the log
