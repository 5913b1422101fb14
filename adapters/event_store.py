"""Wires the ledger to its event store: SQLite by default, PostgreSQL when configured.

Tables come from migrations (``callvault migrate``), never from the recorders,
so CREATE_TABLE is off: the append-only protections must exist before the
first event does. On PostgreSQL, appends call the migrations' append function,
which also serializes commits so notification order equals commit order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory, PostgresTrackingRecorder
from eventsourcing.utils import get_topic, retry
from psycopg.conninfo import conninfo_to_dict

from adapters.checkpoint_store import CheckpointStore
from adapters.event_codec import MsgspecMapper
from adapters.group_commit import GroupCommitLedger
from adapters.media_store import MediaStore
from adapters.settings import Settings
from adapters.sql_dialect import PostgresDialect, SQLiteDialect
from adapters.view_store import ViewStore
from domain.ledger import RecordingLedger


EVENTS_TABLE = "stored_events"
TRACKING_TABLE = "tracking"


class AppendFunctionRecorder(PostgresApplicationRecorder):
    """Appends through callvault_append() from the migrations: one round trip per
    transaction, events sent as binary arrays, commit order kept by the function."""

    APPEND = "SELECT n AS notification_id FROM callvault_append(%b, %b, %b, %b) AS n"

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self.APPEND, columns, prepare=True)
            return [row["notification_id"] for row in cursor.fetchall()]


class ServiceRoleFactory(PostgresFactory):
    """PostgreSQL factory whose connections act as the least-privileged service role."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        role = self.env.get("CALLVAULT_DATABASE_ROLE")
        if role:
            # Applied by the server at connection start, before any statement runs.
            self.datastore.pool.kwargs["options"] = f"-c role={role}"

    def application_recorder(self) -> AppendFunctionRecorder:
        # One log table name on both engines, as created by the migrations.
        return AppendFunctionRecorder(datastore=self.datastore, events_table_name=EVENTS_TABLE)

    def tracking_recorder(self, tracking_recorder_class: Any = None) -> PostgresTrackingRecorder:
        return PostgresTrackingRecorder(datastore=self.datastore, tracking_table_name=TRACKING_TABLE)


def ledger_env(settings: Settings) -> dict[str, str]:
    env = {
        "MAPPER_TOPIC": get_topic(MsgspecMapper),
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
        )
    else:
        settings.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(settings.sqlite_file),
            SQLITE_LOCK_TIMEOUT="30",
        )
    return env


def open_ledger(settings: Settings, *, group_commit: bool | None = None) -> RecordingLedger:
    """The ledger; with group commit for servers whose many clients write at once.

    A single-threaded writer (the CLI) gains nothing from group commit and pays a
    thread hand-off per command, so it asks for the plain ledger.
    """
    use_group_commit = settings.group_commit if group_commit is None else group_commit
    ledger_class = GroupCommitLedger if use_group_commit else RecordingLedger
    return ledger_class(env=ledger_env(settings))


def _dialect(ledger: RecordingLedger) -> PostgresDialect | SQLiteDialect:
    return PostgresDialect() if isinstance(ledger.factory, PostgresFactory) else SQLiteDialect()


def open_view_store(ledger: RecordingLedger) -> ViewStore:
    """The views live in the ledger's database, so a batch and its position commit together."""
    return ViewStore(ledger.factory.tracking_recorder(), _dialect(ledger))


def open_checkpoint_store(ledger: RecordingLedger, settings: Settings) -> CheckpointStore:
    mirror = MediaStore(settings.checkpoint_mirror_url) if settings.checkpoint_mirror_url else None
    return CheckpointStore(ledger.factory.datastore, _dialect(ledger), mirror)
