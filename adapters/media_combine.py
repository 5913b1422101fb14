"""One playable MP4 of a recording, for the player and for exports alike: its screen
segments on the call's clock (pauses and missing segments stay gaps, never
squeezed: a player holds the last frame through them) and its voice in the same
file (a separate audio element drifts from the video).

Video is remuxed, not re-encoded, so the file shows exactly the frames that were
stored; the voice is encoded to AAC once (``voice_track``: the slow part, so a recording
keeps its track and every rebuild only copies it), which every browser plays. Video
and audio packets are written in time order, so a player streaming the file by byte ranges
finds both at any offset close together. Segments are read one at a time, so a
long call is never held in memory whole.
"""

from __future__ import annotations

import heapq
import io
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from fractions import Fraction
from itertools import chain
from typing import Any

import av
import structlog

from adapters.media_probe import SEGMENT, UndecodableMedia

log = structlog.get_logger(__name__)
MILLISECOND = Fraction(1, 1000)
PEAKS_RATE = 8000  # the voice is read at this rate for its waveform (a peak per 1/peaks_per_second of it)

# A segment's start on the call's clock (ms), and how to read its bytes (MPEG-TS) when its turn comes.
Segment = tuple[int, Callable[[], bytes]]
# [start, end) in ms on the call's clock: where spoken card data must be neither heard nor seen.
Stretch = tuple[int, int]


# Telephony voice is narrowband: 4 bits a sample is transparent for speech (32 kbit/s at
# 8 kHz, 64 at 16 kHz), and encodes several times faster than the encoder's default rate.
AAC_BITS_PER_SAMPLE = 4
AAC_MAX_BIT_RATE = 96_000


def voice_track(voice: bytes, silenced: Sequence[Stretch] = ()) -> bytes:
    """The call's voice (WAV, Opus, …) as AAC in an .m4a, ready to be copied into a playable file;
    silent over the ``silenced`` stretches of the call's clock (the samples are zeroed before they
    are encoded, so nothing of them is in the file)."""
    out_buffer = io.BytesIO()
    with av.open(io.BytesIO(voice), mode="r") as source, av.open(out_buffer, mode="w", format="mp4") as out:
        rate = source.streams.audio[0].rate or 8000
        audio_out = out.add_stream("aac", rate=rate)
        audio_out.bit_rate = min(AAC_MAX_BIT_RATE, AAC_BITS_PER_SAMPLE * rate)
        for _, packet in _audio_packets(source, audio_out, silenced):
            out.mux(packet)
    return out_buffer.getvalue()


def combine(segments: Sequence[Segment], voice: bytes | None, blanked: Sequence[Stretch] = ()) -> bytes:
    """The MP4: video when any segment joins, audio when there is a voice track (``voice_track``'s
    output; either may be absent). No frame shown during a ``blanked`` stretch is written: a
    segment's frames are left out from the stretch's start to its next keyframe after the
    stretch's end (a frame in between could not be decoded without those before it)."""
    ordered = sorted(segments, key=lambda s: s[0])
    out_buffer = io.BytesIO()
    with ExitStack() as opened, av.open(out_buffer, mode="w", format="mp4") as out:
        # Every stream must exist before the first packet is written: the first segment
        # that joins gives the video stream its parameters.
        segment_files = _joinable(opened, ordered)
        first = next(segment_files, None)
        video_out = out.add_stream_from_template(first[1].streams.video[0]) if first else None
        voice_in = opened.enter_context(av.open(io.BytesIO(voice), mode="r")) if voice is not None else None
        audio_out = out.add_stream_from_template(voice_in.streams.audio[0]) if voice_in else None
        streams: list[Iterator[tuple[float, Any]]] = []
        if first is not None and video_out is not None:
            streams.append(_video_packets(first, segment_files, video_out, blanked))
        if voice_in is not None and audio_out is not None:
            streams.append(_copied_audio(voice_in, audio_out))
        for _, packet in heapq.merge(*streams, key=lambda timed: timed[0]):
            out.mux(packet)
    return out_buffer.getvalue()


def _joinable(opened: ExitStack, ordered: Sequence[Segment]) -> Iterator[tuple[int, av.container.InputContainer]]:
    """Each segment opened in turn, if it is of the kind the combined video is made of."""
    for start_ms, read in ordered:
        # Only segments as the capture client writes them (H.264 in MPEG-TS) can share one
        # video stream. Older servers accepted anything that decoded (a JPEG, say); such a
        # segment stays in the export as uploaded, but must not make the film impossible.
        try:
            segment = opened.enter_context(av.open(io.BytesIO(read()), mode="r"))
            SEGMENT.check(segment)
        except (UndecodableMedia, av.FFmpegError) as refusal:
            log.warning("segment left out of the combined video", start_offset_ms=start_ms, why=str(refusal))
            continue
        yield start_ms, segment


