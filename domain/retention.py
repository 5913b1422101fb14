"""Keeping and destroying: legal holds on queries, archive, purge and subject erasure.

The log is never edited. A purge records what it destroys (counts and hashes)
and then destroys the recording's data key and media through the ``RetentionStorage``
the adapters provide; an erasure does the same for every recording of one
customer and destroys the customer's key. Both refuse, with the reason, where a
legal hold or a retention duty applies.
"""

from __future__ import annotations

from abc import abstractmethod
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from eventsourcing.application import Application, project_aggregate

from domain import errors
from domain.committer import Change, Committer
from domain.query_hold import QUERY_HOLDS_ID, HoldCriteria, QueryHolds
from domain.recording import Recording
from domain.recording_policy import PolicyTerms
from domain.values import Actor, RecordingStatus


class RetentionStorage(Protocol):
    """What the adapters do outside the log once the log has recorded the decision."""

    def archive_media(self, recording_id: UUID, media_keys: list[str]) -> str: ...

    def shred_recordings(self, media: dict[UUID, list[str]]) -> None: ...

    def shred_customer(self, customer_ref: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Due:
    """When a recording's retention lets it be archived and purged (None: never)."""

    archive_at: datetime | None
    purge_at: datetime | None


class ErasureRefused(errors.StateConflict):
    def __init__(self, reasons: dict[UUID, str]) -> None:
        self.reasons = reasons
        super().__init__("erasure refused: " + "; ".join(f"recording {r}: {why}" for r, why in reasons.items()))


class RetentionCommands(Application[UUID]):
    """Part of the ledger (RecordingLedger mixes it in): the Application gives save() and the repository,
    the ledger the rest of what is declared below."""

    if TYPE_CHECKING:

        @abstractmethod
        def forget(self, aggregate_id: UUID) -> None: ...

        @abstractmethod
        def get_recording(self, recording_id: UUID) -> Recording: ...

        @abstractmethod
        def policy_terms(self, version: int) -> PolicyTerms: ...

        @abstractmethod
        def customer_ref_of(self, customer_id: str) -> str: ...

        committer: Committer

    # -- query holds ------------------------------------------------------

    # The holds as this process last read them: replaced, never changed, once newer events arrive.
    _query_holds_read: QueryHolds | None = None

    def query_holds(self) -> QueryHolds | None:
        """Read fresh from the log: a purge must never miss a hold another process just placed.

        Only the events past the holds this process last read are read: every search asks,
        and the holds' history only grows (350 events replayed took 16 ms a search). The
        holds returned are shared: to be read, not changed (place and release change a copy).
        """
        read = self._query_holds_read
        new_events = list(self.repository.event_store.get(QUERY_HOLDS_ID, gt=read.version if read else None))
        if new_events:
            read = project_aggregate(deepcopy(read), new_events)
            self._query_holds_read = read
        return read

    def active_query_holds(self) -> dict[str, HoldCriteria]:
        """Each case's query, for searches that ask what is under hold."""
        holds = self.query_holds()
        return dict(holds.active) if holds is not None else {}

    def place_query_hold(
        self, *, case_id: str, reason: str, criteria: HoldCriteria, occurred_at: datetime, by: Actor
    ) -> bool:
        holds = deepcopy(self.query_holds()) or QueryHolds(occurred_at=occurred_at, actor=by.name, role=by.role)
        placed = holds.place(case_id=case_id, reason=reason, criteria=criteria, occurred_at=occurred_at, by=by)
        self._store_holds(holds)
        return placed

    def release_query_hold(self, *, case_id: str, reason: str, occurred_at: datetime, by: Actor) -> None:
        holds = deepcopy(self.query_holds())
        if holds is None:
            raise errors.NoSuchHold(f"case {case_id!r} holds no query")
        holds.release(case_id=case_id, reason=reason, occurred_at=occurred_at, by=by)
        self._store_holds(holds)

    def _store_holds(self, holds: QueryHolds) -> None:
        try:
            self.save(holds)
        finally:
            self.forget(QUERY_HOLDS_ID)

    # -- retention --------------------------------------------------------

    def due(self, recording: Recording) -> Due:
        """By the policy version the recording cites, counted from the call's start."""
        terms = self.policy_terms(recording.policy_version)
        retention = terms.retention_for(recording.queue, recording.tags)

        def after(days: int | None) -> datetime | None:
            return None if days is None else recording.started_at + timedelta(days=days)

        return Due(after(retention.archive_after_days), after(retention.purge_after_days))

    def archive(self, recording_id: UUID, *, now: datetime, reason: str, by: Actor, storage: RetentionStorage) -> None:
        """Moves the media to the archive, then records where; refused before it is due or while held.

        Media readers fall back to the archive, so a crash between the move and
        the event loses nothing, and the next run records it.
        """
        recording = self.get_recording(recording_id)
        due = self.due(recording).archive_at
        if due is None or now < due:
            raise errors.RetentionDuty(f"not due for archive until {due or 'a retention rule says so'}")
        holds = self.query_holds()
        held_by = holds.covering(recording) if holds else []
        recording.check_archive(held_by)
        location = storage.archive_media(recording_id, sorted(recording.media))
        self.committer.commit(
            Change(
                recording_id,
                lambda r: r.archive(reason=reason, archive_location=location, occurred_at=now, by=by, held_by=held_by),
            )
        )

    def purge(
        self,
        recording_id: UUID,
        *,
        now: datetime,
        reason: str,
        by: Actor,
        storage: RetentionStorage,
        holds: QueryHolds | None = None,
        keys: tuple[str, ...] = ("recording",),
        when_due: bool = True,
    ) -> None:
        outcome = self.purge_all(
            [recording_id], now=now, reason=reason, by=by, storage=storage, holds=holds, keys=keys, when_due=when_due
        )[recording_id]
        if isinstance(outcome, errors.DomainError):
            raise outcome

    def purge_all(
        self,
        recording_ids: list[UUID],
        *,
        now: datetime,
        reason: str,
        by: Actor,
        storage: RetentionStorage,
        holds: QueryHolds | None = None,
        keys: tuple[str, ...] = ("recording",),
        when_due: bool = True,
    ) -> dict[UUID, list[str] | errors.DomainError]:
        """Records each purge through the ledger's committer (a group committer shares
        transactions among them), then destroys the data keys and media of those that were
        purged; the log keeps the record. Each is judged on its own: the outcome is the
        media keys destroyed, or the rule that kept the recording."""
        holds = holds if holds is not None else self.query_holds()

        def command(recording: Recording) -> list[str]:
            if when_due:
                due = self.due(recording).purge_at
                if due is None or now < due:
                    raise errors.RetentionDuty(f"must be kept until {due or 'a retention rule ends it'}")
            recording.purge(
                reason=reason,
                keys_destroyed=list(keys),
                occurred_at=now,
                by=by,
                held_by=holds.covering(recording) if holds else [],
            )
            return sorted(recording.media)

        outcomes = dict(
            zip(
                recording_ids,
                self.committer.commit_all([Change(recording_id, command) for recording_id in recording_ids]),
                strict=True,
            )
        )
        purged = {rid: media for rid, media in outcomes.items() if not isinstance(media, errors.DomainError)}
        storage.shred_recordings(purged)
        return outcomes

    def erase_subject(
        self,
        customer_id: str,
        recording_ids: list[UUID],
        *,
        now: datetime,
        reason: str,
        by: Actor,
        storage: RetentionStorage,
    ) -> list[UUID]:
        """GDPR Art. 17: all of one customer's recordings and their key, or nothing, with the reasons."""
        customer_ref = self.customer_ref_of(customer_id)
        holds = self.query_holds()
        refusals: dict[UUID, str] = {}
        erasable: list[UUID] = []
        for recording_id in recording_ids:
            recording = self.get_recording(recording_id)
            if recording.customer_ref != customer_ref or recording.status is RecordingStatus.PURGED:
                continue
            why = self.erasure_obstacle(recording, holds, now)
            if why:
                refusals[recording_id] = why
            else:
                erasable.append(recording_id)
        if refusals:
            raise ErasureRefused(refusals)
        outcomes = self.purge_all(
            erasable,
            now=now,
            reason=reason,
            by=by,
            storage=storage,
            holds=holds,
            keys=("recording", "customer"),
            when_due=False,
        )
        failed = {rid: str(why) for rid, why in outcomes.items() if isinstance(why, errors.DomainError)}
        if failed:  # changed since it was checked (another writer): the customer key must stay
            raise ErasureRefused(failed)
        storage.shred_customer(customer_ref)
        return erasable

    def erasure_obstacle(self, recording: Recording, holds: QueryHolds | None, now: datetime) -> str:
        cases = [*sorted(recording.holds), *(holds.covering(recording) if holds else [])]
        if cases:
            return f"legal hold by case(s) {', '.join(cases)}"
        if recording.acw_ended_at is None:
            return "the call is not complete"
        keep_until = self.due(recording).purge_at
        if keep_until is not None and now < keep_until:
            return (
                f"retention duty until {keep_until.date().isoformat()} "
                f"(policy version {recording.policy_version}, queue {recording.queue!r})"
            )
        return ""
