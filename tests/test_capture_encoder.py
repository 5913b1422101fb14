"""One x264 encoder serves a recording's segments, and every segment still stands alone: it
starts with a keyframe, holds all its frames at their recording offsets, and decodes by itself,
even when it is tiny (a plain screen the encoder has seen before)."""

from __future__ import annotations

from pathlib import Path

import av

from adapters.media_probe import probe_segment
from capture_client.encoder import SegmentEncoder, VideoEncoder
from tests.support.video import decode_errors, probe


def grey(level: int) -> av.VideoFrame:
    frame = av.VideoFrame(64, 48, "yuv420p")
    for plane, value in zip(frame.planes, (level, 128, 128), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)
    return frame


def test_segments_of_one_encoder_each_start_with_a_keyframe_and_decode_alone(tmp_path: Path) -> None:
    video = VideoEncoder(64, 48, fps=5)
    offsets = [(0.0, 0.2, 0.4, 0.6), (0.8, 1.0, 1.2), (5.0, 5.2)]  # the third after a pause
    for number, segment_offsets in enumerate(offsets):
        encoder = SegmentEncoder(video)
        for index, offset in enumerate(segment_offsets):
            encoder.add(grey(40 + 20 * index), monitor=1, offset=offset)
        segment = encoder.finish()
        assert segment is not None
        assert (segment.start_offset_ms, segment.duration_ms) == (
            round(segment_offsets[0] * 1000),
            round((segment_offsets[-1] + 0.2 - segment_offsets[0]) * 1000),
        )
        assert probe_segment(segment.data).codec == "h264"  # as the server takes it, however small
        path = tmp_path / f"{number}.ts"
        path.write_bytes(segment.data)
        assert decode_errors(path) == ""
        frames = [row[:2] for row in probe(path, "-show_entries", "frame=key_frame,pts_time")]
        assert [float(pts) for _, pts in frames] == list(segment_offsets)
        assert [key for key, _ in frames] == ["1"] + ["0"] * (len(segment_offsets) - 1)
