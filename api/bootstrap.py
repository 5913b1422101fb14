"""What a running server holds: the ledger, the views and their followers, the scheduler."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from adapters.checkpoint_store import load_signer
from adapters.event_store import key_store_of, open_checkpoint_store, open_ledger, open_view_store
from adapters.log_waiter import log_waiter
from adapters.media_store import MediaStore
from adapters.media_vault import MediaVault
from adapters.migrate import migrate
from adapters.settings import Settings
from api.jobs.views_worker import ViewsWorker
from api.services.retention import run_retention
from api.services.transparency import TransparencyLog
from domain.directory import token_digest
from domain.errors import DomainError
from domain.identity import Role
from domain.ledger import RecordingLedger
from domain.permissions import OrgChart, Principal
from domain.values import SYSTEM
from projections.runner import Projections

log = structlog.get_logger(__name__)

# How often the server looks whether its views worker is still alive (and restarts it if not).
VIEWS_WORKER_CHECK_SECONDS = 5.0


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        migrate(settings)  # the embedded default must work with nothing set up
        self.ledger: RecordingLedger = open_ledger(settings)
        self.views = open_view_store(self.ledger)
        self.keys = key_store_of(self.ledger)
        self.media = MediaVault(
            MediaStore(settings.media_url), MediaStore(settings.archive_url), settings.archive_url, self.keys
        )
        self.log = TransparencyLog(
            self.ledger,
            self.views,
            open_checkpoint_store(self.ledger, settings),
            load_signer(settings),
            settings.log_origin,
            lambda: self.fresh("log_leaves"),
        )
        self.projections = Projections(self.ledger, self.views, batch_size=settings.projection_batch_size)
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self.views_worker = ViewsWorker(settings) if settings.views_process else None
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self._principals: dict[str, tuple[Principal, float]] = {}

    def start(self) -> None:
        self.projections.catch_up()
        if self.views_worker is not None:
            self.views_worker.ensure_running()
            self.scheduler.add_job(
                self.views_worker.ensure_running,
                "interval",
                seconds=VIEWS_WORKER_CHECK_SECONDS,
                id="views-worker",
                max_instances=1,
                coalesce=True,
            )
        else:
            self._follower = self.projections.follow(
                self._stop, log_waiter(self.settings), self.settings.projection_gather_seconds
            )
        self.scheduler.add_job(
            self.end_overdue_acw,
            "interval",
            seconds=self.settings.acw_check_seconds,
            id="acw-timeout",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.log.scheduled_checkpoint,
            "interval",
            seconds=self.settings.checkpoint_interval_seconds,
            id="checkpoint",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.log.self_audit,
            "interval",
            seconds=self.settings.log_self_audit_seconds,
            id="log-self-audit",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            lambda: run_retention(self, datetime.now(UTC)),
            "interval",
            seconds=self.settings.retention_check_seconds,
            id="retention",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.start()
        log.info("runtime started", views=self.projections.names())

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=5)
        if self.views_worker is not None:
            self.views_worker.stop()
        self.ledger.close()
        log.info("runtime stopped")

    # -- identity --------------------------------------------------------

    def principal_for(self, token: str) -> Principal | None:
        """The token's user, from a short-lived cache (every request needs it)."""
        digest = token_digest(token)
        cached = self._principals.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        principal = self._look_up(digest)
        if principal is not None:
            self._principals[digest] = (principal, time.monotonic() + self.settings.token_cache_seconds)
        return principal

    def _look_up(self, digest: str) -> Principal | None:
        user = self.views.user_by_token(digest)
        if user is None:
            # Maybe created a moment ago by another process (the CLI): catch up once.
            self.fresh("directory")
            user = self.views.user_by_token(digest)
        if user is None:
            return None
        return Principal(user_id=user.user_id, name=user.name, role=Role(user.role), team_id=user.team_id)

    def org(self) -> OrgChart:
        users, teams, responsibilities = self.views.directory()
        org = OrgChart()
        for team in teams:
            org.parents[team.team_id] = team.parent_id
            org.team_names[team.name] = team.team_id
        for r in responsibilities:
            org.responsible_for[r.user_id].add(r.team_id)
        for user in users:
            if user.role == Role.AGENT and user.team_id is not None and user.active:
                org.agents_in[user.team_id].add(user.name)
        return org

    def fresh(self, view: str) -> None:
        """Read-your-writes: brings a view up to the log before it is read, so a client
        that wrote and then reads sees its write (cheap when the follower kept up)."""
        self.projections.catch_up(views=[view])

    def directory_changed(self) -> None:
        self._principals.clear()  # a rotated or deactivated token stops working at once here
        self.fresh("directory")

    # -- scheduled jobs --------------------------------------------------

    def end_overdue_acw(self, now: datetime | None = None) -> int:
        """Ends after-call work left open past the timeout, as of the moment it ran out.

        That moment is the natural key of the event, so two servers running this
        job at once, or a rerun, record it once.
        """
        timeout = timedelta(seconds=self.ledger.current_policy()[1].acw_timeout_seconds)
        ended = 0
        for row in self.views.acw_open_since((now or datetime.now(UTC)) - timeout):
            assert row.ended_at is not None
            try:
                if self.ledger.end_acw(
                    row.recording_id, reason="timeout", occurred_at=row.ended_at + timeout, by=SYSTEM
                ):
                    ended += 1
            except DomainError as refusal:  # ended meanwhile by the agent's status change
                log.info("acw timeout skipped", recording_id=str(row.recording_id), why=str(refusal))
        if ended:
            log.info("acw timed out", recordings=ended)
        return ended
