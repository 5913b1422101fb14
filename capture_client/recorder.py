"""The recording state machine: commands in, segments and snapshots into the spool.

idle --start--> recording <--pause/resume--> paused; recording/paused --stop--> idle.
Repeated commands (the server replays the current state on every reconnect) are no-ops.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from capture_client.adaptive import QualityController
from capture_client.commands import Command
from capture_client.deliveries import spool_capture_report, spool_snapshot
from capture_client.grabber import Grabber
from capture_client.jpeg import encode_jpeg
from capture_client.segmenter import Segmenter
from capture_client.spool import Spool
from capture_client.timeline import RecordingClock, wall_now

log = logging.getLogger(__name__)


@dataclass
class ActiveRecording:
    recording_id: str
    clock: RecordingClock
    state: dict[str, Any]  # persisted in the spool: next_sequence and the clock's origin
    grabber: Grabber
    segmenter: Segmenter
    next_frame_at: float  # monotonic time of the next grab
    paused: bool = False


class Recorder(threading.Thread):
    def __init__(self, spool: Spool, controller: QualityController, segment_seconds: float) -> None:
        super().__init__(name="capture-recorder", daemon=True)
        self._spool, self._controller = spool, controller
        self._segment_seconds = segment_seconds
        self._inbox: queue.Queue[Command | None] = queue.Queue()
        self._active: ActiveRecording | None = None
        self._snapshots_taken: set[str] = set()

    @property
    def status(self) -> str:
        active = self._active
        return "idle" if active is None else "paused" if active.paused else "recording"

    def submit(self, command: Command) -> None:
        """Thread-safe: commands are handled in the recorder's own thread, in order."""
        self._inbox.put(command)

    def shutdown(self) -> None:
        """Finishes the current segment into the spool and ends; the recording itself goes on
        (a restarted client resumes it when the server replays `start`)."""
        self._inbox.put(None)
        self.join()

    def run(self) -> None:
        while True:
            try:
                command = self._inbox.get(timeout=self._time_to_next_frame())
            except queue.Empty:
                self._capture_frame()
                continue
            if command is None:
                break
            getattr(self, f"_on_{command.name}")(command)
        if self._active is not None:
            self._active.segmenter.cut(self._active.clock.offset())
            self._active.grabber.close()

    def _time_to_next_frame(self) -> float | None:
        active = self._active
        if active is None or active.paused:
            return None
        return max(0.0, active.next_frame_at - time.monotonic())

    def _on_start(self, command: Command) -> None:
        rid = command.recording_id
        if self._active is not None:
            if self._active.recording_id == rid:
                return
            log.warning("start of %s while %s is active: stopping that one", rid, self._active.recording_id)
            self._stop_active(command)
        state = self._spool.load_recording(rid)
        if state is not None and state.get("stopped"):
            return
        if state is None:
            clock = RecordingClock.starting_now()
            state = {"next_sequence": 0, **clock.to_state()}
            self._spool.save_recording(rid, state)
        else:
            clock = RecordingClock.from_state(state)
            log.info("resuming recording %s at segment %s", rid, state["next_sequence"])
        segmenter = Segmenter(self._spool, self._controller, rid, clock, state, self._segment_seconds)
        self._active = ActiveRecording(rid, clock, state, Grabber(), segmenter, next_frame_at=time.monotonic())
        log.info("recording %s started", rid)

    def _on_pause(self, command: Command) -> None:
        active = self._active
        if active is not None and active.recording_id == command.recording_id and not active.paused:
            active.segmenter.cut(self._moment_of(command, active))
            active.paused = True
            log.info("recording %s paused", active.recording_id)

    def _on_resume(self, command: Command) -> None:
        active = self._active
        if active is not None and active.recording_id == command.recording_id and active.paused:
            active.paused = False
            active.next_frame_at = time.monotonic()
            log.info("recording %s resumed", active.recording_id)

    def _on_stop(self, command: Command) -> None:
        if self._active is not None and self._active.recording_id == command.recording_id:
            self._stop_active(command)
            return
        state = self._spool.load_recording(command.recording_id)
        if state is not None and not state.get("stopped"):  # started before a client restart
            self._report(command.recording_id, state)

    def _on_snapshot(self, command: Command) -> None:
        snapshot_id = str(command.data.get("snapshot_id", ""))
        active = self._active
        if not snapshot_id or snapshot_id in self._snapshots_taken:
            return
        if active is not None and active.paused:  # nothing is captured while paused, not even this
            log.warning("snapshot %s not taken: recording %s is paused", snapshot_id, active.recording_id)
            return
        grabber = active.grabber if active is not None else Grabber()
        try:
            shot = grabber.grab_active()
        finally:
            if active is None:
                grabber.close()
        spool_snapshot(self._spool, command.recording_id, snapshot_id, encode_jpeg(shot), shot, wall_now())
        self._snapshots_taken.add(snapshot_id)
        log.info("snapshot %s taken of monitor %s", snapshot_id, shot.monitor)

    def _stop_active(self, command: Command) -> None:
        active = self._active
        assert active is not None
        active.segmenter.cut(self._moment_of(command, active))
        active.grabber.close()
        self._active = None
        self._report(active.recording_id, active.state)
        log.info("recording %s stopped after %s segments", active.recording_id, active.state["next_sequence"])

    def _report(self, recording_id: str, state: dict[str, Any]) -> None:
        # Report first, then mark stopped: a crash in between repeats nothing worse than a report.
        spool_capture_report(self._spool, recording_id, state["next_sequence"], wall_now())
        self._spool.save_recording(recording_id, state | {"stopped": True})

    @staticmethod
    def _moment_of(command: Command, active: ActiveRecording) -> float:
        """Where the command's `at` falls on the recording's timeline: it happened before the
        command arrived (now, if `at` is unreadable or ahead of this desktop's clock)."""
        now = active.clock.offset()
        try:
            at = datetime.fromisoformat(command.data["at"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return now
        return min(now, active.clock.offset_at_wall(at))

    def _capture_frame(self) -> None:
        active = self._active
        assert active is not None
        interval = 1 / active.segmenter.quality().fps
        while active.next_frame_at + interval <= time.monotonic():  # slots missed while busy are skipped
            active.next_frame_at += interval
        slot = active.clock.offset(active.next_frame_at)
        active.next_frame_at += interval
        # Stamped with its slot, which the grab follows by milliseconds: timestamps stay on the
        # frame-rate grid, so tools that re-time at the stream's rate never see two frames collide.
        active.segmenter.add(active.grabber.grab_active(), slot)
