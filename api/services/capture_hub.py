"""Wakes an agent's command streams when a capture command for one of its recordings is logged.

Whichever server took the command (start, pause, resume, end of call or of after-call
work, snapshot request), its event lands in the one log; one thread per server process
follows the log's tail (woken by NOTIFY on PostgreSQL, polling on SQLite) and wakes the
streams connected to this process for that recording's agent. A woken stream reads the
recording's new events itself (api/services/capture.py); the hub only says which
recordings and up to which position everything has been announced.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from uuid import UUID

import anyio
import msgspec
import structlog

from adapters.log_waiter import LogWaiter, log_waiter
from adapters.settings import Settings
from domain import errors
from domain.ledger import RecordingLedger
from domain.recording import Recording
from projections.follower import LoggedEvent, read_log

log = structlog.get_logger(__name__)

# The events that change what a capture client must do (api/services/capture.py turns them into commands).
COMMAND_EVENTS = frozenset(
    {
        Recording.CallStarted,
        Recording.Paused,
        Recording.Resumed,
        Recording.CallEnded,
        Recording.AcwEnded,
        Recording.SnapshotRequested,
    }
)
# Where no NOTIFY wakes the hub (SQLite, or a lost LISTEN connection) it looks this often:
# the client holds frames back 0.5 s (capture_client/segmenter.py) for a pause to arrive.
POLL_SECONDS = 0.1
# Reads begin at most this often. Every append NOTIFYs, most are not capture commands (each
# search logs its access), and one read per NOTIFY cost this thread about 0.26 ms of CPU per
# event, competing with the requests for the GIL. Spaced out, a steady stream of appends is
# read in batches at a fixed cost, while the first event after a quiet spell is read at once;
# a command waits at most this long, well inside the client's hold-back.
READ_SPACING_SECONDS = 0.05
LOG_PAGE = 1000
# Recordings whose agent the hub remembers (from their CallStarted, or one read of the recording).
KNOWN_RECORDINGS = 100_000
# The latest screen recordings each agent started (for a stream connecting before the view shows them).
STARTED_PER_AGENT = 4
KNOWN_AGENTS = 50_000


class Subscription:
    """One connected stream: which of its agent's recordings have news, and a wake-up
    that the hub's thread sets and the stream awaits in its event loop."""

    def __init__(self, hub: CaptureHub, agent: str) -> None:
        self.agent = agent
        self._hub = hub
        self._pending: set[UUID] = set()
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()

    def wake(self, recordings: set[UUID]) -> None:
        """From the hub's thread, holding the hub's lock."""
        self._pending |= recordings
        try:
            self._loop.call_soon_threadsafe(self._woken.set)
        except RuntimeError:  # the loop is closed: the stream is gone with it
            pass

    async def wait(self, timeout: float) -> bool:
        """True when woken (news may be ready), False when ``timeout`` passed quietly."""
        with anyio.move_on_after(timeout):
            await self._woken.wait()
            self._woken.clear()
            return True
        return False

    def take(self) -> tuple[set[UUID], int]:
        """The recordings with news, and the position up to which the hub announced all of them."""
        return self._hub.take(self)

    def clear(self) -> set[UUID]:
        pending, self._pending = self._pending, set()
        return pending


class CaptureHub:
    def __init__(self, ledger: RecordingLedger, settings: Settings) -> None:
        self._ledger = ledger
        self._waiter: LogWaiter = log_waiter(msgspec.structs.replace(settings, projection_poll_seconds=POLL_SECONDS))
        self._lock = threading.Lock()
        self._streams: dict[str, set[Subscription]] = {}
        # Recordings by their id's integer, not the UUID: the garbage collector tracks every UUID
        # object and walks them all in each full collection (100,000 of them here), never ints.
        self._agents: OrderedDict[int, str | None] = OrderedDict()  # None: no screen to capture
        self._started: OrderedDict[str, tuple[int, ...]] = OrderedDict()  # agent -> recordings, newest last
        self._position = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Follows the log from its head now: streams describe the present when they connect."""
        self._position = self._ledger.recorder.max_notification_id() or 0
        self._thread = threading.Thread(target=self._run, name="capture-hub", daemon=True)
        self._thread.start()
        log.info("capture hub started", position=self._position)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._waiter.close()

    def subscribe(self, agent: str) -> Subscription:
        """Called in the stream's event loop, before the stream reads the log."""
        subscription = Subscription(self, agent)
        with self._lock:
            self._streams.setdefault(agent, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            streams = self._streams.get(subscription.agent, set())
            streams.discard(subscription)
            if not streams:
                self._streams.pop(subscription.agent, None)

    def started(self, agent: str) -> list[UUID]:
        """The agent's latest screen recordings whose start the hub has seen."""
        with self._lock:
            return [UUID(int=recording) for recording in self._started.get(agent, ())]

    def take(self, subscription: Subscription) -> tuple[set[UUID], int]:
        # Under the lock that _announce holds: every event of the agent's up to the
        # position returned has its recording in the set returned or in an earlier one.
        with self._lock:
            return subscription.clear(), self._position

    def _run(self) -> None:
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                self._follow()
            except Exception:  # a database outage: the next round tries again
                log.exception("capture hub could not read the log")
            self._waiter.wait(self._stopping)
            self._stopping.wait(max(0.0, began + READ_SPACING_SECONDS - time.monotonic()))

    def _follow(self) -> None:
        while not self._stopping.is_set():
            window = read_log(self._ledger, self._position, LOG_PAGE)
            if not window.events:
                return
            news: dict[str, set[UUID]] = {}
            for logged in window.events:
                if logged.event_class in COMMAND_EVENTS and (agent := self._agent_of(logged)) is not None:
                    news.setdefault(agent, set()).add(logged.originator_id)
            self._announce(news, window.events[-1].notification_id)
            if len(window.events) < LOG_PAGE:
                return

    def _announce(self, news: dict[str, set[UUID]], position: int) -> None:
        with self._lock:
            for agent, recordings in news.items():
                for subscription in self._streams.get(agent, ()):
                    subscription.wake(recordings)
            self._position = position

    def _agent_of(self, logged: LoggedEvent) -> str | None:
        """The agent whose client captures this recording's screen (None: its screen is not captured)."""
        recording_id = logged.originator_id
        if logged.event_class is Recording.CallStarted:
            started = logged.event
            if not started.screen_selected:
                return self._remember(recording_id, None)
            with self._lock:
                recent = self._started.pop(started.agent_id, ())
                self._started[started.agent_id] = (*recent, recording_id.int)[-STARTED_PER_AGENT:]
                if len(self._started) > KNOWN_AGENTS:
                    self._started.popitem(last=False)
            return self._remember(recording_id, started.agent_id)
        if recording_id.int in self._agents:
            self._agents.move_to_end(recording_id.int)
            return self._agents[recording_id.int]
        try:  # started before this process followed the log, or forgotten since
            recording = self._ledger.get_recording(recording_id)
        except errors.RecordingNotFound:
            return None
        return self._remember(recording_id, recording.agent_id if recording.screen_selected else None)

    def _remember(self, recording_id: UUID, agent: str | None) -> str | None:
        self._agents[recording_id.int] = agent
        if len(self._agents) > KNOWN_RECORDINGS:
            self._agents.popitem(last=False)
        return agent
