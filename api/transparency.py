"""The transparency log: signed checkpoints over the Merkle leaves, and the proofs
that let anyone check an event against them without trusting this server."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from adapters.checkpoint_store import CheckpointStore
from adapters.note_signing import NoteSigner
from adapters.view_store import ViewStore
from domain.checkpoint import Checkpoint
from domain.errors import NotFound
from domain.ledger import RecordingLedger
from domain.log_leaf import Leaf
from domain.merkle import MerkleTree, consistency_proof, root_from_leaf_hashes


@dataclass(frozen=True)
class EventProof:
    """One stored event, its leaf as recomputed from the bytes stored now, and its path."""

    leaf_index: int
    leaf: bytes
    state: bytes
    topic: str
    originator_id: UUID
    originator_version: int
    tree_size: int
    proof: list[bytes]

    def as_json(self) -> dict[str, object]:
        return {
            "leaf_index": self.leaf_index,
            "leaf": base64.b64encode(self.leaf).decode(),
            "state": base64.b64encode(self.state).decode(),
            "topic": self.topic,
            "originator_id": str(self.originator_id),
            "originator_version": self.originator_version,
            "inclusion_proof": [h.hex() for h in self.proof],
        }


class TransparencyLog:
    def __init__(
        self, ledger: RecordingLedger, views: ViewStore, checkpoints: CheckpointStore, signer: NoteSigner,
        origin: str, catch_up: Callable[[], object],
    ) -> None:
        self.ledger = ledger
        self.views = views
        self.checkpoints = checkpoints
        self.signer = signer
        self.origin = origin
        self._catch_up = catch_up

    @property
    def public_key(self) -> str:
        return self.signer.verifier_text

    def sign_checkpoint(self) -> tuple[int, bytes]:
        """Signs the current tree head if the log grew since the last one; returns the latest."""
        self._catch_up()
        size = self.views.leaf_count()
        latest = self.checkpoints.latest()
        if latest is not None and latest[0] >= size:
            return latest
        root = root_from_leaf_hashes(self.views.leaf_hashes(size))
        note = self.signer.sign_checkpoint(Checkpoint(self.origin, size, root))
        self.checkpoints.add(size, root, note, datetime.now(UTC))
        return size, note

    def checkpoint(self, size: int | None = None) -> tuple[int, bytes]:
        found = self.checkpoints.latest() if size is None else (
            (size, note) if (note := self.checkpoints.at(size)) is not None else None
        )
        if found is None:
            raise NotFound("no signed checkpoint" + (f" of size {size}" if size is not None else " yet"))
        return found

    def event_proofs(self, recording_id: UUID, tree_size: int) -> list[EventProof]:
        """Every event of a recording that the tree of ``tree_size`` holds, with its inclusion proof.

        The leaf is rebuilt from the stored bytes as they are now: an event edited
        behind the log's back yields a leaf whose proof no longer meets a root
        signed before the edit.
        """
        tree = MerkleTree(self.views.leaf_hashes(tree_size))
        stored = {e.originator_version: e for e in self.ledger.recorder.select_events(recording_id)}
        proofs = []
        for row in self.views.leaves_of(recording_id):
            if row.leaf_index >= tree_size:
                continue
            event = stored[row.originator_version]
            recorded = Leaf.decode(row.leaf_data)
            leaf = Leaf(recorded.index, recorded.originator_id, recorded.originator_version, recorded.topic,
                        recorded.recorded_at, hashlib.sha256(event.state).digest()).encode()
            proofs.append(EventProof(row.leaf_index, leaf, event.state, event.topic, recording_id,
                                     row.originator_version, tree_size, tree.inclusion_proof(row.leaf_index)))
        if not proofs:
            raise NotFound(f"no logged events of {recording_id} in a tree of size {tree_size}")
        return proofs

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        if not 0 <= old_size <= new_size:
            raise NotFound(f"no consistency proof from size {old_size} to {new_size}")
        hashes = self.views.leaf_hashes(new_size)
        if len(hashes) < new_size:
            raise NotFound(f"the log holds fewer than {new_size} leaves")
        return consistency_proof(old_size, hashes)
