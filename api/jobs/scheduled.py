"""The server's scheduled jobs: after-call-work timeouts, checkpoints, the log's self-audit,
retention, the watch over the views worker process, and the transcriber (when one is set)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from adapters.settings import Settings
from adapters.view_store import ViewStore
from api.jobs.transcription import Transcription
from api.jobs.views_worker import ViewsWorker
from api.services.retention import Retention
from api.services.transparency import TransparencyLog
from domain.commands import EndAcw
from domain.errors import DomainError
from domain.ledger import RecordingLedger
from domain.values import SYSTEM

log = structlog.get_logger(__name__)

# How often the server looks whether its views worker is still alive (and restarts it if not).
VIEWS_WORKER_CHECK_SECONDS = 5.0


class AcwTimeout:
    """Ends after-call work left open past the policy's timeout, as of the moment it ran out.

    That moment is the natural key of the event, so two servers running this job at
    once, or a rerun, record it once.
    """

    def __init__(self, ledger: RecordingLedger, views: ViewStore) -> None:
        self._ledger = ledger
        self._views = views

    def run(self, now: datetime | None = None) -> int:
        timeout = timedelta(seconds=self._ledger.current_policy()[1].acw_timeout_seconds)
        ended = 0
        for row in self._views.acw_open_since((now or datetime.now(UTC)) - timeout):
            assert row.ended_at is not None
            try:
                if self._ledger.execute(
                    EndAcw(row.recording_id, reason="timeout", occurred_at=row.ended_at + timeout, by=SYSTEM)
                ):
                    ended += 1
            except DomainError as refusal:  # ended meanwhile by the agent's status change
                log.info("acw timeout skipped", recording_id=str(row.recording_id), why=str(refusal))
        if ended:
            log.info("acw timed out", recordings=ended)
        return ended


def schedule(
    settings: Settings,
    acw_timeout: AcwTimeout,
    transparency: TransparencyLog,
    retention: Retention,
    views_worker: ViewsWorker | None,
    transcription: Transcription | None,
) -> BackgroundScheduler:
    """A scheduler with every job added, not yet started."""
    scheduler = BackgroundScheduler(timezone="UTC")

    def every(seconds: float, job: Callable[[], object], job_id: str) -> None:
        # One at a time per job; a run missed while the last one overran is not made up.
        scheduler.add_job(job, "interval", seconds=seconds, id=job_id, max_instances=1, coalesce=True)

    if views_worker is not None:
        every(VIEWS_WORKER_CHECK_SECONDS, views_worker.ensure_running, "views-worker")
    every(settings.acw_check_seconds, acw_timeout.run, "acw-timeout")
    every(settings.checkpoint_interval_seconds, transparency.scheduled_checkpoint, "checkpoint")
    every(settings.log_self_audit_seconds, transparency.self_audit, "log-self-audit")
    every(settings.retention_check_seconds, lambda: retention.run(datetime.now(UTC)), "retention")
    if transcription is not None:
        every(settings.transcribe_check_seconds, transcription.run, "transcription")
    return scheduler
