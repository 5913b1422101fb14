"""Follows the log in order and applies it to a view in batches.

One transaction and one tracking write per batch (eventsourcing's stock
ProjectionRunner commits per event and cannot follow SQLite), so a rebuild of
millions of events takes minutes. Several views can share one read of the log
(see ``runner.Projections``): each takes the part of it past its own position,
and each event is decoded once, however many views read it. Works on both
engines; on PostgreSQL the runner wakes on NOTIFY, elsewhere it polls.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from eventsourcing.persistence import IntegrityError

from adapters.event_codec import MsgspecMapper, event_class_of
from adapters.event_store import StoredRow, read_stored_rows
from adapters.view_store import ViewStore
from domain.ledger import RecordingLedger


class LoggedEvent:
    """One stored event, decoded when a view first asks for it and then shared.

    A view that takes only some kinds of event looks at ``event_class`` (from the
    stored topic) first, so the others are never decoded. Personal fields stay
    sealed: views hold blind indexes, never the values.
    """

    __slots__ = ("_event", "_mapper", "notification_id", "originator_id", "originator_version", "state", "topic")

    def __init__(self, row: StoredRow, mapper: MsgspecMapper) -> None:
        self.notification_id, self.originator_id, self.originator_version, self.topic, self.state = row
        self._mapper = mapper
        self._event: Any = None

    @property
    def stored(self) -> LoggedEvent:
        """The event exactly as persisted: its envelope, topic and state bytes (for the Merkle leaves)."""
        return self

    @property
    def event_class(self) -> type:
        return event_class_of(self.topic)

    @property
    def timestamp(self) -> datetime:
        """When the event was recorded: from the decoded event if a view decoded it, else read alone."""
        if self._event is not None:
            return self._event.timestamp  # type: ignore[no-any-return]
        return self._mapper.timestamp(self.state)

    @property
    def event(self) -> Any:
        """A domain event of any aggregate in the log; each view picks its own."""
        if self._event is None:
            self._event = self._mapper.decode(
                self.topic, self.state, self.originator_id, self.originator_version, open_personal=False
            )
        return self._event


class LogWindow(NamedTuple):
    after: int  # the position it was read from
    events: list[LoggedEvent]


def read_log(ledger: RecordingLedger, after: int, limit: int) -> LogWindow:
    # No topic filter in SQL: it halves the read rate, and a view's position must
    # pass over the events it ignores anyway.
    mapper = ledger.mapper
    assert isinstance(mapper, MsgspecMapper)  # every ledger's factory builds it (adapters/event_store.py)
    return LogWindow(after, [LoggedEvent(row, mapper) for row in read_stored_rows(ledger, after, limit)])


class Projection(Protocol):
    name: str
    # CPU per log event of a fold from empty beyond reading the log, in µs (each view caught up
    # alone from empty by bench/ingest.py, 204k events); a rebuild shares the views out
    # between processes by it, so only the ratios between views matter.
    fold_cost: float

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
    def __init__(self, ledger: RecordingLedger, store: ViewStore, projection: Projection) -> None:
        self.ledger = ledger
        self.store = store
        self.projection = projection
        # The runner's thread and request threads (read-your-writes) may both
        # apply; in one process they take turns instead of racing.
        self._lock = threading.Lock()

    def lag(self) -> Lag:
        head = self.ledger.recorder.max_notification_id() or 0
        return Lag(self.projection.name, self.position(), head)

    def position(self) -> int:
        return self.store.position(self.projection.name)

    def apply_window(self, window: LogWindow) -> int:
        """Applies the part of a window of the log (read for several views) that this view has not seen."""
        with self._lock:
            previous = self.position()
            if window.after > previous:
                return 0  # read past this view's position (it was reset meanwhile): would skip events
            unseen = [e for e in window.events if e.notification_id > previous]
            if not unseen:
                return 0
            try:
                self.projection.apply(self.store, unseen, previous, unseen[-1].notification_id)
            except (IntegrityError, LookupError):
                # Refused (its rows or position were taken), or folded on rows that a rebuild's
                # reset emptied after the position was read (an event of a recording no longer
                # there): the view moved under this batch, which is given up; the next round
                # goes on from where the view is now.
                if self.position() != previous:
                    return 0
                raise
            return len(unseen)

    def reset(self) -> None:
        """Empties the view, to be rebuilt from the start of the log."""
        with self._lock:
            self.store.reset(self.projection.name)
