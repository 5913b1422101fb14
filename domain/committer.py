"""How the ledger's work reaches the store: the committer strategy it composes.

The ledger turns each command into a unit of work (a ``Create``, a ``Change``, or the
``Record`` of an access)
and hands it to its committer. ``DirectCommitter`` stores each in its own
transaction: load, apply, save, retry on a concurrent write. The adapters'
``GroupCommitter`` queues them and stores many in one transaction, falling back
to a ``DirectCommitter`` when a batch meets another process's write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from threading import Lock
from typing import Any, Protocol
from uuid import UUID
from weakref import WeakValueDictionary

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain import errors
from domain.recording import Recording

# Attempts before a command that keeps meeting concurrent writers gives up.
CONFLICT_ATTEMPTS = 8


class ConcurrentChange(errors.StateConflict):
    """Other writers kept changing the recording; the command was not applied."""


@dataclass(frozen=True, slots=True)
class Create:
    """A new recording; ``build`` may be called again to retry."""

    build: Callable[[], Recording]


@dataclass(frozen=True, slots=True)
class Change:
    """Work on an existing recording: a pure function of its state, so it may be re-run on fresher state."""

    recording_id: UUID
    apply: Callable[[Recording], Any]


@dataclass(frozen=True, slots=True)
class Record:
    """A new aggregate that is never changed afterwards (an access record): stored as it is,
    in the same transactions as the commands, instead of one of its own."""

    aggregate: Aggregate


Work = Create | Change | Record


class RecordingStore(Protocol):
    """What a committer needs of the ledger (an eventsourcing Application)."""

    def save(self, *aggregates: Any, **kwargs: Any) -> Any: ...

    def working_copy(self, recording_id: UUID) -> Recording: ...

    def cached(self, recording_id: UUID) -> Recording | None: ...

    def get_recording(self, recording_id: UUID) -> Recording: ...

    def forget(self, recording_id: UUID) -> None: ...


class Committer(Protocol):
    def commit(self, work: Work) -> Any:
        """The work's result (a create answers the recording's id), or its refusal raised."""
        ...

    def submit(self, work: Work) -> Future[Any]:
        """``commit`` without waiting: the caller does other work, then waits on the future."""
        ...

    def commit_all(self, work: Sequence[Work]) -> list[Any]:
        """Each on its own, in order: its result, or the domain error that refused it."""
        ...

    def close(self) -> None: ...


def refuse_other_start(existing: Recording, again: Recording) -> None:
    """A repeated start is a no-op only if it names the same call."""
    if not existing.matches_start(again):
        raise errors.RecordingAlreadyStarted(
            f"interaction {again.interaction_id!r} was already started with other details"
        )


class DirectCommitter:
    """One transaction per unit of work, under a per-recording lock in this process."""

    def __init__(self, store: RecordingStore) -> None:
        self.store = store
        self._locks: WeakValueDictionary[UUID, Lock] = WeakValueDictionary()
        self._locks_guard = Lock()

    def commit(self, work: Work) -> Any:
        if isinstance(work, Record):
            self.store.save(work.aggregate)
            return work.aggregate.id
        if isinstance(work, Create):
            return self._create(work.build)
        return self._change(work.recording_id, work.apply)

    def submit(self, work: Work) -> Future[Any]:
        """Committed before it returns (there is no writer to hand it to)."""
        done: Future[Any] = Future()
        try:
            done.set_result(self.commit(work))
        except Exception as error:
            done.set_exception(error)
        return done

    def commit_all(self, work: Sequence[Work]) -> list[Any]:
        outcomes: list[Any] = []
        for each in work:
            try:
                outcomes.append(self.commit(each))
            except errors.DomainError as refusal:
                outcomes.append(refusal)
        return outcomes

    def close(self) -> None:
        """Nothing runs in the background."""

    def _create(self, build: Callable[[], Recording]) -> UUID:
        recording = build()
        try:
            self.store.save(recording)
        except IntegrityError:
            refuse_other_start(self.store.get_recording(recording.id), recording)
        return recording.id

    def _change(self, recording_id: UUID, apply: Callable[[Recording], Any]) -> Any:
        """Runs the work against the latest state, retrying on a concurrent write.

        Re-running it on fresher state is safe: it either applies or raises the rule it now breaks.
        A change the cached state allows is saved only if nobody wrote since (the version
        check); one it refuses is judged again on the log before the refusal is answered.
        """
        with self._lock_for(recording_id):
            rejudged = False
            for _ in range(CONFLICT_ATTEMPTS):
                recording = self.store.working_copy(recording_id)
                try:
                    result = apply(recording)
                    self.store.save(recording)
                except IntegrityError:
                    self.store.forget(recording_id)  # another process wrote first
                    continue
                except errors.DomainError:
                    # Judged on the cached state, which another server may have moved on
                    # (a resume refused as "not paused" when it paused the call): a refusal
                    # stands only once judged on what the log holds.
                    if rejudged:
                        raise
                    rejudged = True
                    self.store.forget(recording_id)
                    continue
                return result
        raise ConcurrentChange(f"recording {recording_id} kept changing; try again")

    def _lock_for(self, recording_id: UUID) -> Lock:
        with self._locks_guard:
            lock = self._locks.get(recording_id)
            if lock is None:
                lock = self._locks[recording_id] = Lock()
            return lock
