"""From grabs to spooled segments, held back a moment so that a pause can still take effect
on frames grabbed after it happened but before its command arrived."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from capture_client.adaptive import CpuMeter, Quality, QualityController
from capture_client.deliveries import spool_segment
from capture_client.encoder import SegmentEncoder, VideoEncoder
from capture_client.grabber import Shot
from capture_client.scaler import FrameScaler
from capture_client.spool import Spool
from capture_client.timeline import RecordingClock

log = logging.getLogger(__name__)

# Frames wait this long before they are encoded: a `pause` or `stop` arriving within it still
# drops what was grabbed after its `at` (the server refuses segments captured while paused).
HOLD_BACK_SECONDS = 0.5


@dataclass
class PlannedSegment:
    """A segment as decided while grabbing: its quality, and where it started."""

    quality: Quality
    start: float | None = None  # seconds from the recording start
    complete: bool = False


@dataclass(frozen=True)
class HeldFrame:
    shot: Shot  # converted to the planned output size as it is encoded: a dropped one costs nothing
    slot: float  # seconds from the recording start
    plan: PlannedSegment


class Segmenter:
    def __init__(
        self,
        spool: Spool,
        controller: QualityController,
        recording_id: str,
        clock: RecordingClock,
        state: dict[str, Any],
        segment_seconds: float,
    ) -> None:
        self._spool, self._controller = spool, controller
        self._recording_id, self._clock, self._state = recording_id, clock, state
        self._segment_seconds = segment_seconds
        self._plan: PlannedSegment | None = None
        self._scaler: FrameScaler | None = None
        self._held: deque[HeldFrame] = deque()
        self._video: VideoEncoder | None = None  # kept from segment to segment while the quality stays
        self._encoder: SegmentEncoder | None = None
        self._cpu = CpuMeter()

    def quality(self) -> Quality:
        """Quality of the segment the next grab goes into; a new segment takes the current best."""
        if self._plan is None:
            self._plan = PlannedSegment(self._controller.current)
        return self._plan.quality

    def add(self, shot: Shot, slot: float) -> None:
        plan = self._plan
        assert plan is not None, "quality() first"
        self._held.append(HeldFrame(shot, slot, plan))
        if plan.start is None:
            plan.start = slot
        if slot + 1 / plan.quality.fps - plan.start >= self._segment_seconds - 1e-6:  # 1e-6: float sums
            plan.complete, self._plan = True, None
        while self._held and self._held[0].slot <= slot - HOLD_BACK_SECONDS:
            self._encode(self._held.popleft())

    def cut(self, at: float) -> None:
        """Ends capture at `at` (seconds from the recording start): frames grabbed from then on
        are dropped, the rest goes to the spool."""
        while self._held and self._held[0].slot < at:
            self._encode(self._held.popleft())
        if self._held:
            log.info("dropped %s frame(s) grabbed after the cut", len(self._held))
            self._held.clear()
        if self._encoder is not None:
            last = self._encoder.last_offset
            if last is not None and last >= at:
                log.warning("command arrived too late: frames after its time are already encoded")
            self._finish(cut_at=at)
        self._plan = None

    def _encode(self, held: HeldFrame) -> None:
        quality = held.plan.quality
        if self._encoder is None:
            video = self._video
            if video is None or (video.width, video.height, video.fps) != (quality.width, quality.height, quality.fps):
                self._video = video = VideoEncoder(quality.width, quality.height, quality.fps)
            self._encoder = SegmentEncoder(video)
            self._cpu = CpuMeter()  # the segment's own cost decides the quality of later ones
        if self._scaler is None or self._scaler.size != (quality.width, quality.height):
            self._scaler = FrameScaler(quality.width, quality.height)
        self._encoder.add(self._scaler.convert(held.shot), held.shot.monitor, held.slot)
        if held.plan.complete and not (self._held and self._held[0].plan is held.plan):
            self._finish(cut_at=None)

    def _finish(self, cut_at: float | None) -> None:
        assert self._encoder is not None
        encoded = self._encoder.finish(cut_at)
        self._encoder = None
        if encoded is None:
            return
        sequence = self._state["next_sequence"]
        # The number is made durable before the segment enters the spool, so a restarted client
        # never hands it out again; a crash while encoding loses no number (nothing was spooled).
        self._state["next_sequence"] = sequence + 1
        self._spool.save_recording(self._recording_id, self._state)
        captured_at = self._clock.wall_time(encoded.start_offset_ms)
        spool_segment(self._spool, self._recording_id, sequence, encoded, captured_at)
        self._controller.observe(self._cpu.read(), len(encoded.data) * 8 / max(encoded.duration_ms, 1))
