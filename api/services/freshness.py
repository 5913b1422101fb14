"""Read-your-writes without a catch-up pass on every read.

A read waits for its view only when the view may not yet show a write it must see:
one stored by this process (the ledger knows the last position of each aggregate
kind it wrote), or one the client saw elsewhere and names by its log position (the
``Callvault-Log-Position`` header every write answers with; another server behind
the same load balancer may have taken the write). When the view is known to have
reached that position, the read costs nothing; otherwise it catches the view up
itself, as every read did before. Writes made by other processes are shown once the
follower folds them (NOTIFY on PostgreSQL, polling on SQLite), unless named.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar

from domain.ledger import RecordingLedger
from projections.runner import Projections

# The position the client says it has seen, for the request being served (0: none).
client_position: ContextVar[int] = ContextVar("client_position", default=0)

# Which aggregates' events each view shows (domain.ledger.aggregate_kind). The audit trail
# is not here: a report catches it up every time (api/services/audit_reports.py).
SHOWN_IN_VIEW: dict[str, tuple[str, ...]] = {
    "recordings": ("Recording",),
    "evaluations": ("Recording", "EvaluationForm"),
}


class ViewFreshness:
    def __init__(self, ledger: RecordingLedger, projections: Projections, *, followed: bool) -> None:
        """``followed``: a follower keeps the views current (a server); otherwise (the command
        line, which writes and reads in separate runs) every read catches its view up."""
        self._ledger = ledger
        self._projections = projections
        self._followed = followed
        self._reached: dict[str, int] = {}  # the highest position each view is known to have committed
        self._guard = threading.Lock()

    def ensure(self, view: str) -> None:
        """Returns once ``view`` shows this process's writes and the client's named position."""
        if not self._followed:
            self._projections.catch_up(views=[view])
            return
        needed = max(self._ledger.logged_up_to(SHOWN_IN_VIEW[view]), client_position.get())
        if self._reached.get(view, 0) >= needed:
            return
        follower = self._projections.followers[view]
        if (position := follower.position()) < needed:
            self._projections.catch_up(views=[view])
            position = follower.position()
        with self._guard:
            self._reached[view] = max(self._reached.get(view, 0), position)
