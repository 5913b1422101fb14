"""Card numbers spoken in a transcript: where they were said, and the transcript with them masked.

PCI DSS forbids storing a card number (PAN). A transcript is scanned before it is
stored: every hit is masked in the text, and its span on the call's clock drives
muting in playback. The rules, and the choices made where the rules leave room:

- A *run* is a sequence of spoken digits: numerals ("4111", "4111-1111", "09/27"),
  digit words ("four", "oh"/"o"/"zero"/"nought"), "double"/"triple"/"treble" before a
  single digit ("double five" = 55), teens ("eleven" = 11) and tens ("forty" = 40,
  "forty one" = 41). Case and surrounding punctuation ("four.", "(4111,") do not matter.
- A run continues across FILLERS (a short list of hesitations and joining words) and
  across punctuation-only tokens; any other word ends it. Fillers, punctuation, the
  edges of a numeral ("4111", each group of "4111-1111") and the end of an utterance
  mark where the speaker grouped the digits.
- A run continues from one utterance to the next utterance *of the same speaker* when the
  gap between them is at most MAX_GAP_MS, so groups read with pauses (and split into
  utterances by the source, the other party's "uh-huh" in between) stay one run; another
  speaker's words never join it.
- Speech recognition writes some digits as their HOMOPHONES ("for one one ..."): "for"/"fore"
  (4), "to"/"too" (2), "won" (1), "ate" (8). A homophone is a digit only where it touches
  spoken digits of the run, fillers and pauses aside: right before or after a digit token,
  or next to a homophone that is a digit ("for to one ..." is 421...); anywhere else it is
  a word ("thank you for calling", "to be honest"). At a run's edge each homophone is a group
  of its own, so that the run is tried with and without them (below): a stray "to" before a
  card number must not hide the card. It is masked with the run all the same (too wide is
  safe).
- A run is a *hit* when it holds a card number: a window of 13 to 19 of its digits that
  passes the Luhn check. A run of fewer than 13 digits (a phone number) holds none. In a
  run longer than 19 digits (a card followed by its expiry) every window is tried. In a
  run of 13 to 19 digits only windows that start and end where the speaker grouped the
  digits are: the whole run, or a 15-digit card followed by "12/26"; not a 13-15-digit
  window inside "4111 1111 1111 1112", which most invalid 16-digit numbers hold by chance.
  One exception: a 15- or 16-digit window followed by exactly 3 or 4 more digits to the
  run's end (CARD_LENGTHS, CODE_LENGTHS), a card and its security code read as one stream of
  words; this finds some numbers that are not cards, and too wide is safe.
- A hit is masked and muted WHOLE, not only its Luhn window: PCI DSS forbids storing the
  security code at all, and the expiry read with the number is sensitive too, so the digits
  read on from a card in the same run (an expiry, a three-digit code) go with it. A run
  that is no hit (a phone number) is left as it is.
- A hit's span runs from the start of the run's first token carrying a digit to the end
  of its last. With word timings these are the words' own times. Without them, a
  token's time is estimated from its character position, proportionally between the
  utterance's start and end, then widened by the larger of ESTIMATE_MARGIN_MS and a fifth
  of the utterance's duration (speech rate varies along an utterance, and a card number
  is read slower than the words around it) and clamped to the utterance: for muting, too
  wide is safe, too narrow is not. A short utterance is so covered whole.
- Masking: each token that carried a digit of a hit (including a "double" that
  introduced one, and a homophone read as a digit) becomes MASK, one token for one token,
  so ``text.split()`` still aligns with ``words``; the words' texts are masked alike.
  Fillers between the digits stay.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from domain.transcript import Span, Utterance, Word

MIN_DIGITS, MAX_DIGITS = 13, 19
# A security code read straight on from the number, with no pause to mark where the card
# ended (speech recognition writes no punctuation): 15- or 16-digit cards, 3- or 4-digit codes.
CARD_LENGTHS, CODE_LENGTHS = (15, 16), (3, 4)
# Two utterances of one speaker this close belong to one reading (groups with pauses).
MAX_GAP_MS = 10_000
# Without word timings, a token's estimated time is widened by the larger of these.
ESTIMATE_MARGIN_MS = 1_000
ESTIMATE_MARGIN_FRACTION = 5  # a fifth of the utterance's duration
MASK = "[card]"

_DIGIT_WORDS = {
    **{"zero": "0", "oh": "0", "o": "0", "nought": "0", "naught": "0"},
    **{w: str(d) for d, w in enumerate("one two three four five six seven eight nine".split(), start=1)},
}
_TEENS = {
    w: str(n)
    for n, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split(), 10)
}
_TENS = {w: str(d) for d, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_TIMES = {"double": 2, "triple": 3, "treble": 3}
# How speech recognition writes some digits (a digit only beside spoken digits).
_HOMOPHONES = {"for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}
# Said between groups of a number without ending it: hesitations and joining words.
FILLERS = frozenset(
    {"uh", "um", "umm", "uhm", "er", "erm", "ah", "hmm", "mm", "and", "then", "dash", "hyphen", "space"}
    | {"it's", "its", "is", "okay", "ok"}
)
_PUNCTUATION = string.punctuation + "…“”‘’«»–—"
_NUMERAL_SEPARATORS = re.compile("[-–—./,]")
_DASHES = str.maketrans("–—", "--")

type _Ref = tuple[int, int]  # (utterance index, token index)


@dataclass(frozen=True, slots=True)
class CardScan:
    spans: tuple[Span, ...]  # where hits were spoken, sorted, merged where they overlap or touch
    utterances: tuple[Utterance, ...]  # the same utterances with every token carrying a hit's digit masked


def scan_for_cards(utterances: Sequence[Utterance]) -> CardScan:
    """The spans of the card numbers spoken in ``utterances``, and the utterances with them masked
    (in the order given; those without a hit are returned as they are). Word timings, when
    given, are taken to align with ``text.split()``, as ``require_utterances`` checks."""
    tokens = [_tokens(utterance.text) for utterance in utterances]
    masked: dict[int, set[int]] = {}
    spans = []
    for chain in _chains(utterances):
        reader = _Runs()
        for ref, atoms in _read_homophones(_chain_atoms(chain, utterances, tokens)):
            reader.read(ref, atoms)
        for run, groups in reader.finished():
            if _holds_card("".join(digit for digit, _ in run), groups):
                refs = {ref for _, carriers in run for ref in carriers}
                for at, index in refs:
                    masked.setdefault(at, set()).add(index)
                spans.append(_span_of(refs, utterances, tokens))
    scanned = tuple(
        _masked(utterance, tokens[at], masked[at]) if at in masked else utterance
        for at, utterance in enumerate(utterances)
    )
    return CardScan(_merged(spans), scanned)


def _tokens(text: str) -> list[tuple[int, int]]:
    """[first, last) characters of each token of ``text.split()``, in order."""
    positions, at = [], 0
    for token in text.split():
        at = text.index(token, at)
        positions.append((at, at + len(token)))
        at += len(token)
    return positions


def _chains(utterances: Sequence[Utterance]) -> Iterator[list[int]]:
    """Indices of utterances that may hold one run: one speaker's, in time order, each
    starting at most MAX_GAP_MS after the chain's utterances so far ended."""
    order = sorted(range(len(utterances)), key=lambda at: (utterances[at].start_ms, utterances[at].end_ms))
    chains: dict[str, list[int]] = {}  # each speaker's open chain
    ends_ms: dict[str, int] = {}  # when it ends
    for at in order:
        utterance = utterances[at]
        chain = chains.get(utterance.speaker)
        if chain is not None and utterance.start_ms - ends_ms[utterance.speaker] <= MAX_GAP_MS:
            chain.append(at)
            ends_ms[utterance.speaker] = max(ends_ms[utterance.speaker], utterance.end_ms)
            continue
        if chain is not None:
            yield chain
        chains[utterance.speaker], ends_ms[utterance.speaker] = [at], utterance.end_ms
    yield from chains.values()


