"""Folds the log into the ``audit_trail`` view: who did what to which recording,
when, why, and with what outcome; also who was given which rights."""

from __future__ import annotations

import re
import typing
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any
from uuid import UUID

from adapters.view_rows import AuditRow
from adapters.view_store import ViewStore
from domain.access_record import AccessRecord
from domain.identity import Team, User
from domain.recording import Recording
from projections.follower import LoggedEvent

# Fields that say what was done, beyond who, when and why. Free text that may
# name people (annotations) stays in the event history; token hashes stay out.
_DETAIL_FIELDS = (
    "sequence_number",
    "sha256",
    "what",
    "viewing_id",
    "key",  # a tag's value is the customer's: it stays sealed in the event history
    "case_id",
    "media_offset_ms",
    "queue",
    "agent_id",
    "direction",
    "user_role",
    "team_id",
    "parent_id",
    "user_name",
    "fps",
    "segments",
    "missing",
    "snapshot_id",
    "codec",
    "unredacted",  # a playback of the spans where card data was spoken
    "source",  # who produced a transcript
    "start_ms",  # where card data was spoken (never what)
    "end_ms",
    "transcript_version",
)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def action_name(event: object) -> str:
    event_class: type = type(event)
    return _action_of(event_class)


@cache
def _action_of(event_class: type) -> str:
    if issubclass(event_class, (User.Event, Team.Event)):
        return f"{event_class.__qualname__.split('.')[0].lower()}_{snake(event_class.__name__)}"
    return snake(event_class.__name__)


@cache
def _detail_fields(event_class: type) -> tuple[str, ...]:
    """The detail fields an event class has, looked up once per class rather than per event."""
    hints = typing.get_type_hints(event_class)
    return tuple(k for k in _DETAIL_FIELDS if k in hints)


def _detail(event_class: type, state: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k in _detail_fields(event_class) if (v := state.get(k)) is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list):  # e.g. missing segment numbers
        return ",".join(map(str, value))
    return value


class AuditTrailView:
    name = "audit_trail"
    fold_cost = 37.0

    def __init__(self, cache_size: int = 50_000) -> None:
        # Interaction and customer (by blind index) of a recording never change, so this cache
        # needs no invalidation, only a bound.
        self._subjects: OrderedDict[UUID, tuple[str, str]] = OrderedDict()
        self._cache_size = cache_size

    def apply(self, store: ViewStore, batch: Sequence[LoggedEvent], previous: int, position: int) -> None:
        for e in batch:
            if isinstance(e.event, Recording.CallStarted):
                self._subjects[e.event.originator_id] = (e.event.interaction_id, e.event.customer_ref)
        # Asked of the cache one by one: `mentioned - self._subjects.keys()` would iterate the
        # whole cache (an OrderedDict's keys are no set), hashing every id it holds per batch.
        unknown = {rid for e in batch for rid in _recording_ids(e.event) if rid not in self._subjects}
        self._subjects.update(store.audit_subjects(unknown))
        rows = [row for e in batch for row in self._rows(e)]
        store.commit(self.name, previous, position, appends=rows)
        while len(self._subjects) > self._cache_size:
            self._subjects.popitem(last=False)

    def _rows(self, logged: LoggedEvent) -> Iterator[AuditRow]:
        event = logged.event
        if not isinstance(event, (Recording.Event, AccessRecord.Recorded, User.Event, Team.Event)):
            return
        state: dict[str, Any] = vars(event)
        common = dict(
            notification_id=logged.notification_id,
            actor=event.actor,
            role=event.role,
            reason_code=state.get("reason_code", state.get("reason", "")),
            occurred_at=event.occurred_at,
            recorded_at=event.timestamp,
        )
        if isinstance(event, AccessRecord.Recorded):
            targets: list[UUID | None] = list(event.recording_ids) or [None]
            for item, recording_id in enumerate(targets):
                yield AuditRow(
                    item=item,
                    action=event.action,
                    outcome=event.outcome,
                    detail=dict(event.detail),
                    **self._about(recording_id),
                    **common,
                )
            return
        if isinstance(event, Recording.Event):
            yield AuditRow(
                action=action_name(event),
                detail=_detail(type(event), state),
                **self._about(event.originator_id),
                **common,
            )
            return
        yield AuditRow(
            action=action_name(event),
            subject=event.name,
            detail=_detail(type(event), state),
            recording_id=None,
            interaction_id=None,
            customer_ref=None,
            **common,
        )

    def _about(self, recording_id: UUID | None) -> dict[str, Any]:
        interaction_id, customer_ref = self._subjects.get(recording_id, (None, None)) if recording_id else (None, None)
        return {"recording_id": recording_id, "interaction_id": interaction_id, "customer_ref": customer_ref}


def _recording_ids(event: Any) -> list[UUID]:
    if isinstance(event, Recording.Event):
        return [event.originator_id]
    if isinstance(event, AccessRecord.Recorded):
        return list(event.recording_ids)
    return []
