"""Which views this process folds: one follower per view across every server on one store.

On PostgreSQL each view's lease is a session advisory lock held on a session of its own.
PostgreSQL frees it the moment that session ends: the process exited or was killed, or its
machine stopped answering (``DEAD_PEER_OPTIONS``). A standby asks again every few seconds,
so it takes a view over within seconds of its holder's death.

The lease saves work; it is not what keeps a view right. A follower that still believes it
holds a lease it lost (its session broke between two checks) and a request thread catching
a view up to read its own write both commit through the view's tracking row, which refuses
a batch from a position another applier already moved past.

SQLite is the embedded store of one server process: that process holds every lease.
"""

from __future__ import annotations

from typing import Protocol

import psycopg
import structlog

from adapters.pg_session import DEAD_PEER_OPTIONS, service_session
from adapters.settings import Settings

log = structlog.get_logger(__name__)

# The two-key form of advisory locks is a key space apart from the one-key form that
# serializes appends (migrations/postgresql/0003).
_TRY_LOCKS = (
    "SELECT name FROM unnest(%s::text[]) AS name "
    "WHERE pg_try_advisory_lock(hashtext('callvault.views'), hashtext(name))"
)


class ViewLeases(Protocol):
    def held(self, names: list[str]) -> list[str]:
        """Of these views, those this process holds now (taking any that are free)."""

    def close(self) -> None:
        """Gives every lease up."""


class SoleServer:
    def held(self, names: list[str]) -> list[str]:
        return list(names)

    def close(self) -> None:
        pass


class AdvisoryLocks:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: psycopg.Connection | None = None
        self._held: set[str] = set()

    def held(self, names: list[str]) -> list[str]:
        try:
            if self._session is None or self._session.closed:
                self._session = service_session(self._settings, options=DEAD_PEER_OPTIONS)
            # Also proves the session, and so the leases already held, still alive.
            taken = [row[0] for row in self._session.execute(_TRY_LOCKS, [[n for n in names if n not in self._held]])]
        except psycopg.Error as error:
            if self._held:
                log.warning("view leases lost with their session", views=sorted(self._held), error=str(error))
            self.close()
            return []
        if taken:
            self._held.update(taken)
            log.info("view leases taken", views=taken)
        return [name for name in names if name in self._held]

    def close(self) -> None:
        self._held.clear()
        if self._session is not None:
            self._session.close()  # ending the session releases its advisory locks
            self._session = None


def view_leases(settings: Settings) -> ViewLeases:
    return AdvisoryLocks(settings) if settings.uses_postgres else SoleServer()
