"""Brings every monitor to the one output size, so the video stays continuous across switches."""

from __future__ import annotations

from fractions import Fraction

import av
import av.filter

from capture_client.grabber import Shot

UNTIMED = Fraction(1, 1000)  # the graph only scales: frames get their timestamps afterwards


class FrameScaler:
    """BGRA grabs of any size → yuv420p frames of the output size, letterboxed (aspect kept)."""

    def __init__(self, width: int, height: int) -> None:
        self.size = self._width, self._height = width, height
        self._graph: av.filter.Graph | None = None
        self._source_size: tuple[int, int] | None = None

    def convert(self, shot: Shot) -> av.VideoFrame:
        if self._source_size != (shot.width, shot.height):
            self._graph = self._build_graph(shot.width, shot.height)
            self._source_size = (shot.width, shot.height)
        assert self._graph is not None
        self._graph.vpush(bgra_frame(shot))
        return self._graph.vpull()

    def _build_graph(self, source_width: int, source_height: int) -> av.filter.Graph:
        w, h = self._width, self._height
        graph = av.filter.Graph()
        graph.link_nodes(
            graph.add_buffer(width=source_width, height=source_height, format="bgra", time_base=UNTIMED),
            graph.add("scale", f"{w}:{h}:force_original_aspect_ratio=decrease"),
            graph.add("pad", f"{w}:{h}:(ow-iw)/2:(oh-ih)/2"),
            graph.add("format", "yuv420p"),
            graph.add("buffersink"),
        ).configure()
        return graph


def bgra_frame(shot: Shot) -> av.VideoFrame:
    frame = av.VideoFrame(shot.width, shot.height, "bgra")
    plane = frame.planes[0]
    row = shot.width * 4
    if plane.line_size == row:
        plane.update(shot.bgra)  # type: ignore[arg-type]  # PyAV's stub says bytes; any buffer is taken
    else:  # FFmpeg pads rows for alignment at some widths: copy row by row
        target, source = memoryview(plane), memoryview(shot.bgra)
        for y in range(shot.height):
            target[y * plane.line_size : y * plane.line_size + row] = source[y * row : (y + 1) * row]
    return frame
