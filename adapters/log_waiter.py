"""Waking a follower when the log grows: NOTIFY on PostgreSQL, polling elsewhere."""

from __future__ import annotations

import time
from typing import Protocol

import psycopg
from psycopg import sql

from adapters.event_store import EVENTS_TABLE
from adapters.pg_session import service_session
from adapters.settings import Settings

STOP_CHECK_SECONDS = 0.25


class StopSignal(Protocol):
    """A threading.Event, or a multiprocessing one when the follower runs in a process of its own."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class LogWaiter(Protocol):
    def wait(self, stop: StopSignal) -> None:
        """Returns when the log may have grown, the poll interval passed, or stop is set."""

    def close(self) -> None: ...


class PollingWaiter:
    def __init__(self, interval: float) -> None:
        self.interval = interval

    def wait(self, stop: StopSignal) -> None:
        stop.wait(self.interval)

    def close(self) -> None:
        pass


class NotifyWaiter:
    """LISTENs on the channel (named after the events table) that ``callvault_append()``
    NOTIFYs on every append (migrations/postgresql/0003); PostgreSQL delivers it when
    the appending transaction commits, so a follower woken by it finds the events.

    The poll interval stays as a fallback, so a lost connection only slows the
    follower down instead of stalling it.
    """

    def __init__(self, settings: Settings) -> None:
        self.interval = settings.projection_poll_seconds
        self._settings = settings
        self._conn: psycopg.Connection | None = None

    def _connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = service_session(self._settings)
            self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(EVENTS_TABLE)))
        return self._conn

    def wait(self, stop: StopSignal) -> None:
        deadline = time.monotonic() + self.interval
        try:
            conn = self._connect()
            # Short slices, so that a stop request is seen promptly.
            while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
                for _ in conn.notifies(timeout=min(remaining, STOP_CHECK_SECONDS), stop_after=1):
                    return
        except psycopg.Error:
            self.close()
            stop.wait(self.interval)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def log_waiter(settings: Settings) -> LogWaiter:
    if settings.uses_postgres:
        return NotifyWaiter(settings)
    return PollingWaiter(settings.projection_poll_seconds)
