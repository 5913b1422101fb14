"""Row shapes of the views, as the migrations define their tables."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain.query_hold import HoldCriteria


class ViewRow(msgspec.Struct, kw_only=True):
    pass


class RecordingFields(ViewRow, kw_only=True):
    """A row of the search view as it may be shown: everything but the sealed copies."""

    recording_id: UUID
    interaction_id: str
    agent_id: str
    customer_ref: str  # keyed blind index: the customer id itself is never written to a view
    queue: str
    direction: str
    started_at: datetime
    ended_at: datetime | None = None
    acw_ended_at: datetime | None = None
    duration_ms: int | None = None
    status: str
    screen_selected: bool
    segments_received: int = 0
    # The highest segment number known to exist: received, or counted by the client's report.
    highest_segment: int = -1
    missing_segments: list[int] = msgspec.field(default_factory=list)
    missing_count: int = 0
    legal_hold: bool = False
    hold_cases: list[str] = msgspec.field(default_factory=list)
    last_access_at: datetime | None = None
    tag_refs: dict[str, str] = msgspec.field(default_factory=dict)  # tag key -> blind index of its value
    policy_version: int = 0
    version: int
    expected_segments: int | None = None  # as the capture client reported
    voice_recorded: bool = False
    snapshots: int = 0
    pause_count: int = 0
    pause_ms: int = 0  # of the pauses that ended (resuming or hanging up ends one)
    paused_since: datetime | None = None  # the pause still open, if any
    acw_end_reason: str | None = None  # "status_change", or "timeout" when the scheduler ended it


class RecordingRow(RecordingFields, kw_only=True):
    # The customer id and tag values exactly as the events carry them, sealed under the
    # recording's keys: a page of results opens them without replaying any recording.
    customer_sealed: str = ""
    # tag key -> (the event field that sealed the value: "tags" or "value", the sealed text)
    tags_sealed: dict[str, tuple[str, str]] = msgspec.field(default_factory=dict)


class AuditRow(ViewRow, kw_only=True):
    """One per event, or per recording an access touched (``item`` counts them)."""

    notification_id: int
    item: int = 0
    recording_id: UUID | None
    interaction_id: str | None
    customer_ref: str | None
    actor: str
    role: str
    action: str
    outcome: str = "allowed"
    reason_code: str
    subject: str | None = None  # the user or team an identity event is about
    detail: dict[str, str | int | bool | None]
    occurred_at: datetime
    recorded_at: datetime


class LeafRow(ViewRow, kw_only=True):
    """One Merkle leaf (domain/transparency/leaves.py) per stored event, in log order."""

    leaf_index: int
    notification_id: int
    originator_id: UUID
    originator_version: int
    leaf_data: bytes
    leaf_hash: bytes


class UserRow(ViewRow, kw_only=True):
    user_id: UUID
    name: str
    role: str
    team_id: UUID | None
    token_sha256: str
    active: bool
    version: int


class TeamRow(ViewRow, kw_only=True):
    team_id: UUID
    name: str
    parent_id: UUID | None
    version: int


class ResponsibilityRow(ViewRow, kw_only=True):
    """A supervisor or quality manager answering for a team (and the teams below it)."""

    team_id: UUID
    user_id: UUID
    active: bool


class EvaluationRow(ViewRow, kw_only=True):
    """One evaluation of a call, as its latest event left it (its comments stay in the log)."""

    recording_id: UUID
    evaluation_id: str
    agent_id: str
    evaluator: str
    form_id: str
    form_version: int
    revision: int
    score_percent: float
    fatal_failed: bool
    state: str  # "submitted", "revised", "acknowledged" or "disputed"
    submitted_at: datetime
    updated_at: datetime


class EvaluationFormRow(ViewRow, kw_only=True):
    """A form's latest version (each version stays in the log)."""

    form_id: str
    version: int
    title: str
    questions: int
    published_at: datetime
    published_by: str


class EvaluationQuery(msgspec.Struct, kw_only=True, frozen=True):
    agent_ids: frozenset[str] | None = None  # None: any agent
    # Keyset cursor: the (submitted_at, recording_id, evaluation_id) of the last row already seen.
    after: tuple[datetime, UUID, str] | None = None
    limit: int = 50


class RecordingQuery(msgspec.Struct, kw_only=True, frozen=True):
    agent_id: str | None = None
    # Scope: only recordings of these agents (None: no restriction).
    agent_ids: frozenset[str] | None = None
    customer_ref: str | None = None
    queue: str | None = None
    direction: str | None = None
    status: str | None = None
    started_from: datetime | None = None
    started_until: datetime | None = None
    tag_refs: dict[str, str] = {}
    missing_segments: bool | None = None
    legal_hold: bool | None = None
    # Active query holds by case: "under hold" also means matched by one of these
    # (the holds are read from the log when asked, so the view never lags behind them).
    query_holds: dict[str, HoldCriteria] = {}
    # Keyset cursor: the (started_at, recording_id) of the last row already seen.
    after: tuple[datetime, UUID] | None = None
    limit: int = 50


class AuditQuery(msgspec.Struct, kw_only=True, frozen=True):
    actor: str | None = None
    recording_id: UUID | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: tuple[int, int] | None = None  # (notification_id, item) of the last row already seen
    limit: int = 100
