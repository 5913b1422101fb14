"""A call's transcript as the domain holds it: utterances on the call's clock.

Telephony, a speech-to-text service or our own transcriber hands one of these
to the ledger; the Recording stores it (its text sealed) as one event per
version. Offsets are milliseconds from the start of the call, as media offsets
are everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import InvalidCommand
from domain.values import require_text

# "unknown" when the source cannot tell (one mixed channel, say).
SPEAKERS = ("agent", "customer", "unknown")


@dataclass(frozen=True, slots=True)
class Word:
    """One word of an utterance and when it was spoken (the word as it appears in the text)."""

    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class Utterance:
    speaker: str  # one of SPEAKERS
    start_ms: int
    end_ms: int
    text: str
    # Optional word timings, in the order the words appear in ``text``; empty when the
    # source gave none.
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the call's clock, [start_ms, end_ms)."""

    start_ms: int
    end_ms: int

    def overlaps(self, other: Span) -> bool:
        return self.start_ms < other.end_ms and other.start_ms < self.end_ms


# Bounds of one transcript: a long call's worth, and no more.
MAX_UTTERANCES = 20_000
MAX_TRANSCRIPT_CHARS = 2_000_000


def require_utterances(utterances: Sequence[Utterance]) -> tuple[Utterance, ...]:
    """The utterances as stored: checked, in time order. Word timings, when given, must time
    every whitespace-separated token of the text, in order."""
    if not isinstance(utterances, Sequence) or isinstance(utterances, str):
        raise InvalidCommand("utterances must be a list")
    if len(utterances) > MAX_UTTERANCES:
        raise InvalidCommand(f"a transcript holds at most {MAX_UTTERANCES} utterances")
    if sum(len(u.text) for u in utterances) > MAX_TRANSCRIPT_CHARS:
        raise InvalidCommand(f"a transcript holds at most {MAX_TRANSCRIPT_CHARS} characters")
    for at, utterance in enumerate(utterances):
        where = f"utterance {at}"
        if utterance.speaker not in SPEAKERS:
            raise InvalidCommand(f"{where}: speaker must be one of {', '.join(SPEAKERS)}")
        if not 0 <= utterance.start_ms <= utterance.end_ms:
            raise InvalidCommand(f"{where}: start_ms and end_ms must satisfy 0 <= start_ms <= end_ms")
        require_text(f"{where} text", utterance.text)
        if utterance.words:
            if len(utterance.words) != len(utterance.text.split()):
                raise InvalidCommand(f"{where}: words must time each whitespace-separated word of the text, in order")
            for word, token in zip(utterance.words, utterance.text.split(), strict=True):
                if word.text != token:
                    raise InvalidCommand(f"{where}: word {word.text!r} is not the text's {token!r}")
                if not 0 <= word.start_ms <= word.end_ms:
                    raise InvalidCommand(f"{where}: word {word.text!r} must satisfy 0 <= start_ms <= end_ms")
    return tuple(sorted(utterances, key=lambda u: (u.start_ms, u.end_ms)))
