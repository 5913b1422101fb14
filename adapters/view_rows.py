"""Row shapes of the views, as the migrations define their tables."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class ViewRow(msgspec.Struct, kw_only=True):
    pass


class RecordingRow(ViewRow, kw_only=True):
    recording_id: UUID
    interaction_id: str
    agent_id: str
    customer_id: str
    queue: str
    direction: str
    started_at: datetime
    ended_at: datetime | None = None
    acw_ended_at: datetime | None = None
    duration_ms: int | None = None
    status: str
    screen_selected: bool
    segments_received: int = 0
    highest_segment: int = -1
    missing_segments: list[int] = msgspec.field(default_factory=list)
    missing_count: int = 0
    legal_hold: bool = False
    hold_cases: list[str] = msgspec.field(default_factory=list)
    last_access_at: datetime | None = None
    tags: dict[str, str] = msgspec.field(default_factory=dict)
    version: int


class AuditRow(ViewRow, kw_only=True):
    notification_id: int
    recording_id: UUID
    interaction_id: str
    customer_id: str
    actor: str
    role: str
    action: str
    reason_code: str
    detail: dict[str, str | int | bool | None]
    occurred_at: datetime
    recorded_at: datetime


class RecordingQuery(msgspec.Struct, kw_only=True, frozen=True):
    agent_id: str | None = None
    customer_id: str | None = None
    queue: str | None = None
    direction: str | None = None
    status: str | None = None
    started_from: datetime | None = None
    started_until: datetime | None = None
    tags: dict[str, str] = {}
    missing_segments: bool | None = None
    legal_hold: bool | None = None
    # Keyset cursor: the (started_at, recording_id) of the last row already seen.
    after: tuple[datetime, UUID] | None = None
    limit: int = 50


class AuditQuery(msgspec.Struct, kw_only=True, frozen=True):
    actor: str | None = None
    recording_id: UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: int | None = None  # notification id of the last row already seen
    limit: int = 100
