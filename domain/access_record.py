"""Every access is evidence: a search, a detail view, a history replay, a report
export, and every refused attempt, each recorded once and never changed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.values import Actor, require_text, require_utc


class Outcome(StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"


class AccessRecord(Aggregate):
    """One per access: written once, so concurrent requests never contend."""

    class Recorded(Aggregate.Created):
        occurred_at: datetime
        actor: str
        role: str
        action: str
        outcome: str
        recording_ids: list[UUID]
        reason_code: str
        detail: dict[str, str]

    @staticmethod
    def create_id(**_: object) -> UUID:
        return uuid4()

    @classmethod
    def record(
        cls,
        *,
        action: str,
        outcome: Outcome,
        recording_ids: list[UUID],
        reason_code: str,
        detail: dict[str, str],
        occurred_at: datetime,
        by: Actor,
    ) -> AccessRecord:
        return cls(
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
            action=require_text("action", action),
            outcome=outcome.value,
            recording_ids=list(recording_ids),
            reason_code=_printable(reason_code),
            # What a caller asked for is recorded even when it was nonsense; NUL,
            # which no store can keep, becomes U+FFFD.
            detail={_printable(k): _printable(v) for k, v in detail.items()},
        )

    @event(Recorded)
    def __init__(
        self,
        occurred_at: datetime,
        actor: str,
        role: str,
        action: str,
        outcome: str,
        recording_ids: list[UUID],
        reason_code: str,
        detail: dict[str, str],
    ) -> None:
        self.action = action
        self.outcome = outcome
        self.recording_ids = recording_ids


def _printable(text: str) -> str:
    return text.replace("\x00", "\ufffd")
