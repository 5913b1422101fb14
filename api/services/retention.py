"""Retention and erasure: the scheduled archive-and-purge run, legal holds by query, subject erasure.

The run is scheduled in the server (APScheduler) and runnable as `callvault retention run`
or POST /v1/retention/run. Candidates come from the search view, narrowed to recordings
old enough for the shortest rule of any policy version; the decision for each is the
ledger's, against the log (holds, due dates), never the view.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec
import structlog

from adapters.key_store import KeyStore
from adapters.media_vault import MediaVault
from adapters.view_rows import RecordingQuery, RecordingRow
from adapters.view_store import ViewStore
from api.services.access import AccessControl, actor
from domain import errors
from domain.access_record import Outcome
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal
from domain.query_hold import HoldCriteria
from domain.retention import ErasureRefused
from domain.values import SYSTEM, Actor, RecordingStatus
from projections.runner import Projections

log = structlog.get_logger(__name__)
PAGE = 1000


class RetentionRun(msgspec.Struct):
    archived: list[UUID]
    purged: list[UUID]
    kept: dict[str, str]  # recording id -> why it stays (a hold)


class QueryHold(msgspec.Struct):
    case_id: str
    criteria: HoldCriteria  # the customer and a tag's value appear only as their blind indexes


class Retention:
    def __init__(
        self,
        ledger: RecordingLedger,
        views: ViewStore,
        projections: Projections,
        keys: KeyStore,
        media: MediaVault,
        access: AccessControl,
    ) -> None:
        self._ledger = ledger
        self._views = views
        self._projections = projections
        self._keys = keys
        self._media = media
        self._access = access

    # -- the retention run -----------------------------------------------

    def run(self, now: datetime, by: Actor = SYSTEM) -> RetentionRun:
        """Archives and purges what each recording's policy says is due at ``now``."""
        ledger, outcome = self._ledger, RetentionRun([], [], {})
        holds = ledger.query_holds()
        for page in self._candidate_pages(now):
            due_for_purge = []
            for row in page:
                recording = ledger.get_recording(row.recording_id)
                due = ledger.due(recording)
                if due.purge_at is not None and now >= due.purge_at:
                    due_for_purge.append(row.recording_id)
                elif due.archive_at is not None and now >= due.archive_at and not recording.archived:
                    try:
                        ledger.archive(
                            row.recording_id, now=now, reason="retention: archive", by=by, storage=self._media
                        )
                        outcome.archived.append(row.recording_id)
                    except errors.LegalHoldActive as kept:
                        outcome.kept[str(row.recording_id)] = str(kept)
            purges = ledger.purge_all(
                due_for_purge, now=now, reason="retention period over", by=by, storage=self._media, holds=holds
            )
            for recording_id, result in purges.items():
                if isinstance(result, errors.DomainError):
                    outcome.kept[str(recording_id)] = str(result)
                else:
                    outcome.purged.append(recording_id)
        if outcome.archived or outcome.purged:
            log.info(
                "retention run", archived=len(outcome.archived), purged=len(outcome.purged), kept=len(outcome.kept)
            )
        return outcome

    def run_for(self, principal: Principal) -> RetentionRun:
        """A run asked for by an admin now (rather than by the schedule)."""
        self._access.allow(principal, Action.RETENTION_RUN)
        return self.run(datetime.now(UTC), by=actor(principal))

    def _candidate_pages(self, now: datetime) -> Iterator[list[RecordingRow]]:
        """Complete and archived recordings started before the shortest rule could make them due."""
        days = [
            d
            for v in self._ledger.policy_versions().values()
            for rule in v.terms.retention
            for d in (rule.archive_after_days, rule.purge_after_days)
            if d is not None
        ]
        if not days:
            return
        self._projections.catch_up(views=["recordings"])
        for status in (RecordingStatus.COMPLETE, RecordingStatus.ARCHIVED):
            after = None
            while True:
                page = self._views.search(
                    RecordingQuery(
                        status=status.value, started_until=now - timedelta(days=min(days)), after=after, limit=PAGE
                    )
                )
                if page:
                    yield page
                if len(page) < PAGE:
                    break
                after = (page[-1].started_at, page[-1].recording_id)

    # -- legal holds by query ----------------------------------------------

    def place_query_hold(
        self,
        principal: Principal,
        *,
        case_id: str,
        reason: str,
        customer_id: str | None,
        tag_value: str | None,
        **criteria: object,
    ) -> QueryHold:
        """Holds every recording matching all the criteria given, those made later too."""
        self._access.allow(principal, Action.HOLD)
        held = HoldCriteria(
            customer_ref=self._ledger.customer_ref_of(customer_id) if customer_id else None,
            # A value without a key is indexed under "" and then refused for want of the key.
            tag_ref=self._ledger.tag_ref(str(criteria["tag_key"] or ""), tag_value) if tag_value is not None else None,
            **criteria,  # type: ignore[arg-type]
        )
        self._ledger.place_query_hold(
            case_id=case_id, reason=reason, criteria=held, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        return QueryHold(case_id, held)

    def query_holds(self, principal: Principal) -> list[QueryHold]:
        self._access.allow(principal, Action.AUDIT_READ)
        holds = self._ledger.query_holds()
        self._access.record(principal, Action.AUDIT_READ, Outcome.ALLOWED, [], {"what": "query holds"})
        return [QueryHold(c, k) for c, k in sorted(holds.active.items())] if holds else []

    def release_query_hold(self, principal: Principal, *, case_id: str, reason: str) -> None:
        self._access.allow(principal, Action.HOLD)
        self._ledger.release_query_hold(
            case_id=case_id, reason=reason, occurred_at=datetime.now(UTC), by=actor(principal)
        )

    # -- erasure -------------------------------------------------------------

    def erase_subject(self, principal: Principal, *, customer_id: str, request_id: str, reason: str) -> list[UUID]:
        """All of a data subject's recordings and their key (GDPR Art. 17), or ErasureRefused
        with a reason per blocking recording; audited either way."""
        self._access.allow(principal, Action.ERASE)
        ref = self._ledger.customer_ref_of(customer_id)
        try:
            erased = self._ledger.erase_subject(
                customer_id,
                self._keys.recordings_of_customer(ref),
                now=datetime.now(UTC),
                reason=f"erasure {request_id}: {reason}",
                by=actor(principal),
                storage=self._media,
            )
        except ErasureRefused as refused:
            self._access.record(
                principal,
                Action.ERASE,
                Outcome.REFUSED,
                list(refused.reasons),
                {"request_id": request_id, "why": str(refused)},
                "refused",
            )
            raise
        self._access.record(principal, Action.ERASE, Outcome.ALLOWED, erased, {"request_id": request_id})
        return erased
