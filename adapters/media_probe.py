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


@dataclass(frozen=True)
class Kind:
    """What an upload must be, checked on the opened container before decoding it."""

    what: str
    formats: frozenset[str]
    codecs: frozenset[str]

    def check(self, container: av.container.InputContainer) -> None:
        if not container.streams.video:
            raise UndecodableMedia(f"expected {self.what}, got no video stream")
        codec, form = container.streams.video[0].codec_context.name, container.format.name
        if form not in self.formats or codec not in self.codecs:
            raise UndecodableMedia(f"expected {self.what}, got {codec} in {form}")


# A screen segment as the capture client writes it. Anything else, even a playable
# image, could not be joined to the call's other segments in an export.
SEGMENT = Kind("an H.264 video in MPEG-TS", frozenset({"mpegts"}), frozenset({"h264"}))
IMAGE = Kind("a JPEG image", frozenset({"jpeg_pipe"}), frozenset({"mjpeg"}))


def probe_segment(data: bytes) -> MediaInfo:
    return _probe(data, "video", SEGMENT)


def probe_audio(data: bytes) -> MediaInfo:
    return _probe(data, "audio", None)


def probe_image(data: bytes) -> MediaInfo:
    return _probe(data, "video", IMAGE)


def _probe(data: bytes, kind: str, expected: Kind | None) -> MediaInfo:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                raise UndecodableMedia(f"the body holds no {kind} stream")
            if expected is not None:
                expected.check(container)
            stream = streams[0]
            decoded = 0
            for _ in container.decode(stream):
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
