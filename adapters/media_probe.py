"""Checks that uploaded bytes really are the media they claim to be, with PyAV
(FFmpeg's demuxers and decoders), before anything is stored."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

import av

from domain.errors import InvalidCommand

# Enough decoded frames to know a voice file or an image is sound without decoding a long one twice.
FRAMES_TO_CHECK = 3

# A screen segment is opened without decoding anything: FFmpeg's stream probe would decode
# the first frames (up to seven for H.264, to guess its reordering delay) only to learn what
# the H.264 parser already read from the stream's parameter sets. Width, height and format
# come from those; the one frame decoded is the first keyframe, by the probe below.
SEGMENT_OPEN_OPTIONS = {"probesize": "32", "analyzeduration": "0", "skip_frame": "all"}
# A keyframe cut short or damaged would otherwise "decode" with the missing part concealed.
# Its picture is never shown, so the deblocking filter (a tenth of the decoding) is skipped.
STRICT_DECODING = {"err_detect": "bitstream+buffer+explode", "skip_loop_filter": "all"}

Source = bytes | BinaryIO


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


def _readable(source: Source) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    source.seek(0)
    return source


def probe_segment(source: Source) -> MediaInfo:
    """What a player needs of a segment: MPEG-TS holding H.264 of a known size and time base,
    whose first keyframe decodes; its duration from the packets' timestamps, read without
    decoding the other frames."""
    try:
        with av.open(_readable(source), mode="r", options=SEGMENT_OPEN_OPTIONS) as container:
            SEGMENT.check(container)
            stream = container.streams.video[0]
            decoder = stream.codec_context
            if not (decoder.width and decoder.height and stream.time_base):
                raise UndecodableMedia("the H.264 stream declares no picture size or time base")
            decoder.skip_frame, decoder.thread_count = "DEFAULT", 1
            decoder.options = STRICT_DECODING
            keyframe, first, last, count = None, None, None, 0
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue  # the demuxer's end-of-stream marker
                first = packet.pts if first is None else min(first, packet.pts)
                last = packet.pts if last is None else max(last, packet.pts)
                count += 1
                if keyframe is None:
                    keyframe = next(iter(decoder.decode(packet)), None)
            if keyframe is None and count:
                keyframe = next(iter(decoder.decode(None)), None)  # a decoder that holds frames back
            if keyframe is None or not keyframe.key_frame:
                raise UndecodableMedia("the segment's first keyframe does not decode")
            assert first is not None and last is not None  # a frame was decoded, so packets were read
            # The last frame lasts as long as the average one before it.
            span = (last - first) * count / (count - 1) if count > 1 else 0
            return MediaInfo(
                codec=decoder.name,
                duration_ms=int(span * stream.time_base * 1000),
                width=keyframe.width,
                height=keyframe.height,
            )
    except UndecodableMedia:
        raise
    except (av.FFmpegError, ValueError, EOFError) as error:
        raise UndecodableMedia(f"the body does not decode as video: {error}") from None


def probe_audio(source: Source) -> MediaInfo:
    return _probe(source, "audio", None)


def probe_image(source: Source) -> MediaInfo:
    return _probe(source, "video", IMAGE)


def _probe(source: Source, kind: str, expected: Kind | None) -> MediaInfo:
    try:
        with av.open(_readable(source), mode="r") as container:
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
