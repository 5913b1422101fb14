"""H.264 in MPEG-TS, one self-contained file per segment."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av

TICKS_PER_SECOND = 90_000
TS_CLOCK = Fraction(1, TICKS_PER_SECOND)  # MPEG-TS's own clock: frame times need no rounding

# Screen content at a few frames per second: fast presets are plenty, zerolatency emits
# every frame at once (no lookahead, no B-frames), and only the segment's first frame is
# a keyframe (monitor switches need none: every segment restarts the encoder anyway).
X264_OPTIONS = {
    "preset": "veryfast",
    "tune": "zerolatency",
    "crf": "30",
    "threads": "1",
    "x264-params": "keyint=infinite:scenecut=0",
}


@dataclass(frozen=True)
class EncodedSegment:
    data: bytes
    start_offset_ms: int  # first frame, on the recording's monotonic clock
    duration_ms: int
    monitor: int  # monitor recorded when the segment started
    width: int
    height: int
    fps: int


class SegmentEncoder:
    """Encodes frames stamped with their recording offset into one MPEG-TS file.

    Every segment gets its own encoder, so it starts with a keyframe and decodes alone;
    timestamps are recording offsets, so concatenated segments keep pauses as gaps.
    """

    def __init__(self, width: int, height: int, fps: int) -> None:
        self._width, self._height, self._fps = width, height, fps
        self._buffer = io.BytesIO()
        self._container = av.open(self._buffer, "w", format="mpegts")
        self._stream = self._container.add_stream("libx264", rate=fps, options=X264_OPTIONS)
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        self._stream.codec_context.time_base = TS_CLOCK
        self._first_pts: int | None = None
        self._last_pts: int | None = None
        self._monitor = 0

    @property
    def last_offset(self) -> float | None:
        """Seconds from the recording start to the last frame added."""
        return None if self._last_pts is None else self._last_pts / TICKS_PER_SECOND

    def add(self, frame: av.VideoFrame, monitor: int, offset: float) -> None:
        """Adds a frame of the output size grabbed `offset` seconds after the recording start."""
        pts = round(offset * TICKS_PER_SECOND)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # timestamps must strictly increase
        if self._first_pts is None:
            self._first_pts, self._monitor = pts, monitor
        frame.pts, frame.time_base = pts, TS_CLOCK
        self._container.mux(self._stream.encode(frame))
        self._last_pts = pts

    def finish(self, cut_at: float | None = None) -> EncodedSegment | None:
        """Closes the file. The last frame lasts one frame interval, cut short at `cut_at`
        (seconds from the recording start: a pause or stop). None when no frame was added."""
        self._container.mux(self._stream.encode(None))
        self._container.close()
        if self._first_pts is None or self._last_pts is None:
            return None
        end = self._last_pts + round(TICKS_PER_SECOND / self._fps)
        if cut_at is not None:
            end = max(self._last_pts + 1, min(end, round(cut_at * TICKS_PER_SECOND)))
        start_ms = round(self._first_pts * 1000 / TICKS_PER_SECOND)
        return EncodedSegment(
            data=self._buffer.getvalue(),
            start_offset_ms=start_ms,
            duration_ms=round(end * 1000 / TICKS_PER_SECOND) - start_ms,
            monitor=self._monitor,
            width=self._width,
            height=self._height,
            fps=self._fps,
        )
