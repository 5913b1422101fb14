"""Wires the ledger to its event store: SQLite by default, PostgreSQL when configured.

Tables come from migrations (``callvault migrate``), never from the recorders,
so CREATE_TABLE is off: the append-only protections must exist before the
first event does. On PostgreSQL, appends call the migrations' append function,
which also serializes commits so notification order equals commit order.
Both engines' factories build a mapper that seals personal fields with keys
from the key store in the same database.
"""

from __future__ import annotations

import inspect
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import cached_property, wraps
from typing import Any

import psycopg
import structlog
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    InterfaceError,
    Mapper,
    OperationalError,
    Recording,
    StoredEvent,
    Transcoder,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresTrackingRecorder,
)
from eventsourcing.sqlite import SQLiteDatastore, SQLiteFactory
from eventsourcing.utils import get_topic
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

from adapters.checkpoint_store import CheckpointStore
from adapters.event_codec import MsgspecMapper
from adapters.field_cipher import FieldCipher
from adapters.group_commit import GroupCommitter
from adapters.key_store import KeyStore, load_master_key
from adapters.media_store import MediaStore
from adapters.settings import Settings
from adapters.sql_dialect import PostgresDialect, SQLiteDialect
from adapters.view_store import ViewStore
from domain.committer import DirectCommitter
from domain.ledger import RecordingLedger

log = structlog.get_logger(__name__)

EVENTS_TABLE = "stored_events"
TRACKING_TABLE = "tracking"
# Seconds a SQLite statement waits for another connection's lock (the busy timeout).
SQLITE_LOCK_TIMEOUT = 30
# Attempts of a PostgreSQL call whose connection was lost under it (each on a fresh one).
LOST_CONNECTION_ATTEMPTS = 3
CONNECT_TIMEOUT_ENV = "CALLVAULT_DATABASE_CONNECT_TIMEOUT"
POOL_TIMEOUT_ENV = "CALLVAULT_DATABASE_POOL_TIMEOUT"


class SealingEventStore(EventStore[Any]):
    """Makes the keys of the new recordings in one save together, before its events are sealed."""

    def put(self, domain_events: Sequence[DomainEventProtocol[Any]], **kwargs: Any) -> list[Recording[Any]]:
        assert isinstance(self.mapper, MsgspecMapper) and self.mapper.fields is not None
        self.mapper.fields.prepare(domain_events)
        return super().put(domain_events, **kwargs)


class SealingMapperFactory:
    """Mixin for an infrastructure factory: its mapper is the msgspec mapper with a
    field cipher, whose key store shares the factory's database connections, and
    its event store makes the keys of a whole batch of new recordings at once.

    eventsourcing builds the mapper from the factory (Application.construct_mapper
    calls factory.mapper), so every ledger built on these factories seals fields.
    """

    datastore: Any
    env: Any

    def mapper(self, transcoder: Transcoder | None = None, mapper_class: Any = None) -> Mapper[Any]:
        return MsgspecMapper(
            transcoder=transcoder or self.transcoder(),  # type: ignore[attr-defined]
            compressor=self.compressor(),  # type: ignore[attr-defined]
            cipher=self.cipher(),  # type: ignore[attr-defined]
            fields=FieldCipher(self.key_store),
        )

    def event_store(self, mapper: Mapper[Any] | None = None, recorder: Any = None) -> EventStore[Any]:
        return SealingEventStore(mapper=mapper or self.mapper(), recorder=recorder or self.application_recorder())  # type: ignore[attr-defined]

    @cached_property
    def key_store(self) -> KeyStore:
        """One per factory, so a destroy through it evicts the keys its mapper cached."""
        dialect = PostgresDialect() if isinstance(self, PostgresFactory) else SQLiteDialect()
        return KeyStore(self.datastore, dialect)  # unlocked by open_ledger


