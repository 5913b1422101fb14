"""Legal holds on a query: they cover every matching recording, including those made later.

All query holds live in one aggregate, so "which holds cover this recording"
is one read of the log whatever their number (no cap), and a purge checks it
at the moment it decides, never against a lagging view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import errors
from domain.values import Actor, require_id, require_text, require_utc

QUERY_HOLDS_ID = uuid5(UUID("5f0c6a52-3b1e-4d0e-9a57-6a1f3c2b7e10"), "query-holds")


class HoldSubject(Protocol):
    """What a hold matches on: a Recording, or its row in the search view."""

    customer_ref: str
    agent_id: str
    queue: str
    tag_refs: dict[str, str]
    started_at: datetime


@dataclass(frozen=True, slots=True)
class HoldCriteria:
    """Every given criterion must match; the customer and a tag's value by their blind
    indexes, never in clear (the hold is in the log for good, and may name an account)."""

    customer_ref: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    tag_key: str | None = None
    tag_ref: str | None = None
    started_from: datetime | None = None
    started_until: datetime | None = None

    def covers(self, recording: HoldSubject) -> bool:
        return (
            (self.customer_ref is None or self.customer_ref == recording.customer_ref)
            and (self.agent_id is None or self.agent_id == recording.agent_id)
            and (self.queue is None or self.queue == recording.queue)
            and (self.tag_key is None or recording.tag_refs.get(self.tag_key) == self.tag_ref)
            and (self.started_from is None or recording.started_at >= self.started_from)
            and (self.started_until is None or recording.started_at < self.started_until)
        )

    def checked(self) -> HoldCriteria:
        if (self.tag_key is None) != (self.tag_ref is None):
            raise errors.InvalidCommand("a tag criterion needs both tag_key and tag_value")
        if not any(
            v is not None
            for v in (self.customer_ref, self.agent_id, self.queue, self.tag_key, self.started_from, self.started_until)
        ):
            raise errors.InvalidCommand("a query hold needs at least one criterion (it would hold everything)")
        for name in ("customer_ref", "agent_id", "queue", "tag_key", "tag_ref"):
            if (text := getattr(self, name)) is not None:
                require_text(name, text)
        for moment in (self.started_from, self.started_until):
            if moment is not None:
                require_utc(moment)
        if self.started_from and self.started_until and self.started_until <= self.started_from:
            raise errors.InvalidCommand("started_until must be after started_from")
        return self


class QueryHolds(Aggregate):
    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str
        role: str

    class Opened(Event, Aggregate.Created):
        pass

    class Placed(Event):
        case_id: str
        reason: str
        criteria: HoldCriteria

    class Released(Event):
        case_id: str
        reason: str

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return QUERY_HOLDS_ID

    @event(Opened)
    def __init__(self, occurred_at: datetime, actor: str, role: str) -> None:
        self.active: dict[str, HoldCriteria] = {}

    def place(self, *, case_id: str, reason: str, criteria: HoldCriteria, occurred_at: datetime, by: Actor) -> bool:
        """False when this case already holds exactly this query (a retry)."""
        # Everything is checked before the retry shortcut, so an invalid retry is refused too.
        case_id, reason, at = require_id("case_id", case_id), require_text("reason", reason), require_utc(occurred_at)
        criteria = criteria.checked()
        if case_id in self.active:
            if self.active[case_id] == criteria:
                return False
            raise errors.StateConflict(f"case {case_id!r} already holds another query; release it first")
        self._placed(case_id=case_id, reason=reason, criteria=criteria, occurred_at=at, actor=by.name, role=by.role)
        return True

    @event(Placed)
    def _placed(
        self, case_id: str, reason: str, criteria: HoldCriteria, occurred_at: datetime, actor: str, role: str
    ) -> None:
        self.active[case_id] = criteria

    def release(self, *, case_id: str, reason: str, occurred_at: datetime, by: Actor) -> None:
        if case_id not in self.active:
            raise errors.NoSuchHold(f"case {case_id!r} holds no query")
        self._released(
            case_id=case_id,
            reason=require_text("reason", reason),
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(Released)
    def _released(self, case_id: str, reason: str, occurred_at: datetime, actor: str, role: str) -> None:
        del self.active[case_id]

    def covering(self, recording: HoldSubject) -> list[str]:
        return sorted(case for case, criteria in self.active.items() if criteria.covers(recording))
