"""The transparency log: signed checkpoints over the Merkle leaves, and the proofs
that let anyone check an event against them without trusting this server."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog

from adapters.checkpoint_store import CheckpointStore
from adapters.note_signing import NoteSigner
from adapters.view_store import ViewStore
from domain.access_record import Outcome
from domain.checkpoint import Checkpoint, checkpoint_of_note
from domain.errors import LogTampered, NotFound
from domain.ledger import RecordingLedger
from domain.log_leaf import Leaf, LeafError
from domain.merkle import MerkleTree, consistency_proof, leaf_hash
from domain.values import SYSTEM

log = structlog.get_logger(__name__)

# Leaves whose stored events one self-audit run re-hashes; the runs resume where the
# last one stopped, so a pass over the whole log takes (leaves / batch) intervals.
SELF_AUDIT_BATCH = 10_000
ALARM_ACTION = "log_tampered"  # the audit-trail action of a raised alarm


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
    """Signs checkpoints, serves proofs, and watches that the log still matches both.

    The tamper alarm is shared by the signer, the proofs and the self-audit: a
    finding is logged, recorded in the audit trail (by the SYSTEM actor) and kept
    in ``log_alarms``, where it makes /ready degraded and stops all signing.
    """

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
            tree = MerkleTree(self.views.leaf_hashes(size))
            root = tree.root()
            if latest is not None and tree.prefix_root(latest[0]) != checkpoint_of_note(latest[1]).root:
                raise self._alarm(_root_differs(latest[0]), found_by="signer")
            note = self.signer.sign_checkpoint(Checkpoint(self.origin, size, root))
            if not self.checkpoints.add(size, root, note, datetime.now(UTC)):
                # Another process (the CLI, another server) signed this size meanwhile: the same tree, or a fork.
                _, theirs = self.checkpoint(size)
                if checkpoint_of_note(theirs).root != root:
                    raise self._alarm(
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

    def event_proofs(self, recording_id: UUID, tree_size: int, up_to_version: int | None = None) -> list[EventProof]:
        """Every event of a recording (up to a version) in the signed tree of ``tree_size``, with its proof.

        Only what still matches is proven: the leaves must hash to the root signed
        for that size, and each event's stored bytes to its leaf; otherwise the
        alarm is raised and LogTampered refuses.
        """
        tree = self._tree_as_signed(*self.checkpoint(tree_size), found_by="proofs")
        stored = {e.originator_version: e for e in self.ledger.recorder.select_events(recording_id)}
        proofs = []
        for row in self.views.leaves_of(recording_id):
            if row.leaf_index >= tree_size or (up_to_version is not None and row.originator_version > up_to_version):
                continue
            event = stored.get(row.originator_version)
            if event is None or hashlib.sha256(event.state).digest() != Leaf.decode(row.leaf_data).state_sha256:
                raise self._alarm(_events_differ([row.leaf_index]), found_by="proofs", recording_ids=[recording_id])
            proofs.append(
                EventProof(
                    row.leaf_index,
                    row.leaf_data,
                    event.state,
                    event.topic,
                    recording_id,
                    row.originator_version,
                    tree_size,
                    tree.inclusion_proof(row.leaf_index),
                )
            )
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
            self._alarm(
                _events_differ(mismatched),
                found_by="self-audit",
                recording_ids=sorted(set(mismatched.values()), key=str),
            )
        return sorted(mismatched)

    def _check_signed_root(self) -> None:
        latest = self.checkpoints.latest()
        if latest is not None:
            # Raised and recorded already, or leaves being rebuilt: the next pass looks again.
            with suppress(LogTampered, NotFound):
                self._tree_as_signed(*latest, found_by="self-audit")

    def _tree_as_signed(self, size: int, note: bytes, *, found_by: str) -> MerkleTree:
        """The tree of the first ``size`` leaves, if they still hash to the root signed for that size."""
        tree = MerkleTree(self.views.leaf_hashes(size))
        if tree.size < size:  # not evidence of an edit: the leaves are being rebuilt, or lag
            raise NotFound(f"the log's leaves do not reach size {size} yet")
        if tree.root() != checkpoint_of_note(note).root:
            raise self._alarm(_root_differs(size), found_by=found_by)
        return tree

    def alarm(self) -> str | None:
        """Why the log is known tampered, or None."""
        return self.checkpoints.alarm()

    def refuse_if_tampered(self) -> None:
        """LogTampered while an alarm stands: the log vouches for nothing new until investigated."""
        reason = self.alarm()
        if reason is not None:
            log.error("refused: the log is known tampered", reason=reason)
            raise LogTampered(f"the log is known tampered, nothing is signed until it is investigated: {reason}")

    def _alarm(self, reason: str, *, found_by: str, recording_ids: Iterable[UUID] = ()) -> LogTampered:
        """Logs, records and keeps a finding; the error for the caller to raise, if it refuses something."""
        now = datetime.now(UTC)
        ids = list(recording_ids)
        log.error("transparency log tampered", reason=reason, found_by=found_by, recording_ids=[str(i) for i in ids])
        if self.checkpoints.raise_alarm(reason, found_by, now):  # once per finding, not per look
            self.ledger.record_access(
                action=ALARM_ACTION,
                outcome=Outcome.REFUSED,
                recording_ids=ids,
                reason_code="tamper",
                detail={"reason": reason, "found_by": found_by},
                occurred_at=now,
                by=SYSTEM,
            )
        return LogTampered(f"the log no longer matches what it recorded or signed: {reason}")


# Findings are worded the same whoever makes them, so one finding is recorded once.


def _root_differs(size: int) -> str:
    return f"the first {size} leaves no longer hash to the root signed for that size"


def _events_differ(leaf_indexes: Iterable[int]) -> str:
    return f"leaves {_ranges(leaf_indexes)}: the stored events no longer match their leaves"


def _ranges(indexes: Iterable[int]) -> str:
    """1, 2, 3, 7 -> "1-3, 7": compact, and the same for the same leaves."""
    spans: list[list[int]] = []
    for index in sorted(indexes):
        if spans and index == spans[-1][1] + 1:
            spans[-1][1] = index
        else:
            spans.append([index, index])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)
