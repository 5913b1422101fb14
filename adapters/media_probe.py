"""Checks that uploaded bytes really are the media they claim to be, with PyAV
(FFmpeg's decoders), before anything is stored."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av

from domain.errors import InvalidCommand

# Enough decoded frames to know the stream is sound without decoding a long one twice.
FRAMES_TO_CHECK = 3


class UndecodableMedia(InvalidCommand):
    pass


@dataclass(frozen=True)
class MediaInfo:
    codec: str
    duration_ms: int
    width: int = 0
    height: int = 0


def probe_video(data: bytes) -> MediaInfo:
    return _probe(data, "video")


def probe_audio(data: bytes) -> MediaInfo:
    return _probe(data, "audio")


def probe_image(data: bytes) -> MediaInfo:
    info = _probe(data, "video")
    if info.codec != "mjpeg":
        raise UndecodableMedia(f"expected a JPEG image, got {info.codec}")
    return info


def _probe(data: bytes, kind: str) -> MediaInfo:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                raise UndecodableMedia(f"the body holds no {kind} stream")
            stream = streams[0]
            decoded = 0
            for frame in container.decode(stream):
                decoded += 1
                if decoded >= FRAMES_TO_CHECK:
                    break
            if decoded == 0:
                raise UndecodableMedia(f"no {kind} frame could be decoded")
            duration = float(container.duration / av.time_base) if container.duration else 0.0
            return MediaInfo(
                codec=stream.codec_context.name,
                duration_ms=int(duration * 1000),
                width=getattr(stream.codec_context, "width", 0) or 0,
                height=getattr(stream.codec_context, "height", 0) or 0,
            )
    except UndecodableMedia:
        raise
    except (av.FFmpegError, ValueError, EOFError) as error:
        raise UndecodableMedia(f"the body does not decode as {kind}: {error}") from None
