"""Speech to text on our own machines, behind a small interface a deployment can fill with a better engine.

``PocketsphinxTranscriber`` runs CMU PocketSphinx 5 (the ``speech`` extra), whose US-English
model ships inside its wheel: nothing is downloaded at run time. The voice file (WAV, or
anything PyAV decodes) is resampled to what that model was trained on, 16 kHz mono 16-bit;
pocketsphinx's endpointer (a voice activity detector) splits each channel at its silences, and
every stretch of speech is decoded as one utterance, its words timed by the decoder's
segmentation. Contact-center voice is often stereo, the agent on the left channel and the
customer on the right: each channel is transcribed on its own and the utterances are merged in
time order. Any other layout is one speaker we cannot name ("unknown").

Audio is streamed through the endpointer a frame at a time: only the stretch of speech being
heard is held (at most ``MAX_UTTERANCE_SECONDS`` of it), so a long call needs no more memory
than a short one beyond its voice file and its transcript.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from itertools import chain
from typing import TYPE_CHECKING, Protocol

import av
import structlog

from adapters.media_probe import UndecodableMedia
from domain.transcript import Utterance, Word

if TYPE_CHECKING:
    from pocketsphinx import Decoder, Endpointer

log = structlog.get_logger(__name__)

# What the wheel's acoustic model was trained on; its filter bank reaches 6.8 kHz.
RATE = 16_000
BYTES_PER_SECOND = 2 * RATE  # 16-bit samples, one channel
# Who speaks on which channel of a stereo recording, as contact centers record them.
CHANNEL_SPEAKERS = ("agent", "customer")
# A stretch of speech with no pause this long is decoded in parts, so memory stays bounded
# (a word may be cut in two where a part ends; a talker who never pauses is rare).
MAX_UTTERANCE_SECONDS = 30
# Each stretch of speech is decoded with this much of the audio before it: the model, trained
# on utterances that begin in silence, otherwise mishears a stretch's first word ("four" as "for").
LEAD_IN_BYTES = BYTES_PER_SECOND // 2
# The endpointer tells of speech up to its window (0.3 s) after it began: the audio kept for
# a lead-in reaches back further than that.
RECENT_BYTES = LEAD_IN_BYTES + BYTES_PER_SECOND
# The decoder's non-words: silence, utterance start and end, noises ("<sil>", "</s>", "[NOISE]").
NON_WORD = re.compile(r"^(<.*>|\[.*\])$")
# The decoder marks an alternative pronunciation of a word: "one(2)".
PRONUNCIATION = re.compile(r"\(\d+\)$")


class Transcriber(Protocol):
    """Turns a recording's voice file into utterances on the file's clock."""

    name: str  # the engine and its version, recorded as the transcript's source

    def transcribe(self, voice: bytes) -> list[Utterance]: ...


class TranscriberUnavailable(RuntimeError):
    """The engine is not installed here (it is an optional extra)."""


class PocketsphinxTranscriber:
    def __init__(self) -> None:
        # Imported here, not at the top: the server starts without the speech extra.
        try:
            import pocketsphinx
        except ImportError as missing:
            raise TranscriberUnavailable(
                "transcribing needs pocketsphinx: install callvault with the speech extra (callvault[speech])"
            ) from missing
        self._pocketsphinx = pocketsphinx
        self.name = f"pocketsphinx {metadata.version('pocketsphinx')}"

    def transcribe(self, voice: bytes) -> list[Utterance]:
        channels, rate = _layout(voice)
        if rate < RATE:
            # Narrowband voice (8 kHz telephony) lacks the upper half of the bands the model
            # listens to: an 8 kHz copy of a call whose digits came out exactly at 22 kHz came
            # out as wrong words. A deployment with such voice wants another engine.
            log.warning("voice sampled below what the speech model was trained on", rate=rate, model_rate=RATE)
        # Dither: a little noise where the audio has no energy at all (digital silence; the empty
        # upper half of 8 kHz voice resampled to 16 kHz); it recognized more of such voice in our
        # trials. Seeded, so a voice file always gives the same transcript.
        decoder = self._pocketsphinx.Decoder(loglevel="ERROR", samprate=RATE, dither=True, seed=1)
        speakers = CHANNEL_SPEAKERS if channels == 2 else ("unknown",)
        utterances: list[Utterance] = []
        for channel, speaker in enumerate(speakers):
            endpointer = self._pocketsphinx.Endpointer(sample_rate=RATE)
            pcm = _decoded(voice, channel if channels == 2 else None)
            utterances.extend(_utterances(decoder, endpointer, _frames(pcm, endpointer.frame_bytes), speaker))
        utterances.sort(key=lambda u: (u.start_ms, u.end_ms))
        log.info("voice transcribed", engine=self.name, channels=channels, utterances=len(utterances))
        return utterances


@contextmanager
def _opened(voice: bytes) -> Iterator[av.container.InputContainer]:
    """The voice file, opened; any failure to read it, then or while it is decoded, is the
    upload's fault, not ours."""
    try:
        with av.open(io.BytesIO(voice), mode="r") as source:
            if not source.streams.audio:
                raise UndecodableMedia("the voice file holds no audio stream")
            yield source
    except (av.FFmpegError, EOFError) as error:
        raise UndecodableMedia(f"the voice file does not decode as audio: {error}") from None


