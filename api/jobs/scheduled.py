"""The server's scheduled jobs: after-call-work timeouts, checkpoints, the log's self-audit,
retention, the watch over the views worker process, and the transcriber (when one is set).

All but the watch run once per due time across every server on the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from adapters.job_claims import JobClaims
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
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


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


def due_time(now: datetime, seconds: float) -> datetime:
    """The due time a run at ``now`` serves: the last multiple of the interval since the epoch."""
    step = timedelta(seconds=seconds)
    return EPOCH + ((now - EPOCH) // step) * step


class OncePerCluster:
    """Runs a job only on the server that claims its due time first, so that any number of
    servers on one store run it once per due time. A server that dies mid-run leaves that
    due time unfinished; the next one runs again. Every job here is safe to overlap with the
    previous due time's run on another server (its effects have natural keys)."""

    def __init__(self, claims: JobClaims, node: str) -> None:
        self._claims = claims
        self._node = node

    def wrap(self, job_id: str, seconds: float, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            now = datetime.now(UTC)
            due = due_time(now, seconds)
            if not self._claims.claim(job_id, due, self._node, now):
                log.debug("scheduled job claimed by another server", job=job_id, due_at=due.isoformat())
                return
            job()
            log.info(
                "scheduled job ran",
                job=job_id,
                due_at=due.isoformat(),
                node=self._node,
                ms=round((datetime.now(UTC) - now).total_seconds() * 1000, 1),
            )

        return run


def schedule(
    settings: Settings,
    once: OncePerCluster,
    acw_timeout: AcwTimeout,
    transparency: TransparencyLog,
    retention: Retention,
    views_worker: ViewsWorker | None,
    transcription: Transcription | None,
) -> BackgroundScheduler:
    """A scheduler with every job added, not yet started.

    Every server fires a job at the same moments (intervals counted from the epoch, not from
    its own start), and the first to claim the due time runs it.
    """
    scheduler = BackgroundScheduler(timezone="UTC")

    def every(seconds: float, job: Callable[[], object], job_id: str, *, per_server: bool = False) -> None:
        # One at a time per job; a run missed while the last one overran is not made up.
        trigger = IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC)
        run = job if per_server else once.wrap(job_id, seconds, job)
        scheduler.add_job(run, trigger, id=job_id, max_instances=1, coalesce=True)

    if views_worker is not None:
        every(VIEWS_WORKER_CHECK_SECONDS, views_worker.ensure_running, "views-worker", per_server=True)
    every(settings.acw_check_seconds, acw_timeout.run, "acw-timeout")
    every(settings.checkpoint_interval_seconds, transparency.scheduled_checkpoint, "checkpoint")
    every(settings.log_self_audit_seconds, transparency.self_audit, "log-self-audit")
    every(settings.retention_check_seconds, lambda: retention.run(datetime.now(UTC)), "retention")
    if transcription is not None:
        every(settings.transcribe_check_seconds, transcription.run, "transcription")
    return scheduler
