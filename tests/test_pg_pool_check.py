"""The PostgreSQL pool's check at checkout: a connection the server dropped is never handed
out, and a sound one is handed out without a round trip.

PostgreSQL only: SQLite has no server to drop a connection, and its pool checks nothing.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from adapters.event_store import _database
from domain.ledger import RecordingLedger


def _backends(admin: psycopg.Connection, ledger: RecordingLedger) -> dict[int, datetime]:
    """The ledger's pooled connections (every backend of its database but the admin's): when
    each last changed state. A query on one, even an empty one, changes it."""
    pool = _database(ledger).pool
    pool.wait()  # the pool has opened what it keeps
    with pool.connection() as conn:
        database = conn.info.dbname
    rows = admin.execute(
        "SELECT pid, state_change FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
    ).fetchall()
    return dict(rows)


def test_a_connection_the_server_dropped_is_replaced_before_a_statement_is_sent(
    pg_ledger: RecordingLedger, postgres_admin: str
) -> None:
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        dropped = list(_backends(admin, pg_ledger))
        # As a restart does to every connection; waits until each backend is gone.
        admin.execute("SELECT pg_terminate_backend(pid, 5000) FROM unnest(%s::int[]) AS pid", [dropped])
        gone = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [dropped]).fetchone()
        assert dropped and gone == (0,)

    # get_connection has no retry of its own: a dead connection handed out fails here, and
    # so does a pool that spends its whole wait (3 s) backing off from one dead one to the next.
    for _ in dropped:
        with _database(pg_ledger).get_connection() as conn:
            assert conn.info.backend_pid not in dropped
            assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}


def test_a_sound_connection_is_handed_out_without_a_query(pg_ledger: RecordingLedger, postgres_admin: str) -> None:
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        before = _backends(admin, pg_ledger)
        for _ in range(2 * len(before)):
            with _database(pg_ledger).get_connection() as conn:
                pid = conn.info.backend_pid
                # A check that pinged would have moved the backend to active and back.
                assert _backends(admin, pg_ledger)[pid] == before[pid]
