"""BGRA grabs → yuv420p at their own size, converting again only the rows that changed.

An agent's screen changes a few text lines between grabs (a timer, a typed word); converting
the whole 1080p grab costs ~4 ms, comparing it with the previous one ~0.4 ms, and converting
the changed rows a fraction of a millisecond. The result is byte for byte the frame a whole
conversion gives (tests/test_capture_changed_rows.py checks it).
"""

from __future__ import annotations

import av
from av.video.reformatter import Interpolation, VideoReformatter

from capture_client.grabber import Shot

TILE_ROWS = 32  # rows compared, and converted again when they differ, together
# A changed run of rows is converted with this many rows on either side and written back with
# half of them: swscale's chroma filter reads neighbouring rows, so rows next to a change change
# too, and rows at a converted piece's edges come from clamped neighbours. On random noise,
# 8 is the least margin that gives the bytes of a whole conversion (measured); 16 is twice
# that, and multiples of 16 keep pieces on the 4:2:0 chroma grid and swscale's 8-row dither period.
MARGIN_ROWS = 16
# swscale's default for the scale filter (what ffmpeg uses); one thread: slices on more threads
# cost more CPU in all than they save in time at this size.
INTERPOLATION = Interpolation.BICUBIC


class ChangedRowsConverter:
    """Converts grabs of one size; the frame returned is reused by the next call (the encoder
    copies a frame as it takes it)."""

    def __init__(self, width: int, height: int) -> None:
        self.size = self._width, self._height = width, height
        self._row_bytes = width * 4
        self._previous: bytearray | None = None
        self._frame: av.VideoFrame | None = None
        # one per piece height: each keeps its swscale context, set up for that height once
        self._reformatters: dict[int, VideoReformatter] = {}

    def convert(self, shot: Shot) -> av.VideoFrame:
        assert (shot.width, shot.height) == self.size
        previous, self._previous = self._previous, shot.bgra
        frame = self._frame
        if frame is None or previous is None:
            self._frame = self._convert_rows(shot, 0, self._height)
            return self._frame
        runs = self._changed_runs(previous, shot.bgra)
        if sum(end - start for start, end in runs) * 2 > self._height:  # a new window, another monitor
            self._frame = self._convert_rows(shot, 0, self._height)
            return self._frame
        frame.make_writable()  # a copy only if the encoder still held the last picture
        for start, end in runs:
            first, last = max(0, start - MARGIN_ROWS), min(self._height, end + MARGIN_ROWS)
            piece = self._convert_rows(shot, first, last)
            keep_from, keep_to = max(0, start - MARGIN_ROWS // 2), min(self._height, end + MARGIN_ROWS // 2)
            for index, shift in ((0, 0), (1, 1), (2, 1)):  # Y at full height, U and V at half
                rows = (keep_from >> shift, keep_to >> shift, first >> shift)
                _copy_rows(piece.planes[index], frame.planes[index], *rows)
        return frame

    def _changed_runs(self, previous: bytearray, current: bytearray) -> list[tuple[int, int]]:
        """Rows [start, end) that differ, in whole tiles, neighbouring tiles joined."""
        runs: list[tuple[int, int]] = []
        row, before = self._row_bytes, memoryview(previous)
        for start in range(0, self._height, TILE_ROWS):
            end = min(start + TILE_ROWS, self._height)
            # startswith at an offset is a memcmp of the two buffers, no copy (slices copy: 3x slower)
            if not current.startswith(before[start * row : end * row], start * row):
                if runs and runs[-1][1] == start:
                    runs[-1] = (runs[-1][0], end)
                else:
                    runs.append((start, end))
        return runs

    def _convert_rows(self, shot: Shot, first: int, last: int) -> av.VideoFrame:
        height = last - first
        source = av.VideoFrame(self._width, height, "bgra")
        row = self._row_bytes
        fill_rows(source.planes[0], memoryview(shot.bgra)[first * row : last * row], row, height)
        reformatter = self._reformatters.setdefault(height, VideoReformatter())
        return reformatter.reformat(source, format="yuv420p", interpolation=INTERPOLATION, threads=1)


def fill_rows(plane: av.video.plane.VideoPlane, pixels: memoryview | bytearray, row_bytes: int, rows: int) -> None:
    """Copies rows of packed pixels into a plane, whose rows FFmpeg may pad for alignment."""
    if plane.line_size == row_bytes:
        plane.update(pixels)  # type: ignore[arg-type]  # PyAV's stub says bytes; any buffer is taken
        return
    target, source = memoryview(plane), memoryview(pixels)
    for y in range(rows):
        target[y * plane.line_size : y * plane.line_size + row_bytes] = source[y * row_bytes : (y + 1) * row_bytes]


def _copy_rows(
    source: av.video.plane.VideoPlane, target: av.video.plane.VideoPlane, first: int, last: int, source_first: int
) -> None:
    """Target rows [first, last) from a piece whose row 0 is target row `source_first`."""
    size = target.line_size
    assert source.line_size == size  # same width, same format: FFmpeg lays rows out alike
    memoryview(target)[first * size : last * size] = memoryview(source)[
        (first - source_first) * size : (last - source_first) * size
    ]