# What one token says, as atoms: ("numeral", "4111") for a written group of digits,
# ("digits", "4") for "four" and ("digits", "11") for "eleven", ("tens", "4") for "forty",
# ("times", "2") for "double", ("homophone", "4") for "for" (a digit or a word, as its
# neighbours decide), ("pause", "") for a filler or punctuation, and ("word", "") for
# anything that ends a run.
type _Atom = tuple[str, str]
_WORD: tuple[_Atom, ...] = (("word", ""),)
_PAUSE: tuple[_Atom, ...] = (("pause", ""),)
_SAYS_DIGITS = frozenset({"numeral", "digits", "tens", "times"})


def _chain_atoms(
    chain: Iterable[int], utterances: Sequence[Utterance], tokens: Sequence[list[tuple[int, int]]]
) -> list[tuple[_Ref, tuple[_Atom, ...]]]:
    """Each token of the chain's utterances with its atoms, in order; an utterance's end is a pause."""
    atoms: list[tuple[_Ref, tuple[_Atom, ...]]] = []
    for at in chain:
        text = utterances[at].text
        atoms += [((at, index), _atoms(text[first:last])) for index, (first, last) in enumerate(tokens[at])]
        atoms.append(((at, len(tokens[at])), _PAUSE))  # a ref past the last token: a pause carries no digit
    return atoms


