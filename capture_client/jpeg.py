"""Snapshot pictures: one JPEG of a grab at full monitor resolution."""

from __future__ import annotations

from fractions import Fraction

import av

from capture_client.grabber import Shot
from capture_client.scaler import bgra_frame

# FFmpeg's MJPEG encoder has no 0-100 quality; quantiser scale 1 gives tables as fine as
# libjpeg's quality 90 or slightly finer (checked against the DQT of both).
QUANTISER_FOR_QUALITY_90 = 1


def encode_jpeg(shot: Shot) -> bytes:
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = shot.width, shot.height, "yuvj420p"
    codec.time_base = Fraction(1, 1)
    codec.qmin = codec.qmax = QUANTISER_FOR_QUALITY_90
    frame = bgra_frame(shot).reformat(format="yuvj420p")
    packets = [*codec.encode(frame), *codec.encode(None)]
    return b"".join(bytes(packet) for packet in packets)