def _layout(voice: bytes) -> tuple[int, int]:
    """The voice file's channels and sample rate."""
    with _opened(voice) as source:
        stream = source.streams.audio[0]
        return int(stream.codec_context.channels), int(stream.rate or 0)


def _decoded(voice: bytes, channel: int | None) -> Iterator[bytes]:
    """The voice at 16 kHz as 16-bit samples, one channel of a stereo file (``channel``) or all
    channels mixed down to one (``None``)."""
    layout = "mono" if channel is None else "stereo"
    resampler = av.AudioResampler(format="s16p", layout=layout, rate=RATE)
    with _opened(voice) as source:
        decoded = (r for frame in source.decode(source.streams.audio[0]) for r in resampler.resample(frame))
        for frame in chain(decoded, resampler.resample(None)):
            yield bytes(frame.planes[channel or 0])[: frame.samples * 2]


def _frames(pcm: Iterator[bytes], size: int) -> Iterator[bytes]:
    """The samples cut into frames of ``size`` bytes; the last may be shorter."""
    pending = bytearray()
    for chunk in pcm:
        pending += chunk
        whole = len(pending) - len(pending) % size
        for at in range(0, whole, size):
            yield bytes(pending[at : at + size])
        del pending[:whole]
    if pending:
        yield bytes(pending)


def _utterances(decoder: Decoder, endpointer: Endpointer, frames: Iterator[bytes], speaker: str) -> Iterator[Utterance]:
    """One utterance per stretch of speech the endpointer finds between silences."""
    size = endpointer.frame_bytes
    speech = bytearray()
    start = 0  # where ``speech`` begins, in bytes on the file's clock
    heard_to = 0  # the end of the last stretch of speech, in bytes
    recent = bytearray()  # the last of the audio fed to the endpointer, which ends at ``fed``
    fed = 0
    for frame in frames:
        recent += frame
        del recent[:-RECENT_BYTES]
        fed += len(frame)
        was_speech = endpointer.in_speech
        heard = endpointer.process(frame) if len(frame) == size else endpointer.end_stream(frame)
        if heard is None:
            continue
        if not was_speech:
            # The speech with a lead-in of what came before it (short of the last stretch).
            start = _whole(endpointer.speech_start)
            lead_in_from = min(start, max(start - LEAD_IN_BYTES, heard_to, fed - len(recent)))
            speech += recent[lead_in_from - fed + len(recent) : start - fed + len(recent)]
            start = lead_in_from
        speech += heard
        if not endpointer.in_speech or len(speech) >= MAX_UTTERANCE_SECONDS * BYTES_PER_SECOND:
            yield from _decode(decoder, bytes(speech), start, speaker)
            start += len(speech)
            heard_to = start
            speech.clear()
    if endpointer.in_speech:  # the file ended mid-speech on a whole frame: what the endpointer still holds
        speech += endpointer.end_stream(b"") or b""
    if speech:
        yield from _decode(decoder, bytes(speech), start, speaker)


def _whole(seconds: float) -> int:
    """The offset in bytes of the sample at ``seconds``."""
    return round(seconds * RATE) * 2


def _decode(decoder: Decoder, speech: bytes, start: int, speaker: str) -> Iterator[Utterance]:
    """The words of ``speech``, which begins ``start`` bytes into the file, as one utterance."""
    # The whole stretch at once: its cepstral mean is then its own, not a running estimate
    # that starts from the model's defaults (which loses the first words of a call).
    decoder.start_utt()
    decoder.process_raw(speech, full_utt=True)
    decoder.end_utt()
    start_ms = start * 1000 // BYTES_PER_SECOND
    ms_per_frame = 1000 / decoder.config["frate"]  # the decoder's frames, 10 ms apart
    words = tuple(
        Word(
            text=PRONUNCIATION.sub("", segment.word),
            start_ms=start_ms + round(segment.start_frame * ms_per_frame),
            end_ms=start_ms + round((segment.end_frame + 1) * ms_per_frame),  # end_frame is inclusive
        )
        for segment in decoder.seg()
        if not NON_WORD.match(segment.word)
    )
    if words:
        yield Utterance(
            speaker=speaker,
            start_ms=words[0].start_ms,
            end_ms=words[-1].end_ms,
            text=" ".join(word.text for word in words),
            words=words,
        )
