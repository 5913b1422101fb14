"""Folds the log into the Merkle leaves of the transparency log: one leaf per
stored event, in log order, with a gap-free index (notification ids may skip).

With the leaves it stores the tree's interior as it grows: the hash of every complete
subtree of a kept level that a batch completes (domain/transparency/tree_nodes.py),
in the same transaction, so checkpoints and proofs never read every leaf. The tree's
right edge (a compact range, O(log n) hashes) is kept between batches; after another
process moved the view it is read back from the stored nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from adapters.merkle_nodes import MerkleNodeRow
from adapters.view_rows import LeafRow, ViewRow
from adapters.view_store import ViewStore
from domain.transparency.leaves import Leaf
from domain.transparency.merkle import leaf_hash
from domain.transparency.stored_tree import MissingNodes, read_subtrees
from domain.transparency.tree_nodes import CompactRange
from projections.follower import LoggedEvent


class LogLeavesView:
    name = "log_leaves"
    fold_cost = 14.0

    def __init__(self) -> None:
        self._edge: CompactRange | None = None  # the tree's right edge as of _at_position
        self._at_position: int | None = None

    def apply(self, store: ViewStore, batch: Sequence[LoggedEvent], previous: int, position: int) -> None:
        edge = self._edge if previous == self._at_position and self._edge is not None else None
        self._edge, self._at_position = None, None
        edge = (edge or _stored_edge(store)).copy()  # the cache moves on only once the batch commits
        rows: list[ViewRow] = []
        for logged in batch:
            stored = logged.stored
            originator_id = stored.originator_id
            assert isinstance(originator_id, UUID)  # the ledger's ids are UUIDs (eventsourcing allows str too)
            index = edge.size
            data = Leaf.of_stored_event(
                index,
                originator_id,
                stored.originator_version,
                stored.topic,
                logged.timestamp,
                stored.state,
            ).encode()
            hashed = leaf_hash(data)
            rows.append(
                LeafRow(
                    leaf_index=index,
                    notification_id=logged.notification_id,
                    originator_id=originator_id,
                    originator_version=stored.originator_version,
                    leaf_data=data,
                    leaf_hash=hashed,
                )
            )
            rows.extend(
                MerkleNodeRow(level=level, node_index=node_index, hash=value)
                for (level, node_index), value in edge.append([hashed])
            )
        store.commit(self.name, previous, position, appends=rows)
        self._edge, self._at_position = edge, position


def _stored_edge(store: ViewStore) -> CompactRange:
    """The right edge of the tree of the leaves stored now, from its stored nodes."""
    size = store.leaf_count()
    try:
        return CompactRange(size, read_subtrees(store, CompactRange.edge(size)))
    except MissingNodes as missing:
        # Emptied between the two reads (a rebuild started): refused like a batch the view moved past.
        raise IntegrityError(f"the log_leaves view changed while its tree was read: {missing}") from missing
