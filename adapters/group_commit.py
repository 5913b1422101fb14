"""Group commit: concurrent commands share one transaction, each still all-or-nothing.

With many calls live at once, one transaction (and one WAL flush) per command
caps ingest at the database's commit rate. Here a single writer thread takes
every command queued since its last commit, applies them in order to the
recordings in memory, and stores all resulting events in one transaction. When
nothing is queued or being committed, a caller commits its own command in its
own thread instead (a lone client would otherwise pay two thread hand-offs for
a batch of one). A command refused on cached state is judged again on the log
in its place (the commands before it are stored first), since another server
may have moved the recording on. Each caller blocks until its own event is durable. If the
transaction meets a concurrent writer from another process, the batch is
replayed one command at a time through the direct committer's retrying path,
so nothing is lost or doubled.

The ledger composes it (``RecordingLedger(env, committer=GroupCommitter)``): the
ledger builds each command's work, this decides how it reaches the store.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError

from adapters.metrics import GROUP_COMMIT_BATCH
from domain import errors
from domain.committer import Create, DirectCommitter, Record, RecordingStore, Work, refuse_other_start
from domain.recording import Recording

log = structlog.get_logger(__name__)

MAX_BATCH = 500
# How long close waits for the batches queued before it (each bounded by the store's own timeouts).
CLOSE_SECONDS = 30


@dataclass
class _Pending:
    work: Work
    recording_id: UUID
    new: Recording | None = None  # a create's recording, built in the caller's thread
    done: Future[Any] = field(default_factory=Future)
    queued_at: float = 0.0  # monotonic; set when handed to the writer


class GroupCommitter:
    """The ledger's committer for servers whose many clients write at once."""

    def __init__(self, store: RecordingStore) -> None:
        self.store = store
        self._direct = DirectCommitter(store)  # the replay path, one command per transaction
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        # Held while queueing and while closing, so no command lands behind the stop mark
        # (where nothing would ever answer it).
        self._closing = threading.Lock()
        self._closed = False
        # Commands queued or being committed (under _closing): none, and a caller may commit its own.
        self._in_flight = 0
        # Held by whichever thread is committing: the writer, or a caller committing its own.
        self._committing = threading.Lock()
        # When the store was last found unavailable, and how (under _committing).
        self._unavailable: tuple[float, Exception] | None = None
        self._writer = threading.Thread(target=self._write_loop, name="group-commit", daemon=True)
        self._writer.start()

    def close(self) -> None:
        """Commits (or answers with its refusal or error) every command queued so far, then stops."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._writer.join(timeout=CLOSE_SECONDS)
        if self._writer.is_alive():  # the store hangs: closing it next fails the batch, which answers its callers
            log.warning("group commit still writing at close", waited_seconds=CLOSE_SECONDS)

    def commit(self, work: Work) -> Any:
        pending = self._pending(work)
        if not self._commit_here([pending]):
            self._enqueue(pending)
        return pending.done.result()

    def submit(self, work: Work) -> Future[Any]:
        pending = self._pending(work)
        self._enqueue(pending)
        return pending.done

    def commit_all(self, work: Sequence[Work]) -> list[Any]:
        """All queued before waiting on any, so one request's commands share a transaction."""
        queued: list[_Pending | errors.DomainError] = []
        for each in work:
            try:
                queued.append(self._pending(each))
            except errors.DomainError as refusal:
                queued.append(refusal)
        valid = [each for each in queued if isinstance(each, _Pending)]
        if not self._commit_here(valid):
            for pending in valid:
                self._enqueue(pending)
        outcomes: list[Any] = []
        for outcome in queued:
            if isinstance(outcome, errors.DomainError):
                outcomes.append(outcome)
                continue
            try:
                outcomes.append(outcome.done.result())
            except errors.DomainError as refusal:
                outcomes.append(refusal)
        return outcomes

    @staticmethod
    def _pending(work: Work) -> _Pending:
        if isinstance(work, Record):
            return _Pending(work, work.aggregate.id)
        if isinstance(work, Create):
            recording = work.build()  # bad input is refused here, in the caller's thread
            return _Pending(work, recording.id, recording)
        return _Pending(work, work.recording_id)

    def _enqueue(self, pending: _Pending) -> None:
        with self._closing:
            self._refuse_if_closed()
            self._in_flight += 1
            pending.queued_at = time.monotonic()
            self._queue.put(pending)

    def _commit_here(self, pendings: list[_Pending]) -> bool:
        """Commits in the calling thread if nothing is queued or being committed; False if busy.

        One client writing at a time would otherwise pay two thread hand-offs per command
        (to the writer and back), about 0.3 ms, for a batch of one. Busy, the caller queues
        and the writer batches, as before; the writer waits while a caller commits, so
        commands are still committed one batch at a time, in the order they were handed in.
        """
        if not pendings:
            return True
        with self._closing:
            self._refuse_if_closed()
            if self._in_flight or not self._committing.acquire(blocking=False):
                return False
            self._in_flight += len(pendings)
        try:
            self._commit(pendings)
        finally:
            self._committing.release()
            self._settled(len(pendings))
        return True

    def _refuse_if_closed(self) -> None:
        if self._closed or not self._writer.is_alive():
            raise RuntimeError("the ledger is closed")

    def _settled(self, commands: int) -> None:
        """Those commands are answered (after the committing thread let go of the store)."""
        with self._closing:
            self._in_flight -= commands

    # -- the writer thread ----------------------------------------------

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            with self._committing:  # a caller may be committing its own: what queues meanwhile joins the batch
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        self._queue.put(None)  # finish this batch, then stop
                        break
                    batch.append(item)
                if live := self._fail_if_queued_before_unavailable(batch):
                    self._commit(live)
            self._settled(len(batch))

    def _commit(self, batch: list[_Pending]) -> None:
        GROUP_COMMIT_BATCH.observe(len(batch))
        rest = batch
        while rest:
            rest = self._commit_until_refusal(rest)

    def _commit_until_refusal(self, batch: list[_Pending]) -> list[_Pending]:
        """Commits the batch up to its first refusal and judges that one again; returns the rest."""
        touched: dict[UUID, Any] = {}  # the recordings changed, and the access records
        applied: list[tuple[_Pending, Any]] = []
        for index, pending in enumerate(batch):
            try:
                result = self._apply(pending, touched)
            except (OperationalError, InterfaceError) as error:
                # The store did not answer (each read waited up to the pool timeout):
                # the rest of the batch would wait as long, one by one, to fail alike.
                self._fail(touched, [p for p, _ in applied] + batch[index:], error)
                self._fail_queued(error)
                return []
            except errors.DomainError:
                # Refused on cached state that another server may have moved on. The
                # commands before it are stored, then it is judged again on the log, in
                # its place: a resume after a pause in the same batch still sees it.
                unavailable = self._save(touched, applied)
                if unavailable is not None:
                    self._fail({}, batch[index:], unavailable)
                    return []
                self._replay({}, [pending])
                return batch[index + 1 :]
            except Exception as error:  # a fault, not a rule: answered now, changed nothing
                pending.done.set_exception(error)
            else:
                applied.append((pending, result))
        self._save(touched, applied)
        return []

    def _save(self, touched: dict[UUID, Any], applied: list[tuple[_Pending, Any]]) -> Exception | None:
        """Stores and answers the applied commands; returns the error if the store is unavailable."""
        try:
            if touched:  # a retried start changes nothing, and is answered all the same
                self.store.save(*touched.values())
        except IntegrityError:
            log.info("group commit met a concurrent writer; replaying one by one", commands=len(applied))
            self._replay(touched, [pending for pending, _ in applied])
            return None
        except Exception as error:
            self._fail(touched, [pending for pending, _ in applied], error)
            if isinstance(error, (OperationalError, InterfaceError)):
                self._fail_queued(error)
                return error
            return None
        for pending, result in applied:
            pending.done.set_result(result)
        return None

    def _fail(self, touched: dict[UUID, Any], pendings: list[_Pending], error: Exception) -> None:
        for recording_id in touched:
            self.store.forget(recording_id)
        for pending in pendings:
            pending.done.set_exception(error)

    def _fail_queued(self, error: Exception) -> None:
        """Fails the commands that queued while the store was found unavailable.

        They have waited that long already, and the next batch would make them wait
        the pool timeout again to learn the same; their callers answer 503 now, and
        the commands after them try the store afresh.
        """
        self._unavailable = (time.monotonic(), error)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._queue.put(None)  # closing: the writer stops after this
                return
            item.done.set_exception(error)
            self._settled(1)

    def _fail_if_queued_before_unavailable(self, batch: list[_Pending]) -> list[_Pending]:
        """The batch but for the commands that queued before the store was last found
        unavailable, which are failed with that error: the writer had taken them from the
        queue while a caller committing its own found it so, so _fail_queued missed them."""
        if self._unavailable is None:
            return batch
        found_at, error = self._unavailable
        for pending in batch:
            if pending.queued_at <= found_at:
                pending.done.set_exception(error)
        return [pending for pending in batch if pending.queued_at > found_at]

    def _apply(self, pending: _Pending, touched: dict[UUID, Any]) -> Any:
        if isinstance(pending.work, Record):
            touched[pending.recording_id] = pending.work.aggregate
            return pending.recording_id
        recording = touched.get(pending.recording_id)
        if pending.new is None:
            assert not isinstance(pending.work, Create)
            recording = recording or self.store.working_copy(pending.recording_id)
            result = pending.work.apply(recording)
            touched[recording.id] = recording
            return result
        # No read for a new recording: a start the cache does not know is stored as
        # new, and if it existed after all, the batch's IntegrityError replays it.
        recording = recording or self.store.cached(pending.recording_id)
        if recording is None:
            touched[pending.recording_id] = pending.new
        else:
            refuse_other_start(recording, pending.new)
        return pending.recording_id

    def _replay(self, touched: dict[UUID, Any], pendings: list[_Pending]) -> None:
        for recording_id in touched:
            self.store.forget(recording_id)
        for pending in pendings:
            try:
                result = self._direct.commit(pending.work)
            except Exception as error:
                pending.done.set_exception(error)
            else:
                pending.done.set_result(result)
