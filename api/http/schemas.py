"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar.params import PathParameter
from msgspec import Meta

from domain.values import ID_PATTERN, LINE_PATTERN, MAX_ID, PROSE_PATTERN

# Every string a request carries is one of these: bounded, and held to the domain's
# own text rules (domain/values.py), so bad text is refused before any handler runs.
Text = Annotated[str, Meta(min_length=1, max_length=256, pattern=LINE_PATTERN)]  # names and ids of the source
Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN)]  # may become a key or a path
PathId = Annotated[str, PathParameter(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN)]
Reason = Annotated[str, Meta(max_length=1024, pattern=PROSE_PATTERN)]
RequiredReason = Annotated[str, Meta(min_length=1, max_length=1024, pattern=PROSE_PATTERN)]
LongText = Annotated[str, Meta(min_length=1, max_length=4096, pattern=PROSE_PATTERN)]
TagKey = Annotated[str, Meta(min_length=1, max_length=128, pattern=LINE_PATTERN)]
TagValue = Annotated[str, Meta(max_length=1024, pattern=PROSE_PATTERN)]
RoleName = Literal["agent", "telephony", "supervisor", "quality", "legal", "auditor", "admin"]


class Body(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class StartCall(Body, kw_only=True):
    interaction_id: Text
    agent_id: Text
    customer_id: Text
    queue: Text
    direction: Literal["inbound", "outbound", "internal"]
    tags: Annotated[dict[TagKey, TagValue], Meta(max_length=256)] = {}
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
    key: TagKey
    value: TagValue
    occurred_at: datetime


class NewAnnotation(Body, kw_only=True):
    media_offset_ms: Annotated[int, Meta(ge=0, le=86_400_000)]
    text: LongText


class NewHold(Body, kw_only=True):
    case_id: Id  # released by its path
    reason: RequiredReason


class HoldRelease(Body, kw_only=True):
    reason: RequiredReason


class NewUser(Body, kw_only=True):
    name: Id
    role: RoleName
    team: Text | None = None


class UserTeam(Body, kw_only=True):
    team: Text | None


class Deactivation(Body, kw_only=True):
    reason: RequiredReason


class NewTeam(Body, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=128, pattern=LINE_PATTERN)]
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


class NewToken(msgspec.Struct):
    """The bearer token is shown once, here; only its hash is kept."""

    user_id: UUID
    name: str
    role: str
    token: str


class Health(msgspec.Struct):
    status: str
    views: dict[str, int] = {}  # events each view lags behind the log
