"""What a /metrics scrape reads of the store: events by kind, missing segments, the latest checkpoint."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from datetime import UTC, datetime
from typing import Any

from adapters.event_codec import event_class_of
from adapters.event_store import EVENTS_TABLE, _database, _dialect
from adapters.read_cursor import read_cursor
from domain.ledger import RecordingLedger

# How far one scrape reads the log past what it counted: a server that starts beside a
# long log counts it over its first scrapes instead of timing one out.
COUNT_STEP = 1_000_000


class MetricReads:
    """The store's figures a scrape reads: events by kind, missing segments, the latest checkpoint."""

    def __init__(self, ledger: RecordingLedger) -> None:
        self._datastore: Any = _database(ledger)
        self._dialect = _dialect(ledger)
        self._counted_to = 0  # the log position the tallies below reach
        self._topics: Tally[str] = Tally()
        self._counting = threading.Lock()  # two scrapes at once must not count a window twice

    def events_by_topic(self) -> dict[str, int]:
        """Every event in the log (whoever appended it), by topic: counted on from the last
        scrape, which is exact because the log commits in position order on both engines."""
        with self._counting:
            at = "notification_id" if self._dialect.name == "postgresql" else "rowid"  # SQLite's log position
            rows = self._fetch(
                f"SELECT topic, COUNT(*) AS n, MAX({at}) AS last FROM {EVENTS_TABLE} "
                f"WHERE {at} > ? AND {at} <= ? GROUP BY topic",
                [self._counted_to, self._counted_to + COUNT_STEP],
            )
            for row in rows:
                self._topics[row["topic"]] += row["n"]
            self._counted_to = max([self._counted_to, *(row["last"] for row in rows)])
            return dict(self._topics)

    def missing_segments(self) -> tuple[int, int]:
        """Recordings the search view shows with segments missing, and how many are missing
        (a partial index holds only those recordings)."""
        (row,) = self._fetch(
            "SELECT COUNT(*) AS recordings, COALESCE(SUM(missing_count), 0) AS segments "
            "FROM recordings WHERE missing_count > 0",
            [],
        )
        return int(row["recordings"]), int(row["segments"])

    def latest_checkpoint(self) -> tuple[int, datetime] | None:
        """The latest signed checkpoint's tree size and when it was signed."""
        rows = self._fetch("SELECT tree_size, signed_at FROM checkpoints ORDER BY tree_size DESC LIMIT 1", [])
        if not rows:
            return None
        signed_at = rows[0]["signed_at"]
        signed_at = signed_at if isinstance(signed_at, datetime) else datetime.fromisoformat(signed_at)
        return int(rows[0]["tree_size"]), signed_at if signed_at.tzinfo else signed_at.replace(tzinfo=UTC)

    def _fetch(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with read_cursor(self._datastore) as cursor:
            cursor.execute(self._dialect.sql(sql), params)
            return [dict(row) for row in cursor.fetchall()]


def aggregate_of(topic: str) -> str:
    """The aggregate kind of a stored topic, as domain.ledger.aggregate_kind names it."""
    return event_class_of(topic).__qualname__.partition(".")[0]
