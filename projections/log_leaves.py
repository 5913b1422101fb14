"""Folds the log into the Merkle leaves of the transparency log: one leaf per
stored event, in log order, with a gap-free index (notification ids may skip)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from adapters.view_rows import LeafRow
from adapters.view_store import ViewStore
from domain.transparency.leaves import Leaf
from domain.transparency.merkle import leaf_hash
from projections.follower import LoggedEvent


class LogLeavesView:
    name = "log_leaves"

    def __init__(self) -> None:
        self._next_index: int | None = None
        self._at_position: int | None = None

    def apply(self, store: ViewStore, batch: Sequence[LoggedEvent], previous: int, position: int) -> None:
        index = self._next_index if previous == self._at_position else None
        self._at_position = None
        if index is None:
            index = store.leaf_count()
        rows = []
        for logged in batch:
            stored = logged.stored
            originator_id = stored.originator_id
            assert isinstance(originator_id, UUID)  # the ledger's ids are UUIDs (eventsourcing allows str too)
            data = Leaf.of_stored_event(
                index,
                originator_id,
                stored.originator_version,
                stored.topic,
                logged.event.timestamp,
                stored.state,
            ).encode()
            rows.append(
                LeafRow(
                    leaf_index=index,
                    notification_id=logged.notification_id,
                    originator_id=originator_id,
                    originator_version=stored.originator_version,
                    leaf_data=data,
                    leaf_hash=leaf_hash(data),
                )
            )
            index += 1
        store.commit(self.name, previous, position, appends=rows)
        self._next_index, self._at_position = index, position