def _read_homophones(
    atoms: Sequence[tuple[_Ref, tuple[_Atom, ...]]],
) -> Iterator[tuple[_Ref, tuple[_Atom, ...]]]:
    """The atoms with each homophone read as a digit or a word (see the module's docstring);
    each at a run's edge a group of its own, between two pauses."""
    said = [  # (token, part, kind) of every atom but pauses, which a homophone's neighbours skip
        (at, part, kind)
        for at, (_, of_token) in enumerate(atoms)
        for part, (kind, _) in enumerate(of_token)
        if kind != "pause"
    ]
    reading: dict[tuple[int, int], tuple[_Atom, ...]] = {}  # (token, part) -> how a homophone is read
    first = 0
    while first < len(said):
        if said[first][2] != "homophone":
            first += 1
            continue
        last = first
        while last + 1 < len(said) and said[last + 1][2] == "homophone":
            last += 1
        before = first > 0 and said[first - 1][2] in _SAYS_DIGITS
        after = last + 1 < len(said) and said[last + 1][2] in _SAYS_DIGITS
        for at, part, _ in said[first : last + 1]:
            digit: tuple[_Atom, ...] = (("digits", atoms[at][1][part][1]),)
            if before and after:  # inside a run
                reading[at, part] = digit
            elif before or after:  # at its edge
                reading[at, part] = _PAUSE + digit + _PAUSE
            else:
                reading[at, part] = _WORD
        first = last + 1
    for at, (ref, of_token) in enumerate(atoms):
        if any(kind == "homophone" for kind, _ in of_token):
            of_token = tuple(atom for part, one in enumerate(of_token) for atom in reading.get((at, part), (one,)))
        yield ref, of_token


@lru_cache(maxsize=4096)  # a call's words repeat: most are read once
def _atoms(token: str) -> tuple[_Atom, ...]:
    lowered = token.lower().replace("’", "'")
    bare = lowered.strip(_PUNCTUATION)
    if not bare:
        return _PAUSE  # "-", "...": punctuation said nothing
    groups = _NUMERAL_SEPARATORS.split(bare)  # "4111-1111", "09/27", "1,234.50"
    if all(group.isdecimal() for group in groups):
        atoms = tuple(("numeral", _ascii(group)) for group in groups)
    else:
        atoms = tuple(_atom(part.strip(_PUNCTUATION)) for part in bare.translate(_DASHES).split("-"))
        if ("word", "") in atoms:
            return _WORD
    # Punctuation around a token ("one,", "(4111") marks a group too.
    return (_PAUSE if lowered[0] != bare[0] else ()) + atoms + (_PAUSE if lowered[-1] != bare[-1] else ())


def _ascii(numeral: str) -> str:
    """Any script's decimal digits as ASCII ones."""
    return "".join(str(int(c)) for c in numeral)


def _atom(part: str) -> _Atom:
    if part.isdecimal():
        return ("numeral", _ascii(part))
    if part in _DIGIT_WORDS:
        return ("digits", _DIGIT_WORDS[part])
    if part in _TEENS:
        return ("digits", _TEENS[part])
    if part in _TENS:
        return ("tens", _TENS[part])
    if part in _TIMES:
        return ("times", str(_TIMES[part]))
    if part in _HOMOPHONES:
        return ("homophone", _HOMOPHONES[part])
    if part in FILLERS or not part:
        return ("pause", "")
    return ("word", "")


# One spoken digit and the tokens that carried it ("double" and "five" both carry 5 and 5).
type _Digit = tuple[str, tuple[_Ref, ...]]


