"""Follows the log in order and applies it to a view in batches.

One transaction and one tracking write per batch (eventsourcing's stock
ProjectionRunner commits per event and cannot follow SQLite), so a rebuild of
millions of events takes minutes. Works on both engines; on PostgreSQL it wakes
on NOTIFY, elsewhere it polls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple, Protocol

import structlog
from eventsourcing.persistence import Notification

from adapters.log_waiter import LogWaiter
from adapters.view_store import ViewStore
from domain.ledger import RecordingLedger

log = structlog.get_logger(__name__)

class LoggedEvent(NamedTuple):
    notification_id: int
    event: Any  # a domain event of any aggregate in the log; each view picks its own
    stored: Notification  # the event exactly as persisted (for the Merkle leaves)


class Projection(Protocol):
    name: str
    # Whether the view reads personal fields (opened with the recording's keys);
    # the others get them still sealed, which spares a key lookup per event.
    reads_personal_fields: bool

    def apply(self, store: ViewStore, batch: Sequence[LoggedEvent], previous: int, position: int) -> None:
        """Writes the batch's changes and the new position in one transaction.

        ``previous`` is the position the batch continues from; a projection that
        caches rows may trust its cache only if it committed that position itself.
        """


class Lag(NamedTuple):
    view: str
    position: int
    head: int

    @property
    def behind(self) -> int:
        return max(self.head - self.position, 0)


class Follower:
    def __init__(
        self,
        ledger: RecordingLedger,
        store: ViewStore,
        projection: Projection,
        *,
        batch_size: int = 5000,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.projection = projection
        self.batch_size = batch_size
        # The follower thread and request threads (read-your-writes) may both
        # catch up; in one process they take turns instead of racing.
        self._lock = threading.Lock()

    def lag(self) -> Lag:
        head = self.ledger.recorder.max_notification_id() or 0
        return Lag(self.projection.name, self.store.position(self.projection.name), head)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Applies everything logged so far; returns how many events it applied."""
        with self._lock:
            return self._catch_up(progress)

    def _catch_up(self, progress: Callable[[int], None] | None) -> int:
        position = self.store.position(self.projection.name)
        applied = 0
        while True:
            # No topic filter in SQL: it halves the read rate, and the position
            # must pass over events these views ignore anyway.
            notifications = self.ledger.recorder.select_notifications(
                start=position, limit=self.batch_size, inclusive_of_start=False
            )
            if not notifications:
                return applied
            decode = partial(self.ledger.mapper.to_domain_event, open_personal=self.projection.reads_personal_fields)
            batch = [LoggedEvent(n.id, decode(n), n) for n in notifications]
            previous, position = position, notifications[-1].id
            self.projection.apply(self.store, batch, previous, position)
            applied += len(notifications)
            if progress is not None:
                progress(len(notifications))

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        with self._lock:
            self.store.reset(self.projection.name)
            return self._catch_up(progress)

    def follow(self, stop: threading.Event, waiter: LogWaiter, gather_seconds: float = 0.0) -> None:
        """Runs until stopped; a failing batch is logged and retried, never skipped.

        After a wake-up it lets ``gather_seconds`` pass before reading, so that a
        burst of writes (one NOTIFY each) becomes one batch instead of many tiny ones.
        """
        try:
            while not stop.is_set():
                try:
                    applied = self.catch_up()
                    if applied:
                        log.debug("projection advanced", view=self.projection.name, events=applied)
                except Exception:
                    log.exception("projection batch failed; will retry", view=self.projection.name)
                    stop.wait(1.0)
                waiter.wait(stop)
                stop.wait(gather_seconds)
        finally:
            waiter.close()
