"""Reads of one statement keep what the connection prepared; a write of one statement commits alone.

psycopg forgets every statement it prepared on a connection when that connection rolls a
transaction back (and deallocates them on the server). The stores' reads used to run in a
transaction rolled back at the end, so a search was planned anew on every request (the tag
search's 20 branches: 3 ms of planning against 0.6 ms prepared). PostgreSQL only: SQLite
prepares nothing on the server.
"""

from __future__ import annotations

from contextlib import ExitStack
from uuid import uuid4

import psycopg
import pytest

from adapters.event_store import _database, open_view_store
from adapters.view_rows import AuditQuery, RecordingQuery
from domain.ledger import RecordingLedger
from projections.runner import Projections
from tests.support.calls import start_call
from tests.support.transactions import transaction_blocks


def prepared_statements(ledger: RecordingLedger) -> set[str]:
    """What the pool's sessions hold prepared, every session at once (each keeps its own)."""
    pool = _database(ledger).pool
    with ExitStack() as held:
        sessions = [held.enter_context(pool.connection()) for _ in range(pool.get_stats()["pool_size"])]
        return {
            row["statement"]
            for conn in sessions
            for row in conn.execute("SELECT statement FROM pg_prepared_statements")
        }


def test_a_read_repeated_is_prepared_once_and_stays_prepared(pg_ledger: RecordingLedger) -> None:
    store = open_view_store(pg_ledger)
    for _ in range(40):  # psycopg prepares a statement from its fifth run on a connection
        store.search(RecordingQuery(queue="billing", limit=10))
        store.audit(AuditQuery(actor="auditor-1", limit=10))
        store.position("recordings")  # eventsourcing's own prepared read, between ours
    prepared = prepared_statements(pg_ledger)
    assert any("FROM recordings" in statement for statement in prepared), prepared
    assert any("FROM audit_trail" in statement for statement in prepared), prepared
    assert any("tracking" in statement for statement in prepared), prepared


def test_a_prepared_read_still_runs_after_a_migration_adds_a_column(
    pg_ledger: RecordingLedger, postgres_url: str
) -> None:
    """A server keeps running while `callvault migrate` (another node's, say) adds a column to
    a view's table: its prepared reads name their columns, so the result keeps its shape."""
    store = open_view_store(pg_ledger)
    reads = [
        lambda: store.search(RecordingQuery(queue="billing", limit=10)),
        lambda: store.search(RecordingQuery(agent_ids=frozenset({"agent-1", "agent-2"}), limit=10)),
        lambda: store.audit(AuditQuery(actor="auditor-1", limit=10)),
        lambda: store.leaves_of(uuid4()),
    ]
    for _ in range(40):  # enough runs to be prepared on every pooled session
        for read in reads:
            read()
    assert sum(" FROM " in statement for statement in prepared_statements(pg_ledger)) >= len(reads)
    with psycopg.connect(postgres_url, autocommit=True) as owner:  # as the migrations connect
        for table in ("recordings", "audit_trail", "log_leaves"):
            owner.execute(f"ALTER TABLE {table} ADD COLUMN added_later integer")
    # Every session does something else first, as a busy server's would. (A session whose next
    # statement is the prepared read itself was seen to run it without the error.)
    assert prepared_statements(pg_ledger)
    for _ in range(40):
        for read in reads:
            assert read() == []


def test_a_view_that_takes_nothing_from_a_batch_moves_by_one_statement(
    pg_ledger: RecordingLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most views take nothing from a search's access record, and the views worker follows the
    log one request at a time: their positions move by a statement that commits alone, not by a
    transaction block of three round trips each."""
    projections = Projections(pg_ledger, open_view_store(pg_ledger))
    start_call(pg_ledger)
    projections.catch_up()
    start_call(pg_ledger, "int-2")
    datastore = _database(pg_ledger)
    blocks = transaction_blocks(monkeypatch, datastore)
    assert projections.catch_up(views=["evaluations", "directory"]) == 2
    head = pg_ledger.recorder.max_notification_id()
    assert projections.store.positions(["evaluations", "directory"]) == {"evaluations": head, "directory": head}
    assert blocks == []
    assert projections.catch_up(views=["recordings"]) == 1  # a row to write: in a transaction, as ever
    assert blocks == [True]
