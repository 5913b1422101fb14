"""Calls with speech in them, synthesized by Debian's espeak-ng, so a test knows what was said,
by whom and when.

    call = spoken_call([("agent", "may I have the card number", 0.5),
                        ("customer", "four one one one one one one one one one one one one one one one", 3.0)])
    call.wav     # WAV bytes: stereo (agent left, customer right) since both speak
    call.placed  # each phrase's speech as it lies on the call's clock, in ms

Each phrase's synthesized speech is trimmed of espeak's own leading and trailing silence, so
it begins exactly at its start time, on silence.
"""

from __future__ import annotations

import io
import subprocess
import wave
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

ESPEAK = "/usr/bin/espeak-ng"
# pocketsphinx's model is US English: it mishears espeak's default (British) voice far more.
VOICE = "en-us"
RATE = 22_050  # espeak-ng's own rate; the transcriber resamples whatever it is given
SPEAKER_CHANNELS = {"agent": 0, "customer": 1}
# Below this a sample counts as espeak's silence (1 % of full scale) when a phrase is trimmed.
QUIET = 328
TAIL_SECONDS = 0.5  # of silence after the last phrase


@dataclass(frozen=True)
class Placed:
    """Where one phrase's speech lies on the call's clock: [start_ms, end_ms)."""

    speaker: str
    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class SpokenCall:
    wav: bytes
    placed: tuple[Placed, ...]


def spoken_call(
    parts: Sequence[tuple[str, str, float]], stereo: bool | None = None, seconds: float = 0.0
) -> SpokenCall:
    """A call in which each part (speaker "agent" or "customer", text, start in seconds) is
    spoken at its start. Stereo, agent left and customer right, when both speak (or when
    ``stereo`` says so); otherwise mono, every part on the one channel. It lasts ``seconds``,
    or until a moment after the last part if that is later."""
    if stereo is None:
        stereo = {speaker for speaker, _, _ in parts} >= set(SPEAKER_CHANNELS)
    channels = [array("h") for _ in range(2 if stereo else 1)]
    placed = []
    for speaker, text, start_s in parts:
        speech = speak(text)
        at = round(start_s * RATE)
        _mix(channels[SPEAKER_CHANNELS[speaker] if stereo else 0], speech, at)
        placed.append(Placed(speaker, text, at * 1000 // RATE, (at + len(speech)) * 1000 // RATE))
    length = max(max(len(channel) for channel in channels) + round(TAIL_SECONDS * RATE), round(seconds * RATE))
    for channel in channels:
        channel.extend(array("h", bytes(2 * (length - len(channel)))))
    return SpokenCall(_wav(channels), tuple(placed))


def silent_call(seconds: float) -> bytes:
    """A mono WAV of nothing but digital silence."""
    return _wav([array("h", bytes(2 * round(seconds * RATE)))])


def speak(text: str) -> array[int]:
    """espeak-ng's speech of ``text`` (16-bit samples at ``RATE``), without its leading and
    trailing silence."""
    out = subprocess.run([ESPEAK, "-v", VOICE, "--stdout", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(out), "rb") as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (RATE, 1, 2)
        # Written to a pipe, the header cannot know the data's length (it says "huge"):
        # reading that many frames reads what there is.
        samples = array("h", reader.readframes(reader.getnframes()))
    loud = [at for at, sample in enumerate(samples) if abs(sample) > QUIET]
    return samples[loud[0] : loud[-1] + 1] if loud else array("h")


def _mix(channel: array[int], speech: array[int], at: int) -> None:
    if len(channel) < at + len(speech):
        channel.extend(array("h", bytes(2 * (at + len(speech) - len(channel)))))
    for offset, sample in enumerate(speech):
        channel[at + offset] = max(-32768, min(32767, channel[at + offset] + sample))


def _wav(channels: list[array[int]]) -> bytes:
    interleaved = array("h", bytes(2 * len(channels) * len(channels[0])))
    for number, channel in enumerate(channels):
        interleaved[number :: len(channels)] = channel
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(len(channels))
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(interleaved.tobytes())
    return out.getvalue()
