"""The retention run: archive and purge what each recording's policy says is due.

Scheduled in the server (APScheduler) and runnable as `callvault retention run`
or POST /v1/retention/run. Candidates come from the search view, narrowed to
recordings old enough for the shortest rule of any policy version; the decision
for each is the ledger's, against the log (holds, due dates), never the view.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

import msgspec
import structlog

from adapters.view_rows import RecordingQuery, RecordingRow
from domain import errors
from domain.values import SYSTEM, Actor, RecordingStatus

if TYPE_CHECKING:
    from api.bootstrap import Runtime

log = structlog.get_logger(__name__)
PAGE = 1000


class RetentionRun(msgspec.Struct):
    archived: list[UUID]
    purged: list[UUID]
    kept: dict[str, str]  # recording id -> why it stays (a hold)


def run_retention(runtime: Runtime, now: datetime, by: Actor = SYSTEM) -> RetentionRun:
    ledger, outcome = runtime.ledger, RetentionRun([], [], {})
    holds = ledger.query_holds()
    for page in candidate_pages(runtime, now):
        due_for_purge = []
        for row in page:
            recording = ledger.get_recording(row.recording_id)
            due = ledger.due(recording)
            if due.purge_at is not None and now >= due.purge_at:
                due_for_purge.append(row.recording_id)
            elif due.archive_at is not None and now >= due.archive_at and not recording.archived:
                try:
                    ledger.archive(row.recording_id, now=now, reason="retention: archive", by=by, storage=runtime.media)
                    outcome.archived.append(row.recording_id)
                except errors.LegalHoldActive as kept:
                    outcome.kept[str(row.recording_id)] = str(kept)
        purges = ledger.purge_all(
            due_for_purge, now=now, reason="retention period over", by=by, storage=runtime.media, holds=holds
        )
        for recording_id, result in purges.items():
            if isinstance(result, errors.DomainError):
                outcome.kept[str(recording_id)] = str(result)
            else:
                outcome.purged.append(recording_id)
    if outcome.archived or outcome.purged:
        log.info("retention run", archived=len(outcome.archived), purged=len(outcome.purged), kept=len(outcome.kept))
    return outcome


def candidate_pages(runtime: Runtime, now: datetime) -> Iterator[list[RecordingRow]]:
    """Complete and archived recordings started before the shortest rule could make them due."""
    days = [
        d
        for v in runtime.ledger.policy_versions().values()
        for rule in v.terms.retention
        for d in (rule.archive_after_days, rule.purge_after_days)
        if d is not None
    ]
    if not days:
        return
    runtime.fresh("recordings")
    for status in (RecordingStatus.COMPLETE, RecordingStatus.ARCHIVED):
        after = None
        while True:
            page = runtime.views.search(
                RecordingQuery(
                    status=status.value, started_until=now - timedelta(days=min(days)), after=after, limit=PAGE
                )
            )
            if page:
                yield page
            if len(page) < PAGE:
                break
            after = (page[-1].started_at, page[-1].recording_id)
