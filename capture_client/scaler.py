"""Brings every monitor to the one output size, so the video stays continuous across switches."""

from __future__ import annotations

from fractions import Fraction

import av
import av.filter

from capture_client.changed_rows import ChangedRowsConverter, fill_rows
from capture_client.grabber import Shot

UNTIMED = Fraction(1, 1000)  # the graph only scales: frames get their timestamps afterwards


class FrameScaler:
    """BGRA grabs of any size → yuv420p frames of the output size, letterboxed (aspect kept).

    A frame returned is valid until the next call: the encoder copies it as it takes it, and
    reusing frames spares allocating and faulting in megabytes per grab.
    """

    def __init__(self, width: int, height: int) -> None:
        self.size = self._width, self._height = width, height
        self._same_size = ChangedRowsConverter(width, height)  # a grab of the output size: no scaling
        self._graph: av.filter.Graph | None = None
        self._source: av.VideoFrame | None = None  # the graph's input, refilled for every grab

    def convert(self, shot: Shot) -> av.VideoFrame:
        if (shot.width, shot.height) == self.size:
            return self._same_size.convert(shot)
        source = self._source
        if source is None or (source.width, source.height) != (shot.width, shot.height):
            self._graph = self._build_graph(shot.width, shot.height)
            self._source = source = av.VideoFrame(shot.width, shot.height, "bgra")
        assert self._graph is not None
        source.make_writable()  # the graph let go of the previous grab when it gave its frame; if not, a copy
        fill_rows(source.planes[0], shot.bgra, shot.width * 4, shot.height)
        self._graph.vpush(source)
        return self._graph.vpull()

    def _build_graph(self, source_width: int, source_height: int) -> av.filter.Graph:
        w, h = self._width, self._height
        graph = av.filter.Graph()
        if source_width * h == source_height * w:  # same aspect: nothing to pad (pad would copy the frame)
            scale = [graph.add("scale", f"{w}:{h}")]
        else:
            scale = [
                graph.add("scale", f"{w}:{h}:force_original_aspect_ratio=decrease"),
                graph.add("pad", f"{w}:{h}:(ow-iw)/2:(oh-ih)/2"),
            ]
        graph.link_nodes(
            graph.add_buffer(width=source_width, height=source_height, format="bgra", time_base=UNTIMED),
            *scale,
            graph.add("format", "yuv420p"),
            graph.add("buffersink"),
        ).configure()
        return graph


def bgra_frame(shot: Shot) -> av.VideoFrame:
    frame = av.VideoFrame(shot.width, shot.height, "bgra")
    fill_rows(frame.planes[0], shot.bgra, shot.width * 4, shot.height)
    return frame