class _Runs:
    """Reads one chain's tokens, in order, into runs of spoken digits, each with the
    positions where the speaker grouped its digits."""

    def __init__(self) -> None:
        self.runs: list[tuple[list[_Digit], set[int]]] = []
        self.run: list[_Digit] = []
        self.groups: set[int] = {0}  # positions in the run between two groups of digits
        self.tens: tuple[str, _Ref] | None = None  # "forty", waiting for a unit ("forty one" is 41)
        self.times: tuple[int, _Ref] | None = None  # "double", waiting for its digit

    def read(self, ref: _Ref, atoms: Iterable[_Atom]) -> None:
        for kind, value in atoms:
            if kind in ("digits", "numeral") and len(value) == 1 and self.times:
                count, by = self.times
                self.times = None
                self.run += [(value, (by, ref))] * count
            elif kind == "digits" and len(value) == 1 and value != "0" and self.tens:
                tens, by = self.tens
                self.tens = None
                self.run += [(tens, (by,)), (value, (ref,))]
            elif kind == "digits":
                self._settle()
                self.run += [(digit, (ref,)) for digit in value]
            elif kind == "numeral":
                self._settle()
                self.pause()
                self.run += [(digit, (ref,)) for digit in value]
                self.pause()
            elif kind == "tens":
                self._settle()
                self.tens = (value, ref)
            elif kind == "times":
                self._settle()
                self.times = (int(value), ref)
            elif kind == "pause":
                self.pause()
            else:
                self._end()

    def pause(self) -> None:
        """The speaker paused: the run goes on, and a new group of digits starts."""
        self._settle_tens()
        self.groups.add(len(self.run))

    def finished(self) -> list[tuple[list[_Digit], set[int]]]:
        self._end()
        return self.runs

    def _settle(self) -> None:
        """What is pending cannot be completed: "forty" alone is 40; a "double" not followed by
        a digit is a word like any other, and ends the run."""
        self._settle_tens()
        if self.times:
            self._end()

    def _settle_tens(self) -> None:
        if self.tens:
            tens, by = self.tens
            self.tens = None
            self.run += [(tens, (by,)), ("0", (by,))]

    def _end(self) -> None:
        self.times = None
        self._settle_tens()
        if len(self.run) >= MIN_DIGITS:  # shorter runs (phone numbers) cannot hold a card number
            self.runs.append((self.run, self.groups | {len(self.run)}))
        self.run, self.groups = [], {0}


_LUHN_DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]


def _holds_card(digits: str, groups: set[int]) -> bool:
    """Whether a run holds a card number (see the module's docstring): a window of 13-19 of
    its digits passing the Luhn check; in a run of up to 19 digits, one whose edges are in
    ``groups``."""
    # The Luhn sum doubles every second digit counting from a window's last one: in a window
    # ending at `end`, digit j is doubled when j % 2 == end % 2. sums[p][k] is the sum of the
    # first k digits as a window whose end has parity p weighs them, so each window's sum is
    # one subtraction and a scan is linear in the run's length.
    sums = ([0], [0])
    for j, digit in enumerate(digits):
        value = int(digit)
        for parity in (0, 1):
            sums[parity].append(sums[parity][-1] + (_LUHN_DOUBLED[value] if j % 2 == parity else value))
    length = len(digits)
    edges = range(length + 1) if length > MAX_DIGITS else groups
    return any(
        (sums[end % 2][end] - sums[end % 2][start]) % 10 == 0
        for start in edges
        for end in range(start + MIN_DIGITS, min(length, start + MAX_DIGITS) + 1)
        if end in edges or (end - start in CARD_LENGTHS and length - end in CODE_LENGTHS)
    )


def _span_of(refs: Iterable[_Ref], utterances: Sequence[Utterance], tokens: Sequence[list[tuple[int, int]]]) -> Span:
    times = [_time_of(utterances[at], tokens[at], index) for at, index in refs]
    return Span(min(start for start, _ in times), max(end for _, end in times))


def _time_of(utterance: Utterance, tokens: list[tuple[int, int]], index: int) -> tuple[int, int]:
    """When a token was spoken: its word timing, or an estimate that errs wide (see the module's docstring)."""
    if len(utterance.words) == len(tokens):
        word = utterance.words[index]
        return word.start_ms, word.end_ms
    (first, last), length = tokens[index], tokens[-1][1]
    duration = utterance.end_ms - utterance.start_ms
    margin = max(ESTIMATE_MARGIN_MS, duration // ESTIMATE_MARGIN_FRACTION)
    start = utterance.start_ms + duration * first // length - margin
    end = utterance.start_ms - (-duration * last // length) + margin  # rounded up
    return max(start, utterance.start_ms), min(end, utterance.end_ms)


def _merged(spans: Iterable[Span]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start_ms, s.end_ms)):
        if merged and span.start_ms <= merged[-1].end_ms:
            merged[-1] = Span(merged[-1].start_ms, max(merged[-1].end_ms, span.end_ms))
        else:
            merged.append(span)
    return tuple(merged)


def _masked(utterance: Utterance, tokens: list[tuple[int, int]], indices: set[int]) -> Utterance:
    """The utterance with the given tokens masked, the whitespace between them kept."""
    text, pieces, at = utterance.text, [], 0
    for index, (first, last) in enumerate(tokens):
        pieces += [text[at:first], MASK if index in indices else text[first:last]]
        at = last
    pieces.append(text[at:])
    words = tuple(
        Word(MASK, word.start_ms, word.end_ms) if index in indices else word
        for index, word in enumerate(utterance.words)
    )
    return replace(utterance, text="".join(pieces), words=words)
