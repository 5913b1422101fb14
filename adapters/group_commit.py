"""Group commit: concurrent commands share one transaction, each still all-or-nothing.

With many calls live at once, one transaction (and one WAL flush) per command
caps ingest at the database's commit rate. Here a single writer thread takes
every command queued since its last commit, applies them in order to the
recordings in memory (a refused command is answered at once and changes
nothing), and stores all resulting events in one transaction. Each caller
blocks until its own event is durable. If the transaction meets a concurrent
writer from another process, the batch is replayed one command at a time
through the ledger's ordinary retrying path, so nothing is lost or doubled.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

from domain import errors
from domain.ledger import Change, RecordingLedger, Start
from domain.recording import Recording

T = TypeVar("T")
log = structlog.get_logger(__name__)

MAX_BATCH = 500


@dataclass
class _Pending:
    recording_id: UUID
    command: Callable[[Recording], Any] | None  # None: a start, built by `start`
    start: Callable[[], Recording] | None = None
    new: Recording | None = None
    done: Future[Any] = field(default_factory=Future)


class GroupCommitLedger(RecordingLedger):
    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="group-commit", daemon=True)
        self._writer.start()

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join(timeout=10)
        super().close()

    # Both write paths of the ledger hand their work to the writer thread.

    def _create(self, start: Callable[[], Recording]) -> UUID:
        return self._submit(self._pending(Start(start)))

    def _change(self, recording_id: UUID, command: Callable[[Recording], T]) -> T:
        return self._submit(self._pending(Change(recording_id, command)))

    @staticmethod
    def _pending(command: Start | Change) -> _Pending:
        if isinstance(command, Change):
            return _Pending(command.recording_id, command.apply)
        recording = command.build()  # bad input is refused here, in the caller's thread
        return _Pending(recording.id, None, command.build, recording)

    def _submit(self, pending: _Pending) -> Any:
        self._enqueue(pending)
        return pending.done.result()

    def _enqueue(self, pending: _Pending) -> None:
        if not self._writer.is_alive():
            raise RuntimeError("the ledger is closed")
        self._queue.put(pending)

    def run_all(self, commands: Sequence[Start | Change]) -> list[Any]:
        """All queued before waiting on any, so one request's commands share a transaction."""
        queued: list[_Pending | errors.DomainError] = []
        for command in commands:
            try:
                queued.append(self._pending(command))
            except errors.DomainError as refusal:
                queued.append(refusal)
        for pending in queued:
            if isinstance(pending, _Pending):
                self._enqueue(pending)
        outcomes: list[Any] = []
        for pending in queued:
            if isinstance(pending, errors.DomainError):
                outcomes.append(pending)
                continue
            try:
                outcomes.append(pending.done.result())
            except errors.DomainError as refusal:
                outcomes.append(refusal)
        return outcomes

    # -- the writer thread ----------------------------------------------

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        touched: dict[UUID, Recording] = {}
        applied: list[tuple[_Pending, Any]] = []
        for index, pending in enumerate(batch):
            try:
                applied.append((pending, self._apply(pending, touched)))
            except (OperationalError, InterfaceError) as error:
                # The store did not answer (each read waited up to the pool timeout):
                # the rest of the batch would wait as long, one by one, to fail alike.
                self._fail(touched, [p for p, _ in applied] + batch[index:], error)
                self._fail_queued(error)
                return
            except Exception as error:  # refused: answered now, changed nothing
                pending.done.set_exception(error)
        try:
            self.save(*touched.values())
        except IntegrityError:
            log.info("group commit met a concurrent writer; replaying one by one", commands=len(applied))
            self._replay(touched, applied)
            return
        except Exception as error:
            self._fail(touched, [p for p, _ in applied], error)
            if isinstance(error, (OperationalError, InterfaceError)):
                self._fail_queued(error)
            return
        for pending, result in applied:
            pending.done.set_result(result)

    def _fail(self, touched: dict[UUID, Recording], pendings: list[_Pending], error: Exception) -> None:
        for recording_id in touched:
            self.forget(recording_id)
        for pending in pendings:
            pending.done.set_exception(error)

    def _fail_queued(self, error: Exception) -> None:
        """Fails the commands that queued while the store was found unavailable.

        They have waited that long already, and the next batch would make them wait
        the pool timeout again to learn the same; their callers answer 503 now, and
        the commands after them try the store afresh.
        """
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._queue.put(None)  # closing: the writer stops after this
                return
            item.done.set_exception(error)

    def _apply(self, pending: _Pending, touched: dict[UUID, Recording]) -> Any:
        recording = touched.get(pending.recording_id)
        if pending.start is None:
            assert pending.command is not None
            recording = recording or self._working_copy(pending.recording_id)
            result = pending.command(recording)
            touched[recording.id] = recording
            return result
        assert pending.new is not None
        # No read for a new recording: a start the cache does not know is stored as
        # new, and if it existed after all, the batch's IntegrityError replays it.
        recording = recording or self._cached(pending.recording_id)
        if recording is None:
            touched[pending.recording_id] = pending.new
        else:
            self.check_restart(recording, pending.new)
        return pending.recording_id

    def _cached(self, recording_id: UUID) -> Recording | None:
        try:
            return self.repository.cache.get(recording_id) if self.repository.cache is not None else None
        except KeyError:
            return None

    def _replay(self, touched: dict[UUID, Recording], applied: list[tuple[_Pending, Any]]) -> None:
        for recording_id in touched:
            self.forget(recording_id)
        for pending, _ in applied:
            try:
                if pending.start is not None:
                    result: Any = RecordingLedger._create(self, pending.start)
                else:
                    assert pending.command is not None
                    result = RecordingLedger._change(self, pending.recording_id, pending.command)
            except Exception as error:
                pending.done.set_exception(error)
            else:
                pending.done.set_result(result)
