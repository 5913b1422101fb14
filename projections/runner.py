"""All views of the ledger, caught up, followed, rebuilt and reported together."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import structlog

from adapters.log_waiter import LogWaiter, StopSignal
from adapters.view_leases import ViewLeases
from adapters.view_store import ViewStore
from domain.ledger import RecordingLedger
from projections.audit_trail import AuditTrailView
from projections.directory_view import DirectoryView
from projections.evaluations_view import EvaluationsView
from projections.follower import Follower, Lag, Projection, read_log
from projections.log_leaves import LogLeavesView
from projections.recordings_view import RecordingsView

log = structlog.get_logger(__name__)

# Called with a view whose batch failed; the others go on without it until the next round.
OnFailure = Callable[[Follower, Exception], None]
# How often a follower without a lease asks for one: the takeover time after a holder dies.
LEASE_RETRY_SECONDS = 2.0


def all_projections() -> list[Projection]:
    return [RecordingsView(), AuditTrailView(), DirectoryView(), LogLeavesView(), EvaluationsView()]


class Projections:
    def __init__(self, ledger: RecordingLedger, store: ViewStore, *, batch_size: int = 5000) -> None:
        self.ledger = ledger
        self.store = store
        self.batch_size = batch_size
        self.followers = {p.name: Follower(ledger, store, p) for p in all_projections()}

    def names(self) -> list[str]:
        return list(self.followers)

    def status(self) -> list[Lag]:
        return [f.lag() for f in self.followers.values()]

    def catch_up(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        views: Iterable[str] | None = None,
        on_failure: OnFailure | None = None,
    ) -> int:
        """Applies everything logged so far to the views (all, or those named), reading the log
        once for all of them; returns the events applied, summed over views.

        Without ``on_failure`` the first failing batch is raised.
        """
        active = [self.followers[name] for name in self.check_names(views)]
        applied = 0
        log_end: int | None = None  # where the log ended when a window came back short
        while active:
            # The views' positions in one query, not one each: a views worker following the log
            # as it grows pays this round for nearly every event.
            start = min(self.store.positions([f.projection.name for f in active]).values())
            if log_end is not None and start >= log_end:
                break  # every view reached the end of the log as it was read: nothing to read again
            window = read_log(self.ledger, start, self.batch_size)
            if not window.events:
                break
            if len(window.events) < self.batch_size:
                log_end = window.events[-1].notification_id
            for follower in list(active):
                try:
                    applied += follower.apply_window(window)
                except Exception as error:
                    if on_failure is None:
                        raise
                    on_failure(follower, error)
                    active.remove(follower)
            if progress is not None:
                progress(len(window.events))
        return applied

    def rebuild(self, names: list[str] | None = None, progress: Callable[[int], None] | None = None) -> int:
        chosen = self.check_names(names)
        for name in chosen:
            self.followers[name].reset()
        return self.catch_up(progress, views=chosen)

    def check_names(self, names: Iterable[str] | None) -> list[str]:
        """The views named (all if none), or KeyError naming those that do not exist."""
        chosen = list(names or self.names())
        unknown = set(chosen) - set(self.followers)
        if unknown:
            raise KeyError(f"no such view: {', '.join(sorted(unknown))}")
        return chosen

    def follow(
        self, stop: threading.Event, waiter: LogWaiter, leases: ViewLeases, gather_seconds: float = 0.0
    ) -> threading.Thread:
        """``follow_until`` in a thread of its own; returns it started."""
        thread = threading.Thread(
            target=self.follow_until, args=(stop, waiter, leases, gather_seconds), name="follow-views", daemon=True
        )
        thread.start()
        return thread

    def follow_until(
        self, stop: StopSignal, waiter: LogWaiter, leases: ViewLeases, gather_seconds: float = 0.0
    ) -> None:
        """Keeps the views this process holds the lease of caught up until ``stop`` is set.

        After a wake-up it lets ``gather_seconds`` pass before reading, so that a
        burst of appends (one NOTIFY each) becomes one batch instead of many tiny ones.
        A failing batch is logged and retried on the next round, never skipped.
        A standby (no lease held) asks for the leases every ``LEASE_RETRY_SECONDS``.
        """
        try:
            while not stop.is_set():
                views = leases.held(self.names())
                if not views:
                    stop.wait(LEASE_RETRY_SECONDS)
                    continue
                if not self._follow_round(views):
                    stop.wait(1.0)  # back off before retrying what failed
                waiter.wait(stop)
                stop.wait(gather_seconds)
        finally:
            waiter.close()
            leases.close()

    def _follow_round(self, views: list[str]) -> bool:
        """One catch-up of these views; False if anything failed (logged, and retried next round)."""
        failed: list[Follower] = []

        def note(follower: Follower, _error: Exception) -> None:
            log.exception("projection batch failed; will retry", view=follower.projection.name)
            failed.append(follower)

        try:
            applied = self.catch_up(views=views, on_failure=note)
        except Exception:
            log.exception("reading the log for the views failed; will retry")
            return False
        if applied:
            log.debug("projections advanced", events=applied)
        return not failed
