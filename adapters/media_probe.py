"""Checks that uploaded bytes really are the media they claim to be, with PyAV
(FFmpeg's decoders), before anything is stored."""

from __future__ import annotations

import io
from collections.abc import Callable
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


def probe_segment(data: bytes) -> MediaInfo:
    """A screen segment as the capture client writes it: H.264 in MPEG-TS. Anything else,
    even a playable image, could not be joined to the call's other segments in an export."""
    return _probe(data, "video", check_segment_kind)


def probe_audio(data: bytes) -> MediaInfo:
    return _probe(data, "audio", lambda container: None)


def probe_image(data: bytes) -> MediaInfo:
    def check_jpeg(container: av.container.InputContainer) -> None:
        _require(container, "a JPEG image", formats=None, codecs={"mjpeg"})

    return _probe(data, "video", check_jpeg)


def check_segment_kind(container: av.container.InputContainer) -> None:
    """Raises unless an opened container holds what a screen segment must (no decoding)."""
    _require(container, "an H.264 video in MPEG-TS", formats={"mpegts"}, codecs={"h264"})


def _require(container: av.container.InputContainer, what: str, *, formats: set[str] | None, codecs: set[str]) -> None:
    if not container.streams.video:
        raise UndecodableMedia(f"expected {what}, got no video stream")
    codec = container.streams.video[0].codec_context.name
    if (formats is not None and container.format.name not in formats) or codec not in codecs:
        raise UndecodableMedia(f"expected {what}, got {codec} in {container.format.name}")


def _probe(data: bytes, kind: str, check_kind: Callable[[av.container.InputContainer], None]) -> MediaInfo:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                raise UndecodableMedia(f"the body holds no {kind} stream")
            check_kind(container)
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
