"""Who runs a scheduled job's due time: the first server to claim it (table scheduled_runs,
migration 0015). A claim and the pruning of old claims commit together."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from adapters.read_cursor import read_cursor
from adapters.sql_dialect import Dialect

KEPT_FOR = timedelta(days=7)


class JobClaims:
    def __init__(self, datastore: Any, dialect: Dialect) -> None:
        self._datastore = datastore
        self._dialect = dialect

    def claim(self, job: str, due_at: datetime, node: str, now: datetime) -> bool:
        """True if this node is the first to claim the job's due time (and so runs it)."""
        value = self._dialect.value
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._dialect.sql(
                    "INSERT INTO scheduled_runs (job, due_at, node, claimed_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (job, due_at) DO NOTHING RETURNING job"
                ),
                [job, value(due_at), node, value(now)],
            )
            claimed = cursor.fetchone() is not None
            if claimed:
                cursor.execute(
                    self._dialect.sql("DELETE FROM scheduled_runs WHERE job = ? AND due_at < ?"),
                    [job, value(due_at - KEPT_FOR)],
                )
        return claimed

    def runs(self, job: str) -> list[tuple[datetime | str, str]]:
        """The due times claimed for a job, oldest first, with the node that claimed each."""
        with read_cursor(self._datastore) as cursor:
            cursor.execute(
                self._dialect.sql("SELECT due_at, node FROM scheduled_runs WHERE job = ? ORDER BY due_at"), [job]
            )
            return [(row["due_at"], row["node"]) for row in cursor.fetchall()]
