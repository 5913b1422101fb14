"""The PostgreSQL recorders: appends through the migrations' function, and a bounded
retry for calls whose connection was lost under them.

eventsourcing's own retry makes ten attempts, each of which may wait the whole pool
timeout; these fail within about one pool timeout while the database is down, so
the service can answer 503 at once, and an append whose outcome a lost connection
left unknown is looked up before it is sent again (never lost, never doubled).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import DatabaseError, IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresTrackingRecorder
from psycopg_pool import PoolTimeout

from adapters.key_store import KeysChanged, UnstoredKeys

log = structlog.get_logger(__name__)

# Attempts of a PostgreSQL call whose connection was lost under it (each on a fresh one).
LOST_CONNECTION_ATTEMPTS = 3


def connection_lost(error: Exception) -> bool:
    """The connection broke under the call (server restarted, network cut): a fresh one may work.

    Not so for a pool timeout: no connection could be had at all, so the database
    is down or saturated, and trying again would only make the caller wait longer.
    """
    cause = error.__cause__
    if isinstance(cause, PoolTimeout):
        return False
    if isinstance(cause, psycopg.InterfaceError):
        return True
    # No SQLSTATE: the client lost the socket; 08: connection exception; 57P: the server shut down.
    return isinstance(cause, psycopg.OperationalError) and (
        cause.sqlstate is None or cause.sqlstate.startswith(("08", "57P"))
    )


def retry_lost_connection[F: Callable[..., Any]](call: F) -> F:
    """Runs ``call`` again on a fresh connection when its connection was lost, a few times.

    Replaces eventsourcing's retry (ten attempts, each of which may wait the whole
    pool timeout): while the database is down, callers must fail within about one
    pool timeout, so the service can answer 503 at once instead of hanging.
    """

    @wraps(call)
    def retrying(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, LOST_CONNECTION_ATTEMPTS + 1):
            try:
                return call(*args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if attempt == LOST_CONNECTION_ATTEMPTS or not connection_lost(error):
                    raise
                log.warning(
                    "database connection lost; trying again on a fresh one", call=call.__name__, error=str(error)
                )
        raise AssertionError("unreachable")

    return retrying  # type: ignore[return-value]


def _bound_retries(cls: type, *names: str) -> None:
    """The library's methods, stripped of its retry and given ours."""
    for name in names:
        setattr(cls, name, retry_lost_connection(inspect.unwrap(getattr(cls, name))))


class AppendFunctionRecorder(PostgresApplicationRecorder):
    """Appends through callvault_append() from the migrations: one round trip per
    transaction, events sent as binary arrays, commit order kept by the function."""

    APPEND = "SELECT n AS notification_id FROM callvault_append(%b, %b, %b, %b) AS n"
    # The same, storing first the keys of new recordings that the events were sealed with (0018).
    APPEND_WITH_KEYS = (
        "SELECT n AS notification_id FROM callvault_append_with_keys(%b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b) AS n"
    )
    KEYS_CHANGED = "CVK01"
    STORED = (
        "SELECT originator_id, originator_version, state, notification_id FROM stored_events "
        "WHERE (originator_id, originator_version) IN (SELECT * FROM unnest(%b::uuid[], %b::bigint[]))"
    )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, new_keys: UnstoredKeys | None = None, **kwargs: Any
    ) -> Sequence[int] | None:
        """Appends the events (with ``new_keys``, the keys they were sealed with that are not
        stored yet, in the same statement); if the connection is lost meanwhile, finds out
        whether they committed.

        A lost connection leaves the outcome unknown. The log is asked (on a fresh
        connection) for these exact stored bytes: found, the append committed and
        its notification ids are returned; absent, it is sent again. So a commit
        is never lost and never doubled, whatever the command was.
        """
        if not stored_events:
            return []
        for attempt in range(1, LOST_CONNECTION_ATTEMPTS + 1):
            try:
                return self._append(stored_events, new_keys)
            except (InterfaceError, OperationalError) as error:
                if attempt == LOST_CONNECTION_ATTEMPTS or not connection_lost(error):
                    raise
                log.warning(
                    "database connection lost while appending; checking whether it committed",
                    events=len(stored_events),
                    error=str(error),
                )
                committed = self._committed(stored_events)
                if committed is not None:
                    return committed
        raise AssertionError("unreachable")

    def _append(self, stored_events: Sequence[StoredEvent], new_keys: UnstoredKeys | None) -> list[int]:
        columns: list[Any] = [
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        ]
        statement = self.APPEND
        if new_keys is not None:
            statement = self.APPEND_WITH_KEYS
            columns += [*new_keys.columns(), datetime.now(UTC)]
        try:
            with self.datastore.get_connection() as conn, conn.cursor() as cursor:
                cursor.execute(statement, columns, prepare=True)
                return [row["notification_id"] for row in cursor.fetchall()]
        except DatabaseError as error:
            if isinstance(error.__cause__, psycopg.Error) and error.__cause__.sqlstate == self.KEYS_CHANGED:
                raise KeysChanged(str(error.__cause__)) from error
            raise

    @retry_lost_connection
    def _committed(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The events' notification ids if exactly these were stored; None if none of them was.

        Raises IntegrityError if another writer stored those versions, as the append would have.
        """
        keys = ([e.originator_id for e in stored_events], [e.originator_version for e in stored_events])
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self.STORED, keys)
            found = {(row["originator_id"], row["originator_version"]): row for row in cursor.fetchall()}
        if not found:
            return None
        rows = [found.get((e.originator_id, e.originator_version)) for e in stored_events]
        if any(row is None or bytes(row["state"]) != e.state for row, e in zip(rows, stored_events, strict=True)):
            raise IntegrityError("another writer stored these versions first")
        return [row["notification_id"] for row in rows]  # type: ignore[index]


_bound_retries(AppendFunctionRecorder, "select_events", "select_notifications", "max_notification_id")


class ViewPositionRecorder(PostgresTrackingRecorder):
    """The views' positions (eventsourcing's tracking records), with the same bounded retry as the log."""


_bound_retries(ViewPositionRecorder, "insert_tracking", "max_tracking_id", "has_tracking_id")
