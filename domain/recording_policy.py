"""The recording policy: screen sampling, retention, ACW timeout and playback, versioned as events.

Every change is an event with its actor and reason, so "which policy applied at
time T" is answered from the log, and every recording cites the version it was
started under. Screen selection is a hash of the interaction id under the
sampling percentage: an auditor re-derives it from the log alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import errors
from domain.values import Actor, optional_text, require_id, require_text, require_utc

POLICY_ID = uuid5(UUID("5f0c6a52-3b1e-4d0e-9a57-6a1f3c2b7e10"), "recording-policy")
MAX_DAYS = 100 * 366


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """Applies to recordings of ``queue`` and/or carrying tag ``tag_key=tag_value``; neither: to all."""

    archive_after_days: int | None = None
    purge_after_days: int | None = None
    queue: str | None = None
    tag_key: str | None = None
    tag_value: str | None = None

    def applies_to(self, queue: str, tags: dict[str, str]) -> bool:
        return (self.queue is None or self.queue == queue) and (
            self.tag_key is None or tags.get(self.tag_key) == self.tag_value
        )


@dataclass(frozen=True, slots=True)
class Retention:
    """When a recording is due: None means never."""

    archive_after_days: int | None
    purge_after_days: int | None


# Why someone may open the player: every viewing cites one of the policy's reasons.
DEFAULT_PLAYBACK_REASONS = ("quality_evaluation", "dispute", "customer_complaint", "legal_request", "coaching")
MAX_PLAYBACK_REASONS = 100


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    sampling_percent: float = 100.0
    sampling_by_queue: dict[str, float] = field(default_factory=dict)
    retention: tuple[RetentionRule, ...] = ()
    acw_timeout_seconds: int = 120
    playback_reasons: tuple[str, ...] = DEFAULT_PLAYBACK_REASONS
    agents_play_own_calls: bool = False  # may an agent watch its own recordings (e.g. for self-coaching)

    def selects_screen(self, interaction_id: str, queue: str) -> bool:
        """The first 8 bytes of SHA-256(interaction id) as a fraction, under the queue's percentage."""
        percent = self.sampling_by_queue.get(queue, self.sampling_percent)
        draw = int.from_bytes(hashlib.sha256(interaction_id.encode()).digest()[:8], "big") / 2**64
        return draw * 100 < percent

    def retention_for(self, queue: str, tags: dict[str, str]) -> Retention:
        """Where several rules apply, the longest duty wins: nothing moves or goes before any rule allows."""
        rules = [r for r in self.retention if r.applies_to(queue, tags)]

        def longest(days: list[int | None]) -> int | None:
            return None if not days or None in days else max(d for d in days if d is not None)

        return Retention(longest([r.archive_after_days for r in rules]), longest([r.purge_after_days for r in rules]))

    def check_playback(self, reason_code: str, *, by_agent: bool) -> None:
        """A viewing must cite one of the policy's reasons; an agent plays only where the policy allows it."""
        if by_agent and not self.agents_play_own_calls:
            raise errors.Forbidden("the recording policy does not let agents play their own recordings")
        if reason_code not in self.playback_reasons:
            raise errors.InvalidCommand(f"reason_code must be one of the policy's: {', '.join(self.playback_reasons)}")

    def checked(self) -> PolicyTerms:
        """The same terms, or the rule they break."""
        if not 1 <= len(self.playback_reasons) <= MAX_PLAYBACK_REASONS:
            raise errors.InvalidPolicy(f"the policy needs between 1 and {MAX_PLAYBACK_REASONS} playback reasons")
        for reason in self.playback_reasons:
            require_id("playback reason", reason)
        for name, percent in [("sampling_percent", self.sampling_percent), *self.sampling_by_queue.items()]:
            if not 0 <= percent <= 100:
                raise errors.InvalidPolicy(f"sampling percentage for {name!r} must be between 0 and 100")
        for queue in self.sampling_by_queue:
            require_text("queue", queue)
        if not 1 <= self.acw_timeout_seconds <= 86_400:
            raise errors.InvalidPolicy("acw_timeout_seconds must be between 1 and 86400")
        for rule in self.retention:
            for days in (rule.archive_after_days, rule.purge_after_days):
                if days is not None and not 0 <= days <= MAX_DAYS:
                    raise errors.InvalidPolicy(f"retention days must be between 0 and {MAX_DAYS}")
            if (rule.tag_key is None) != (rule.tag_value is None):
                raise errors.InvalidPolicy("a retention rule's tag needs both tag_key and tag_value")
            for name in ("queue", "tag_key"):
                if (text := getattr(rule, name)) is not None:
                    require_text(f"retention rule {name}", text)
            if rule.tag_value is not None:
                optional_text("retention rule tag_value", rule.tag_value)
            if (
                rule.archive_after_days is not None
                and rule.purge_after_days is not None
                and rule.purge_after_days < rule.archive_after_days
            ):
                raise errors.InvalidPolicy("a retention rule cannot purge before it archives")
        return self


# Version 0: what applies before an admin ever sets a policy. Screens of every
# call are captured and nothing is archived or purged until a rule says so.
DEFAULT_TERMS = PolicyTerms()


class RecordingPolicy(Aggregate):
    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str
        role: str

    class Changed(Event):
        terms: PolicyTerms
        reason: str

    class Created(Changed, Aggregate.Created):
        pass

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return POLICY_ID

    @classmethod
    def first(cls, *, terms: PolicyTerms, reason: str, occurred_at: datetime, by: Actor) -> RecordingPolicy:
        return cls(
            terms=terms.checked(),
            reason=require_text("reason", reason),
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(Created)
    def __init__(self, terms: PolicyTerms, reason: str, occurred_at: datetime, actor: str, role: str) -> None:
        self.terms = terms
        self.changed_at = occurred_at

    def change(self, *, terms: PolicyTerms, reason: str, occurred_at: datetime, by: Actor) -> bool:
        """False when the terms are already in force (a retried change)."""
        # Everything is checked before the retry shortcut, so an invalid retry is refused too.
        terms, reason, at = terms.checked(), require_text("reason", reason), require_utc(occurred_at)
        if terms == self.terms:
            return False
        self._changed(terms=terms, reason=reason, occurred_at=at, actor=by.name, role=by.role)
        return True

    @event(Changed)
    def _changed(self, terms: PolicyTerms, reason: str, occurred_at: datetime, actor: str, role: str) -> None:
        self.terms = terms
        self.changed_at = occurred_at
