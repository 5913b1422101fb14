"""Wires the ledger to its event store: SQLite by default, PostgreSQL when configured.

Tables come from migrations (``callvault migrate``), never from the recorders,
so CREATE_TABLE is off: the append-only protections must exist before the
first event does. On PostgreSQL, appends call the migrations' append function,
which also serializes commits so notification order equals commit order.
Both engines' factories build a mapper that seals personal fields with keys
from the key store in the same database.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any
from uuid import UUID

import psycopg
import structlog
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import EventStore, Mapper, Notification, OperationalError, Recording, Transcoder
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.sqlite import SQLiteDatastore, SQLiteFactory
from eventsourcing.utils import get_topic
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row

from adapters.checkpoint_store import CheckpointStore
from adapters.event_codec import MsgspecMapper
from adapters.field_cipher import FieldCipher
from adapters.group_commit import GroupCommitter
from adapters.job_claims import JobClaims
from adapters.key_store import KeysChanged, KeyStore, SealingKeys
from adapters.master_key import load_master_key
from adapters.media_store import MediaStore
from adapters.pg_pool_check import PooledConnectionCheck
from adapters.postgres_recorders import AppendFunctionRecorder, ViewPositionRecorder, retry_lost_connection
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
CONNECT_TIMEOUT_ENV = "CALLVAULT_DATABASE_CONNECT_TIMEOUT"
POOL_TIMEOUT_ENV = "CALLVAULT_DATABASE_POOL_TIMEOUT"


class SealingEventStore(EventStore[Any]):
    """Makes the keys of a save's new recordings together, before its events are sealed, and
    stores them with the events where the recorder can (PostgreSQL: one statement, one commit)."""

    def put(self, domain_events: Sequence[DomainEventProtocol[Any]], **kwargs: Any) -> list[Recording[Any]]:
        assert isinstance(self.mapper, MsgspecMapper) and self.mapper.fields is not None
        try:
            return self._put(domain_events, self.mapper.fields.prepare(domain_events), kwargs)
        except KeysChanged:
            # Between reading a customer's key and storing: a concurrent start made the same new
            # customer's key first, or an erasure destroyed it. Nothing was stored; the keys are
            # made (or found) in their own commit this time, and the events sealed again with them.
            log.info("keys changed while sealing a save; sealing again", events=len(domain_events))
            return self._put(domain_events, self.mapper.fields.prepare(domain_events, store_keys_first=True), kwargs)

    def _put(
        self, domain_events: Sequence[DomainEventProtocol[Any]], sealing: SealingKeys, kwargs: dict[str, Any]
    ) -> list[Recording[Any]]:
        """EventStore.put, sealing with the keys given, which the recorder stores if not stored yet."""
        assert isinstance(self.mapper, MsgspecMapper) and self.mapper.fields is not None
        stored_events = [self.mapper.to_stored_event(event, sealing) for event in domain_events]
        if sealing.unstored is not None:
            kwargs = {**kwargs, "new_keys": sealing.unstored}
        notification_ids = self.recorder.insert_events(stored_events, **kwargs)
        self.mapper.fields.key_store.stored(sealing)
        if not notification_ids:  # a recorder without notification ids, as EventStore.put allows
            return []
        return [
            Recording(
                event,
                Notification(
                    originator_id=stored.originator_id,
                    originator_version=stored.originator_version,
                    topic=stored.topic,
                    state=stored.state,
                    id=notification_id,
                ),
            )
            for event, stored, notification_id in zip(domain_events, stored_events, notification_ids, strict=True)
        ]


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
        # Every pooled connection is checked as it is handed out, so one the server dropped
        # (a restart) is replaced before a statement is lost on it; the check sends a query
        # only when the socket shows the server left. psycopg_pool takes the check only as a
        # constructor argument, and eventsourcing offers none but its pre-ping.
        pool._check = PooledConnectionCheck(pool)  # noqa: SLF001

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


# One stored event as the views read it: notification id, originator id and version, topic, state.
StoredRow = tuple[int, UUID, int, str, bytes]
LOG_PAGE = (
    f"SELECT notification_id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
    "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
)


def read_stored_rows(ledger: RecordingLedger, after: int, limit: int) -> list[StoredRow]:
    """Up to ``limit`` stored events past notification ``after``, in log order, undecoded.

    The views' catch-ups read the whole log. On PostgreSQL the page comes as binary
    tuples: eventsourcing's select_notifications builds a dict and a Notification
    per row, which cost as much as the query itself.
    """
    datastore = _database(ledger)
    if isinstance(datastore, PostgresDatastore):
        return _postgres_page(datastore, after, limit)
    notifications = ledger.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
    return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notifications]  # type: ignore[misc]


@retry_lost_connection
def _postgres_page(datastore: PostgresDatastore, after: int, limit: int) -> list[StoredRow]:
    with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as cursor:
        cursor.execute(LOG_PAGE, [after, limit], prepare=True)
        return cursor.fetchall()


RECORDING_EVENTS = (
    f"SELECT notification_id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
    "WHERE originator_id = %s AND notification_id > %s AND notification_id <= %s AND topic = ANY(%s) "
    "ORDER BY notification_id"
)
# eventsourcing's SQLite table has no notification_id column: the rowid is the position.
SQLITE_RECORDING_EVENTS = (
    f"SELECT rowid, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
    "WHERE originator_id = ? AND rowid > ? AND rowid <= ? AND topic IN ({}) ORDER BY rowid"
)


def read_recording_rows(
    ledger: RecordingLedger, recording_id: UUID, after: int, upto: int, topics: Sequence[str]
) -> list[StoredRow]:
    """One aggregate's stored events of the given topics in positions (after, upto], in log
    order, undecoded: one query on the primary key's index (originator id first)."""
    datastore = _database(ledger)
    if isinstance(datastore, PostgresDatastore):
        return _postgres_recording_rows(datastore, recording_id, after, upto, list(topics))
    statement = SQLITE_RECORDING_EVENTS.format(", ".join("?" * len(topics)))
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, [recording_id.hex, after, upto, *topics])
        return [(row[0], UUID(row[1]), row[2], row[3], row[4]) for row in cursor.fetchall()]


@retry_lost_connection
def _postgres_recording_rows(
    datastore: PostgresDatastore, recording_id: UUID, after: int, upto: int, topics: list[str]
) -> list[StoredRow]:
    with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as cursor:
        cursor.execute(RECORDING_EVENTS, [recording_id, after, upto, topics], prepare=True)
        return cursor.fetchall()


def open_checkpoint_store(ledger: RecordingLedger, settings: Settings) -> CheckpointStore:
    mirror = MediaStore(settings.checkpoint_mirror_url) if settings.checkpoint_mirror_url else None
    return CheckpointStore(_database(ledger), _dialect(ledger), mirror)


def open_job_claims(ledger: RecordingLedger) -> JobClaims:
    return JobClaims(_database(ledger), _dialect(ledger))


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
