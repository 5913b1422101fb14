"""The transparency log: signed checkpoints over the Merkle leaves, the proofs that let
anyone check an event against them without trusting this server, and the self-audit
that watches the stored events still match both (alarm: log_alarm.py)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from adapters.checkpoint_store import CheckpointStore
from adapters.note_signing import NoteSigner
from adapters.view_rows import LeafRow
from adapters.view_store import ViewStore
from api.services.log_alarm import LogAlarm, events_differ, root_differs
from domain.errors import LogTampered, NotFound
from domain.ledger import RecordingLedger
from domain.transparency.bundle_format import EventLine
from domain.transparency.checkpoints import Checkpoint, checkpoint_of_note
from domain.transparency.leaves import Leaf, LeafError
from domain.transparency.merkle import leaf_hash
from domain.transparency.stored_tree import MissingNodes, StoredTree
from domain.transparency.tree_nodes import Node, completed_in, hash_up, kept_children

# Leaves whose stored events one self-audit run re-hashes; the runs resume where the
# last one stopped, so a pass over the whole log takes (leaves / batch) intervals.
SELF_AUDIT_BATCH = 10_000
T = TypeVar("T")


class TransparencyLog:
    """Signs checkpoints, serves proofs, and watches that the log still matches both;
    a mismatch raises the tamper alarm, whoever finds it (log_alarm.py)."""

    def __init__(
        self,
        ledger: RecordingLedger,
        views: ViewStore,
        checkpoints: CheckpointStore,
        signer: NoteSigner,
        origin: str,
        catch_up: Callable[[], object],
    ) -> None:
        self.ledger = ledger
        self.views = views
        self.checkpoints = checkpoints
        self.signer = signer
        self.origin = origin
        self._catch_up = catch_up
        # Concurrent exports each sign: one at a time, so each sees the last one's head.
        self._signing = threading.Lock()
        self._audit_from = 0  # the self-audit's next leaf index
        self._alarm = LogAlarm(ledger, checkpoints)

    @property
    def public_key(self) -> str:
        return self.signer.verifier_text

    # -- checkpoints -------------------------------------------------------

    def sign_checkpoint(self) -> tuple[int, bytes]:
        """Signs the current tree head if the log grew since the last one; returns the latest.

        Never signs a fork of itself: the leaves must still hash to the last signed
        root (every earlier one was checked the same way when it was signed), and
        nothing is signed while the log is known tampered.
        """
        with self._signing:
            self._catch_up()
            self.refuse_if_tampered()
            size = self.views.leaf_count()
            latest = self.checkpoints.latest()
            if latest is not None and latest[0] >= size:
                return latest
            # The new root and the last signed one's, from one read of O(log n) stored nodes.
            tree = StoredTree(size, self.views)
            root, signed_before = self._read(lambda: tree.prefix_roots([size, latest[0] if latest else 0]), size)
            if latest is not None and signed_before != checkpoint_of_note(latest[1]).root:
                raise self._alarm.sound(root_differs(latest[0]), found_by="signer")
            note = self.signer.sign_checkpoint(Checkpoint(self.origin, size, root))
            if not self.checkpoints.add(size, root, note, datetime.now(UTC)):
                # Another process (the CLI, another server) signed this size meanwhile: the same tree, or a fork.
                _, theirs = self.checkpoint(size)
                if checkpoint_of_note(theirs).root != root:
                    raise self._alarm.sound(
                        f"two checkpoints of size {size} were signed over different leaves", found_by="signer"
                    )
                return size, theirs
            return size, note

    def scheduled_checkpoint(self) -> None:
        """The scheduler's job: a refusal is already logged and alarmed, not an error of the job."""
        with suppress(LogTampered):
            self.sign_checkpoint()

    def checkpoint(self, size: int | None = None) -> tuple[int, bytes]:
        found = (
            self.checkpoints.latest()
            if size is None
            else ((size, note) if (note := self.checkpoints.at(size)) is not None else None)
        )
        if found is None:
            raise NotFound("no signed checkpoint" + (f" of size {size}" if size is not None else " yet"))
        return found

    # -- proofs --------------------------------------------------------------

    def event_proofs(self, recording_id: UUID, tree_size: int, up_to_version: int | None = None) -> list[EventLine]:
        """Every event of a recording (up to a version) in the signed tree of ``tree_size``, with its
        leaf and inclusion proof: the lines of an export's events.jsonl, as the proofs endpoint serves them.

        Only what still matches is proven: the leaves must hash to the root signed
        for that size, and each event's stored bytes to its leaf; otherwise the
        alarm is raised and LogTampered refuses.
        """
        tree = self._tree_as_signed(*self.checkpoint(tree_size), found_by="proofs")
        stored = {e.originator_version: e for e in self.ledger.recorder.select_events(recording_id)}
        rows = [
            row
            for row in self.views.leaves_of(recording_id)
            if row.leaf_index < tree_size and (up_to_version is None or row.originator_version <= up_to_version)
        ]
        paths = self._read(lambda: tree.inclusion_proofs([row.leaf_index for row in rows]), tree_size)  # one read
        proofs = []
        for row, path in zip(rows, paths, strict=True):
            event = stored.get(row.originator_version)
            if event is None or hashlib.sha256(event.state).digest() != Leaf.decode(row.leaf_data).state_sha256:
                raise self._alarm.sound(
                    events_differ([row.leaf_index]), found_by="proofs", recording_ids=[recording_id]
                )
            proofs.append(
                EventLine.of(
                    row.leaf_index,
                    row.leaf_data,
                    event.state,
                    event.topic,
                    recording_id,
                    row.originator_version,
                    path,
                )
            )
        if not proofs:
            raise NotFound(f"no logged events of {recording_id} in a tree of size {tree_size}")
        return proofs

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        if not 0 <= old_size <= new_size:
            raise NotFound(f"no consistency proof from size {old_size} to {new_size}")
        tree = StoredTree(new_size, self.views)
        return self._read(lambda: tree.consistency_proofs([old_size]), new_size)[0]

    def proofs_from_earlier(self, size: int, recent: int) -> list[tuple[int, bytes, list[bytes]]]:
        """The earlier checkpoints an auditor may have kept, smallest first, each as (its size,
        its signed note, the proof that the tree of ``size`` extends it): the last ``recent``
        before ``size`` and the first of every UTC month (docs/export-bundle.md says why)."""
        earlier = dict(self.checkpoints.before(size, recent)) | dict(self.checkpoints.first_of_each_month(size))
        chosen = sorted(earlier.items())
        tree = StoredTree(size, self.views)
        proofs = self._read(lambda: tree.consistency_proofs([old_size for old_size, _ in chosen]), size)  # one read
        return [(old_size, note, proof) for (old_size, note), proof in zip(chosen, proofs, strict=True)]

    # -- the self-audit and the alarm ---------------------------------------

    def self_audit(self, batch: int = SELF_AUDIT_BATCH) -> list[int]:
        """Re-hashes the stored events of the next ``batch`` leaves against what the leaves
        recorded; returns the indexes of leaves that no longer match (and raises the alarm).

        Each run resumes where the last stopped; past the last leaf it checks that the
        leaves still hash to the latest signed root (which catches leaves rebuilt from
        edited events) and wraps around to leaf 0.
        """
        rows = self.checkpoints.leaves(self._audit_from, batch)
        if not rows:
            self._audit_from = 0
            self._check_signed_root()
            return []
        self._audit_from = rows[-1].leaf_index + 1
        first, last = rows[0].notification_id, rows[-1].notification_id
        stored = {n.id: n for n in self.ledger.recorder.select_notifications(first, last - first + 1, stop=last)}
        mismatched: dict[int, UUID] = {}
        for row in rows:
            event = stored.get(row.notification_id)
            try:
                leaf = Leaf.decode(row.leaf_data)
            except LeafError:
                leaf = None
            if (
                event is None
                or leaf is None
                or row.leaf_hash != leaf_hash(row.leaf_data)
                or (leaf.index, leaf.originator_id, leaf.originator_version, leaf.topic)
                != (row.leaf_index, event.originator_id, event.originator_version, event.topic)
                or hashlib.sha256(event.state).digest() != leaf.state_sha256
            ):
                mismatched[row.leaf_index] = row.originator_id
        if mismatched:
            self._alarm.sound(
                events_differ(mismatched),
                found_by="self-audit",
                recording_ids=sorted(set(mismatched.values()), key=str),
            )
        if nodes := self._nodes_differing(rows):
            self._alarm.sound(
                f"{len(nodes)} Merkle nodes from (level, index) {nodes[0]}: no longer the hashes of the nodes below",
                found_by="self-audit",
            )
        return sorted(mismatched)

    def _nodes_differing(self, rows: list[LeafRow]) -> list[Node]:
        """The stored nodes completed by these leaves that no longer hash from the nodes (or
        leaves) below them: proofs and roots are read from the nodes, never from every leaf,
        so each pass checks the chain leaf to node to node up to the signed root at its end.
        A node missing is not an edit (a rebuild emptied the view meanwhile)."""
        nodes = completed_in(rows[0].leaf_index, rows[-1].leaf_index + 1)
        below = {node: kept_children(node) for node in nodes}
        known = {(0, row.leaf_index): row.leaf_hash for row in rows}
        wanted = {*nodes, *(child for children in below.values() for child in children)} - known.keys()
        found = known | self.views.node_hashes(wanted)
        return [
            node
            for node, children in below.items()
            if node in found
            and all(child in found for child in children)
            and hash_up([found[child] for child in children]) != found[node]
        ]

    def _check_signed_root(self) -> None:
        latest = self.checkpoints.latest()
        if latest is not None:
            # Raised and recorded already, or leaves being rebuilt: the next pass looks again.
            with suppress(LogTampered, NotFound):
                self._tree_as_signed(*latest, found_by="self-audit")

    def _tree_as_signed(self, size: int, note: bytes, *, found_by: str) -> StoredTree:
        """The tree of the first ``size`` leaves, if they still hash to the root signed for that size."""
        tree = StoredTree(size, self.views)
        if self._read(tree.root, size) != checkpoint_of_note(note).root:
            raise self._alarm.sound(root_differs(size), found_by=found_by)
        return tree

    @staticmethod
    def _read(read: Callable[[], T], size: int) -> T:
        """Reads the stored tree (O(log n) nodes). Missing nodes are not evidence of an edit:
        the leaves lag, or are being rebuilt."""
        try:
            return read()
        except MissingNodes as missing:
            raise NotFound(f"the log's leaves do not reach size {size} yet") from missing

    def alarm(self) -> str | None:
        """Why the log is known tampered, or None."""
        return self._alarm.reason()

    def refuse_if_tampered(self) -> None:
        self._alarm.refuse_if_tampered()
