"""H.264 in MPEG-TS, one self-contained file per segment."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av
from av.video.frame import PictureType

TICKS_PER_SECOND = 90_000
TS_CLOCK = Fraction(1, TICKS_PER_SECOND)  # MPEG-TS's own clock: frame times need no rounding
# FFmpeg's format probe is sure of MPEG-TS only from 10 packets' worth of bytes (2040) on; a
# segment of a still, plain screen can be shorter (a small keyframe from an encoder that has
# seen the screen before), and the server would take it for MPEG-PS. Null packets (PID 0x1FFF)
# fill it up: demuxers skip them.
TS_NULL_PACKET = b"\x47\x1f\xff\x10" + b"\xff" * 184
TS_MIN_PACKETS = 11

# Screen content at a few frames per second: fast presets are plenty, zerolatency emits
# every frame at once (no lookahead, no B-frames: a segment's last frame comes out with it), and
# only a segment's first frame is a keyframe (forced; monitor switches need none).
X264_OPTIONS = {
    "preset": "veryfast",
    "tune": "zerolatency",
    "crf": "30",
    "threads": "1",
    "x264-params": "keyint=infinite:scenecut=0",
}


class VideoEncoder:
    """One x264 encoder for a recording's segments of one quality.

    Opened once rather than per segment: a new encoder's first keyframe of a 1080p screen cost
    ~85 ms of CPU, a kept encoder's keyframe ~35 ms (measured), and a fresh encoder has no
    rate-control history, so its keyframe came out smaller and the frames after it
    bigger (on the capture bench, 220 kbit/s against 208 for one encoder forcing the same
    keyframes). Each segment still starts with an IDR frame carrying its SPS/PPS, so it
    decodes alone.
    """

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        # The encoder's stream sits in a container that is never written to: each segment's
        # container copies its parameters and muxes its packets, with no encoder of its own.
        self._home = av.open(io.BytesIO(), "w", format="mpegts")
        self.stream = self._home.add_stream("libx264", rate=fps, options=X264_OPTIONS)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.codec_context.time_base = TS_CLOCK
        self._home.start_encoding()  # opens x264 and fills in the stream's parameters

    def encode(self, frame: av.VideoFrame, pts: int, keyframe: bool) -> list[av.Packet[av.VideoStream]]:
        frame.pts, frame.time_base = pts, TS_CLOCK
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE  # I: an IDR (closed GOPs)
        return self.stream.encode(frame)


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

    Every segment starts with a keyframe and decodes alone; timestamps are recording offsets,
    so concatenated segments keep pauses as gaps.
    """

    def __init__(self, video: VideoEncoder) -> None:
        self._video = video
        self._width, self._height, self._fps = video.width, video.height, video.fps
        self._buffer = io.BytesIO()
        self._container = av.open(self._buffer, "w", format="mpegts")
        self._stream = self._container.add_stream_from_template(video.stream)
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
        first = self._first_pts is None
        if first:
            self._first_pts, self._monitor = pts, monitor
        for packet in self._video.encode(frame, pts, keyframe=first):
            packet.stream = self._stream
            self._container.mux(packet)
        self._last_pts = pts

    def finish(self, cut_at: float | None = None) -> EncodedSegment | None:
        """Closes the file. The last frame lasts one frame interval, cut short at `cut_at`
        (seconds from the recording start: a pause or stop). None when no frame was added."""
        self._container.close()  # nothing to flush: zerolatency gave every frame's packet at once
        if self._first_pts is None or self._last_pts is None:
            return None
        end = self._last_pts + round(TICKS_PER_SECOND / self._fps)
        if cut_at is not None:
            end = max(self._last_pts + 1, min(end, round(cut_at * TICKS_PER_SECOND)))
        start_ms = round(self._first_pts * 1000 / TICKS_PER_SECOND)
        data = self._buffer.getvalue()
        data += TS_NULL_PACKET * max(0, TS_MIN_PACKETS - len(data) // len(TS_NULL_PACKET))
        return EncodedSegment(
            data=data,
            start_offset_ms=start_ms,
            duration_ms=round(end * 1000 / TICKS_PER_SECOND) - start_ms,
            monitor=self._monitor,
            width=self._width,
            height=self._height,
            fps=self._fps,
        )
