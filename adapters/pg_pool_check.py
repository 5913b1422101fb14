"""The pool's check of a PostgreSQL connection before handing it out, with no round trip
while the connection is sound.

A connection the server has dropped (a restart, a shutdown, ``pg_terminate_backend``)
must not be handed out: the statement sent on it would fail. psycopg_pool's own check
sends an empty query at every checkout. That is a round trip each time, and a request
checks out several connections (query holds, the page, the keys, the access record).
The views worker checks out more, and there the ping was a fifth of its time.

A server that ends a session says so: it sends its FATAL error and closes the socket,
so the socket turns readable. Nothing else arrives on an idle pooled connection:
callvault LISTENs only on sessions of its own, outside the pools. So only a
connection whose socket is readable, or that psycopg already knows is broken, gets
the full check. A connection cut without a word (a network split) passes both
checks alike; the statement then fails, and ``retry_lost_connection`` takes it
again on a fresh connection.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool


class PooledConnectionCheck:
    """The check a pool runs on each connection it hands out; raises if the connection is broken."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool

    def __call__(self, conn: psycopg.Connection[Any]) -> None:
        if _sound(conn):
            return
        # What dropped this connection (a restart) dropped the others too. The pool waits a
        # second after handing out a broken one, and twice as long after the next: one by one,
        # a pool of dead connections would spend the caller's whole wait. Checked together
        # now, they are replaced together, and the caller waits that second once.
        self._pool.check()
        raise psycopg.OperationalError("the server closed the pooled connection")


def _sound(conn: psycopg.Connection[Any]) -> bool:
    if conn.closed or conn.pgconn.status != pq.ConnStatus.OK:
        return False
    # poll, not select: select cannot watch descriptors numbered 1024 or above.
    readable = select.poll()
    readable.register(conn.pgconn.socket, select.POLLIN)
    if not readable.poll(0):
        return True
    try:
        ConnectionPool.check_connection(conn)  # the empty query
    except psycopg.Error:
        return False
    return True
