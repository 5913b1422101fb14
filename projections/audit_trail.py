"""Folds events into the ``audit_trail`` view: who did what to which recording, when, why."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from adapters.view_rows import AuditRow
from adapters.view_store import ViewStore
from domain.recording import Recording
from projections.follower import LoggedEvent

# Fields that say what was done, beyond who, when and why. Free text that may
# name people (annotations) stays in the event history, not in the trail.
_DETAIL_FIELDS = (
    "sequence_number",
    "sha256",
    "what",
    "key",
    "value",
    "case_id",
    "media_offset_ms",
    "queue",
    "agent_id",
    "direction",
)


def action_name(event: Recording.Event) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


def audit_row(event: Recording.Event, notification_id: int, subject: tuple[str, str]) -> AuditRow:
    interaction_id, customer_id = subject
    state: dict[str, Any] = vars(event)
    reason = state.get("reason_code", state.get("reason", ""))
    return AuditRow(
        notification_id=notification_id,
        recording_id=event.originator_id,
        interaction_id=interaction_id,
        customer_id=customer_id,
        actor=event.actor,
        role=event.role,
        action=action_name(event),
        reason_code=reason,
        detail={k: state[k] for k in _DETAIL_FIELDS if k in state},
        occurred_at=event.occurred_at,
        recorded_at=event.timestamp,
    )


class AuditTrailView:
    name = "audit_trail"

    def __init__(self, cache_size: int = 50_000) -> None:
        # Interaction and customer of a recording never change, so this cache
        # needs no invalidation, only a bound.
        self._subjects: OrderedDict[UUID, tuple[str, str]] = OrderedDict()
        self._cache_size = cache_size

    def apply(self, store: ViewStore, batch: Sequence[LoggedEvent], previous: int, position: int) -> None:
        for e in batch:
            if isinstance(e.event, Recording.CallStarted):
                self._subjects[e.event.originator_id] = (e.event.interaction_id, e.event.customer_id)
        unknown = {e.event.originator_id for e in batch} - self._subjects.keys()
        self._subjects.update(store.audit_subjects(unknown))
        rows = [audit_row(e.event, e.notification_id, self._subjects[e.event.originator_id]) for e in batch]
        store.commit(self.name, position, audit=rows)
        while len(self._subjects) > self._cache_size:
            self._subjects.popitem(last=False)
