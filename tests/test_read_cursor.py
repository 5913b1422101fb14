"""Reads of one statement keep what the connection prepared.

psycopg forgets every statement it prepared on a connection when that connection rolls a
transaction back (and deallocates them on the server). The stores' reads used to run in a
transaction rolled back at the end, so a search was planned anew on every request (the tag
search's 20 branches: 3 ms of planning against 0.6 ms prepared). PostgreSQL only: SQLite
prepares nothing on the server.
"""

from __future__ import annotations

from contextlib import ExitStack

from adapters.event_store import _database, open_view_store
from adapters.view_rows import AuditQuery, RecordingQuery
from domain.ledger import RecordingLedger


def test_a_read_repeated_is_prepared_once_and_stays_prepared(pg_ledger: RecordingLedger) -> None:
    store = open_view_store(pg_ledger)
    for _ in range(30):  # psycopg prepares a statement from its fifth run on a connection
        store.search(RecordingQuery(queue="billing", limit=10))
        store.audit(AuditQuery(actor="auditor-1", limit=10))
        store.position("recordings")  # eventsourcing's own prepared read, between ours
    pool = _database(pg_ledger).pool
    with ExitStack() as held:  # every pooled session at once: each keeps its own prepared statements
        sessions = [held.enter_context(pool.connection()) for _ in range(pool.get_stats()["pool_size"])]
        prepared = {
            row["statement"]
            for conn in sessions
            for row in conn.execute("SELECT statement FROM pg_prepared_statements")
        }
    assert any("FROM recordings" in statement for statement in prepared), prepared
    assert any("FROM audit_trail" in statement for statement in prepared), prepared
    assert any("tracking" in statement for statement in prepared), prepared
