"""All views of the ledger, caught up, followed, rebuilt and reported together."""

from __future__ import annotations

import threading
from collections.abc import Callable

from adapters.log_waiter import LogWaiter
from adapters.view_store import ViewStore
from domain.ledger import RecordingLedger
from projections.audit_trail import AuditTrailView
from projections.directory_view import DirectoryView
from projections.log_leaves import LogLeavesView
from projections.follower import Follower, Lag, Projection
from projections.recordings_view import RecordingsView


def all_projections(ledger: RecordingLedger) -> list[Projection]:
    return [RecordingsView(ledger.tag_ref), AuditTrailView(), DirectoryView(), LogLeavesView()]


class Projections:
    def __init__(self, ledger: RecordingLedger, store: ViewStore, *, batch_size: int = 5000) -> None:
        self.store = store
        self.followers = {
            p.name: Follower(ledger, store, p, batch_size=batch_size) for p in all_projections(ledger)
        }

    def names(self) -> list[str]:
        return list(self.followers)

    def status(self) -> list[Lag]:
        return [f.lag() for f in self.followers.values()]

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        return sum(f.catch_up(progress) for f in self.followers.values())

    def rebuild(self, names: list[str] | None = None, progress: Callable[[int], None] | None = None) -> int:
        chosen = names or self.names()
        unknown = set(chosen) - set(self.followers)
        if unknown:
            raise KeyError(f"no such view: {', '.join(sorted(unknown))}")
        return sum(self.followers[n].rebuild(progress) for n in chosen)

    def follow(
        self, stop: threading.Event, waiter_factory: Callable[[], LogWaiter], gather_seconds: float = 0.0
    ) -> list[threading.Thread]:
        """One thread per view, each with its own waiter; returns them started."""
        threads = []
        for follower in self.followers.values():
            waiter = waiter_factory()
            thread = threading.Thread(
                target=follower.follow, args=(stop, waiter, gather_seconds), name=f"follow-{follower.projection.name}", daemon=True
            )
            thread.start()
            threads.append(thread)
        return threads