class SealingSQLiteFactory(SealingMapperFactory, SQLiteFactory):
    """Puts the database file into WAL mode once, before its pool opens a connection.

    eventsourcing's pool runs ``PRAGMA journal_mode=WAL`` on the first connection
    each pool opens, and every ledger (and every process) has its own pool. The
    switch holds a shared lock and needs an exclusive one; if another connection
    holds the reserved lock meanwhile (another pool switching, or writing), waiting
    could deadlock, so SQLite answers "database is locked" at once, without the
    busy timeout, and that pool's caller fails. WAL is a property of the file:
    it is set here once, retried past that refusal, and the pool is told so.
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        if not pool.is_sqlite_memory_mode:
            use_wal(pool.db_name, timeout=float(pool.lock_timeout or SQLITE_LOCK_TIMEOUT))
            pool.is_journal_mode_wal = True


def use_wal(db_name: str, *, timeout: float) -> None:
    """Sets the file's journal mode to WAL (persistent), retrying the immediate SQLITE_BUSY.

    Only a database not yet in WAL mode can meet that refusal (from another
    process switching it at the same moment); afterwards this is a no-op read.
    """
    deadline = time.monotonic() + timeout
    conn = sqlite3.connect(db_name, uri=True, timeout=timeout, isolation_level=None)
    try:
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
    finally:
        conn.close()
    if mode.lower() != "wal":
        raise OperationalError(f"{db_name}: journal mode stays {mode!r}; concurrent writers need WAL")


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
    STORED = (
        "SELECT originator_id, originator_version, state, notification_id FROM stored_events "
        "WHERE (originator_id, originator_version) IN (SELECT * FROM unnest(%b::uuid[], %b::bigint[]))"
    )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Appends the events; if the connection is lost meanwhile, finds out whether they committed.

        A lost connection leaves the outcome unknown. The log is asked (on a fresh
        connection) for these exact stored bytes: found, the append committed and
        its notification ids are returned; absent, it is sent again. So a commit
        is never lost and never doubled, whatever the command was.
        """
        if not stored_events:
            return []
        for attempt in range(1, LOST_CONNECTION_ATTEMPTS + 1):
            try:
                return self._append(stored_events)
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

    def _append(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self.APPEND, columns, prepare=True)
            return [row["notification_id"] for row in cursor.fetchall()]

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


