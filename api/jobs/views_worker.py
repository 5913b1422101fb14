"""The views' follower in a process of its own.

Folding the log into the views costs about as much Python CPU as taking the
events in; in the server's process both would share one GIL, so ingest would
wait on the views. In a child process the views use the machine's other core.
Request threads still catch a view up themselves when they must read their own
writes; the two appliers take turns through the views' tracking rows.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from typing import Any

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError

from adapters.event_store import open_ledger, open_view_store
from adapters.log_waiter import log_waiter
from adapters.settings import Settings
from adapters.view_leases import view_leases
from api.gc_tuning import tune_for_service
from api.logging import configure_logging
from domain.ledger import RecordingLedger
from projections.runner import Projections

log = structlog.get_logger(__name__)

# Spawned, not forked: a fork would copy the server's threads' locks and open connections.
_CONTEXT = multiprocessing.get_context("spawn")
PARENT_CHECK_SECONDS = 1.0


def follow_views(settings: Settings, parent_pid: int) -> None:
    """The child's whole life: follow the log into every view until SIGTERM, or until the server is gone.

    Stopped by a signal rather than a shared multiprocessing.Event: a process
    killed while waiting on such an event leaves it unusable for the next one.
    """
    configure_logging(settings)
    tune_for_service()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the server stops us
    threading.Thread(target=_stop_when_orphaned, args=(parent_pid, stop), daemon=True).start()
    ledger = _open_when_reachable(settings, stop)
    if ledger is None:
        return
    try:
        projections = Projections(ledger, open_view_store(ledger), batch_size=settings.projection_batch_size)
        log.info("views worker started", views=projections.names())
        projections.follow_until(stop, log_waiter(settings), view_leases(settings), settings.projection_gather_seconds)
    finally:
        ledger.close()


def _open_when_reachable(settings: Settings, stop: threading.Event) -> RecordingLedger | None:
    """The ledger (opening it on PostgreSQL reads the database's types), or None if stopped first.

    A worker started while the database is down waits for it here, instead of dying
    and being started again by the server every few seconds until it is back.
    """
    while not stop.is_set():
        try:
            return open_ledger(settings, group_commit=False)
        except (OperationalError, InterfaceError) as error:
            log.warning("views worker waiting for the database", error=str(error))
            stop.wait(settings.projection_poll_seconds)
    return None


def _stop_when_orphaned(parent_pid: int, stop: threading.Event) -> None:
    """A server killed outright cannot stop its worker: the worker notices it was re-parented."""
    while not stop.wait(PARENT_CHECK_SECONDS):
        if os.getppid() != parent_pid:
            log.warning("the server is gone; views worker stopping")
            stop.set()


class ViewsWorker:
    """Starts, watches and stops the child process; restarts it if it died."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: Any = None
        self._stopped = False
        self._guard = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def ensure_running(self) -> None:
        with self._guard:
            if self._stopped or self.alive():
                return
            if self._process is not None:
                log.error("views worker died; starting another", exitcode=self._process.exitcode)
            self._process = _CONTEXT.Process(
                target=follow_views, args=(self._settings, os.getpid()), name="callvault-views", daemon=True
            )
            self._process.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._guard:
            self._stopped = True
            if not self.alive():
                return
            self._process.terminate()
            self._process.join(timeout)
            if self._process.is_alive():
                log.warning("views worker did not stop in time; killing it")
                self._process.kill()
                self._process.join(timeout)
