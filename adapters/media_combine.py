"""One playable MP4 of a recording: its screen segments on their single clock
(pauses stay gaps, never squeezed) and its voice, for exports.

Video is remuxed, not re-encoded, so the combined file shows exactly the frames
that were stored; the voice is encoded to AAC, which every player plays.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from contextlib import ExitStack
from fractions import Fraction

import av
import structlog

from adapters.media_probe import SEGMENT, UndecodableMedia

log = structlog.get_logger(__name__)
MILLISECOND = Fraction(1, 1000)


def combine(segments: Sequence[tuple[int, bytes]], voice: bytes | None) -> bytes:
    """``segments`` are (start offset in ms from the call's start, MPEG-TS bytes)."""
    ordered = sorted(segments, key=lambda s: s[0])
    out_buffer = io.BytesIO()
    with ExitStack() as opened, av.open(out_buffer, mode="w", format="mp4") as out:
        # Only segments as the capture client writes them (H.264 in MPEG-TS) can share one
        # video stream. Older servers accepted anything that decoded (a JPEG, say); such a
        # segment stays in the export as uploaded, but must not make the film impossible.
        playable = [
            (start_ms, segment)
            for start_ms, data in ordered
            if (segment := _joinable(opened, start_ms, data)) is not None
        ]
        # Every stream must exist before the first packet is written.
        video_out = out.add_stream_from_template(playable[0][1].streams.video[0]) if playable else None
        voice_in = opened.enter_context(av.open(io.BytesIO(voice), mode="r")) if voice is not None else None
        audio_out = out.add_stream("aac", rate=voice_in.streams.audio[0].rate or 8000) if voice_in else None
        last_dts = [-1]  # across segments: rounding of their offsets must not step time back
        if video_out is not None:
            for start_ms, segment in playable:
                _add_segment(out, video_out, start_ms, segment, last_dts)
        if voice_in is not None and audio_out is not None:
            _add_voice(out, audio_out, voice_in)
    return out_buffer.getvalue()


def _joinable(opened: ExitStack, start_ms: int, data: bytes) -> av.container.InputContainer | None:
    """The segment opened, if it is of the kind the combined video is made of."""
    try:
        segment = opened.enter_context(av.open(io.BytesIO(data), mode="r"))
        SEGMENT.check(segment)
    except (UndecodableMedia, av.FFmpegError) as refusal:
        log.warning("segment left out of the combined video", start_offset_ms=start_ms, why=str(refusal))
        return None
    return segment


def _add_segment(
    out: av.container.OutputContainer,
    video_out: av.VideoStream,
    start_ms: int,
    segment: av.container.InputContainer,
    last_dts: list[int],
) -> None:
    video_in = segment.streams.video[0]
    first_pts = None
    for packet in segment.demux(video_in):
        if packet.pts is None or packet.dts is None:
            continue  # the flush packet at the end of the stream
        if first_pts is None:  # the opening keyframe: shown first
            first_pts = packet.pts
        # Place the segment where it was captured on the call's clock.
        shift = int(start_ms * MILLISECOND / video_in.time_base) - first_pts
        # Offsets are whole milliseconds; if that lands a frame on or before the one
        # written last, nudge it just past it so decode order stays strictly increasing.
        shift += max(0, last_dts[0] + 1 - (packet.dts + shift))
        packet.pts += shift
        packet.dts += shift
        last_dts[0] = packet.dts
        packet.stream = video_out
        out.mux(packet)


def _add_voice(
    out: av.container.OutputContainer, audio_out: av.AudioStream, source: av.container.InputContainer
) -> None:
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=audio_out.rate)
    for frame in source.decode(source.streams.audio[0]):
        for resampled in resampler.resample(frame):
            out.mux(audio_out.encode(resampled))
    for resampled in resampler.resample(None):
        out.mux(audio_out.encode(resampled))
    out.mux(audio_out.encode(None))