class ServiceRoleFactory(SealingMapperFactory, PostgresFactory):
    """PostgreSQL factory whose connections act as the least-privileged service role,
    with bounded waits: a new connection gives up after the connect timeout, and a
    caller waits for a pooled one at most the pool timeout (then the API answers 503)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        role = self.env.get("CALLVAULT_DATABASE_ROLE")
        if role:
            # Applied by the server at connection start, before any statement runs.
            pool.kwargs["options"] = f"-c role={role}"
        pool.kwargs["connect_timeout"] = int(self.env.get(CONNECT_TIMEOUT_ENV))
        # eventsourcing takes only whole seconds (POSTGRES_CONNECT_TIMEOUT) for this.
        pool.timeout = float(self.env.get(POOL_TIMEOUT_ENV))
        # The pool retries a failed connect with doubling delays for minutes, so after an
        # outage it came back only at its next attempt. Given up this soon instead, the
        # next caller that waits starts a fresh attempt at once: recovery within a request.
        pool.reconnect_timeout = pool.timeout

    def application_recorder(self) -> AppendFunctionRecorder:
        # One log table name on both engines, as created by the migrations.
        return AppendFunctionRecorder(datastore=self.datastore, events_table_name=EVENTS_TABLE)

    # Not the library's generic signature: the views' positions always live in our own
    # table with our retries, so a requested class is not honoured (and no caller asks for one).
    def tracking_recorder(self, tracking_recorder_class: Any = None) -> ViewPositionRecorder:  # type: ignore[override]
        return ViewPositionRecorder(datastore=self.datastore, tracking_table_name=TRACKING_TABLE)


def ledger_env(settings: Settings) -> dict[str, str]:
    env = {
        "CREATE_TABLE": "no",
    }
    if settings.uses_postgres:
        assert settings.database_url is not None
        conn = conninfo_to_dict(settings.database_url)
        env.update(
            PERSISTENCE_MODULE=get_topic(ServiceRoleFactory),
            POSTGRES_DBNAME=str(conn.get("dbname", "")),
            POSTGRES_HOST=str(conn.get("host", "127.0.0.1")),
            POSTGRES_PORT=str(conn.get("port", "5432")),
            POSTGRES_USER=str(conn.get("user", "")),
            POSTGRES_PASSWORD=str(conn.get("password", "")),
            POSTGRES_POOL_SIZE=str(settings.database_pool_size),
            POSTGRES_MAX_OVERFLOW=str(settings.database_pool_size),
            POSTGRES_LOCK_TIMEOUT="10",
            # Every pooled connection is checked as it is handed out, so one the server
            # dropped (a restart) is replaced by a fresh one before a statement is lost on it.
            POSTGRES_PRE_PING="y",
            CALLVAULT_DATABASE_ROLE=settings.database_role,
            **{
                CONNECT_TIMEOUT_ENV: str(settings.database_connect_timeout_seconds),
                POOL_TIMEOUT_ENV: str(settings.database_pool_timeout_seconds),
            },
        )
    else:
        settings.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE=get_topic(SealingSQLiteFactory),
            SQLITE_DBNAME=str(settings.sqlite_file),
            SQLITE_LOCK_TIMEOUT=str(SQLITE_LOCK_TIMEOUT),
        )
    return env


def open_ledger(
    settings: Settings, *, group_commit: bool | None = None, master_key: bytes | None = None
) -> RecordingLedger:
    """The ledger; with group commit for servers whose many clients write at once.

    A single-threaded writer (the CLI) gains nothing from group commit and pays a
    thread hand-off per command, so it asks for the direct committer. The master key
    (loaded from the settings unless given) goes straight to the key store.
    """
    use_group_commit = settings.group_commit if group_commit is None else group_commit
    committer = GroupCommitter if use_group_commit else DirectCommitter
    ledger = RecordingLedger(env=ledger_env(settings), committer=committer)
    key_store_of(ledger).unlock(master_key if master_key is not None else load_master_key(settings))
    # Blind indexes keyed by the key store: the customer key's id is the customer's index.
    ledger.blind_index = key_store_of(ledger).customer_ref_of
    return ledger


def key_store_of(ledger: RecordingLedger) -> KeyStore:
    """The key store whose keys the ledger's mapper seals with: destroy keys through it."""
    return ledger.factory.key_store  # type: ignore[attr-defined, no-any-return]


def _dialect(ledger: RecordingLedger) -> PostgresDialect | SQLiteDialect:
    return PostgresDialect() if isinstance(ledger.factory, PostgresFactory) else SQLiteDialect()


def open_view_store(ledger: RecordingLedger) -> ViewStore:
    """The views live in the ledger's database, so a batch and its position commit together."""
    return ViewStore(ledger.factory.tracking_recorder(), _dialect(ledger))


def _database(ledger: RecordingLedger) -> PostgresDatastore | SQLiteDatastore:
    """The database of the ledger's factory (one of those above, as ledger_env chose)."""
    factory = ledger.factory
    assert isinstance(factory, PostgresFactory | SQLiteFactory), f"{type(factory).__name__} keeps no database"
    return factory.datastore


def open_checkpoint_store(ledger: RecordingLedger, settings: Settings) -> CheckpointStore:
    mirror = MediaStore(settings.checkpoint_mirror_url) if settings.checkpoint_mirror_url else None
    return CheckpointStore(_database(ledger), _dialect(ledger), mirror)


def check_store(ledger: RecordingLedger, timeout: float) -> None:
    """Raises OperationalError unless the store answers a trivial query within about ``timeout`` seconds.

    For readiness: during an outage it must say so at once, not after the
    retries and pool waits that ordinary calls are allowed.
    """
    datastore = _database(ledger)
    if isinstance(datastore, SQLiteDatastore):
        with datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT 1")
        return
    try:
        datastore.pool.open()
        with datastore.pool.connection(timeout=timeout) as conn, conn.transaction():
            conn.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        raise OperationalError(f"the database did not answer within {timeout:g} s: {error}") from error