def _video_packets(
    first: tuple[int, av.container.InputContainer],
    rest: Iterator[tuple[int, av.container.InputContainer]],
    video_out: av.VideoStream,
    blanked: Sequence[Stretch],
) -> Iterator[tuple[float, Any]]:
    last_dts = -1  # across segments: rounding of their offsets must not step time back
    for start_ms, segment in _chain(first, rest):
        video_in = segment.streams.video[0]
        first_pts = None
        skipping = False  # inside a blanked stretch, or after one until the next keyframe
        for packet in segment.demux(video_in):
            if packet.pts is None or packet.dts is None:
                continue  # the flush packet at the end of the stream
            if first_pts is None:  # the opening keyframe: shown first
                first_pts = packet.pts
            shown_ms = start_ms + int((packet.pts - first_pts) * video_in.time_base * 1000)
            if _within(shown_ms, blanked):
                skipping = True
            elif skipping and packet.is_keyframe:
                skipping = False
            if skipping:
                continue
            # Place the segment where it was captured on the call's clock.
            shift = int(start_ms * MILLISECOND / video_in.time_base) - first_pts
            # Offsets are whole milliseconds; if that lands a frame on or before the one
            # written last, nudge it just past it so decode order stays strictly increasing.
            shift += max(0, last_dts + 1 - (packet.dts + shift))
            packet.pts += shift
            packet.dts += shift
            last_dts = packet.dts
            packet.stream = video_out
            yield float(packet.dts * video_in.time_base), packet
        segment.close()  # done with it: a long call is read one segment at a time


def _chain(
    first: tuple[int, av.container.InputContainer], rest: Iterator[tuple[int, av.container.InputContainer]]
) -> Iterator[tuple[int, av.container.InputContainer]]:
    yield first
    yield from rest


def _copied_audio(source: av.container.InputContainer, audio_out: av.AudioStream) -> Iterator[tuple[float, Any]]:
    audio_in = source.streams.audio[0]
    for packet in source.demux(audio_in):
        if packet.dts is None:
            continue  # the flush packet at the end of the stream
        at = float(packet.dts * audio_in.time_base)
        packet.stream = audio_out
        yield at, packet


def _audio_packets(
    source: av.container.InputContainer, audio_out: av.AudioStream, silenced: Sequence[Stretch] = ()
) -> Iterator[tuple[float, Any]]:
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=audio_out.rate)
    time_base = Fraction(1, audio_out.rate)
    silenced_samples = [(start * audio_out.rate // 1000, -(-end * audio_out.rate // 1000)) for start, end in silenced]
    at_sample = 0  # the voice starts with the call: sample n is at n / rate on the call's clock

    def timed(packets: list[Any]) -> Iterator[tuple[float, Any]]:
        for packet in packets:
            yield float((packet.dts or 0) * (packet.time_base or time_base)), packet

    for frame in chain(
        (r for decoded in source.decode(source.streams.audio[0]) for r in resampler.resample(decoded)),
        resampler.resample(None),
    ):
        if silenced_samples:
            _silence(frame, at_sample, silenced_samples)
        at_sample += frame.samples
        yield from timed(audio_out.encode(frame))
    yield from timed(audio_out.encode(None))


def _silence(frame: av.AudioFrame, first_sample: int, stretches: Sequence[tuple[int, int]]) -> None:
    """Zeroes the frame's samples (mono, 32-bit float) that fall in any of the stretches."""
    samples = array("f")
    samples.frombytes(bytes(frame.planes[0])[: frame.samples * 4])
    touched = False
    for start, end in stretches:
        low, high = max(start - first_sample, 0), min(end - first_sample, frame.samples)
        if low < high:
            samples[low:high] = array("f", bytes(4 * (high - low)))
            touched = True
    if touched:
        frame.planes[0].update(samples.tobytes() + bytes(frame.planes[0])[frame.samples * 4 :])


def _within(at_ms: int, stretches: Sequence[Stretch]) -> bool:
    return any(start <= at_ms < end for start, end in stretches)


def voice_peaks(voice: bytes, per_second: int) -> list[float]:
    """The voice's loudness envelope: the largest amplitude (0..1) in each 1/``per_second`` s,
    so a browser draws the waveform without decoding the audio itself."""
    bucket = PEAKS_RATE // per_second
    peaks: list[float] = []
    pending = array("h")
    resampler = av.AudioResampler(format="s16", layout="mono", rate=PEAKS_RATE)
    with av.open(io.BytesIO(voice), mode="r") as source:
        decoded = (r for frame in source.decode(source.streams.audio[0]) for r in resampler.resample(frame))
        for frame in chain(decoded, resampler.resample(None)):
            pending.frombytes(bytes(frame.planes[0])[: frame.samples * 2])
            whole = len(pending) - len(pending) % bucket
            peaks.extend(_bucket_peaks(pending[:whole], bucket))
            del pending[:whole]
    peaks.extend(_bucket_peaks(pending, bucket))
    return peaks


def _bucket_peaks(samples: array[int], bucket: int) -> Iterator[float]:
    for at in range(0, len(samples), bucket):
        part = samples[at : at + bucket]
        yield round(max(max(part), -min(part)) / 32768, 3)
