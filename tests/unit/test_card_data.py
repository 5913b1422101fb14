"""Spoken card numbers: which runs of spoken digits are hits (homophones such as "for" read as
digits beside them), their spans on the call's clock, and the transcript with them masked whole,
expiry and security code included (domain/card_data.py)."""

from __future__ import annotations

import random
import time

import pytest

from domain.card_data import FILLERS, MASK, MAX_GAP_MS, scan_for_cards
from domain.transcript import SPEAKERS, Span, Utterance, Word

DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
VISA = "4111111111111111"
# How speech recognition writes some digits, spelled out or as a homophone.
SAID_AS = {
    "0": ["zero", "oh", "o"],
    "1": ["one", "won"],
    "2": ["two", "to", "too"],
    "4": ["four", "for", "fore"],
    "8": ["eight", "ate"],
}


def luhn_valid(number: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def with_check_digit(payload: str) -> str:
    return next(payload + d for d in "0123456789" if luhn_valid(payload + d))


def spoken(number: str) -> str:
    return " ".join(DIGIT_WORDS[int(d)] for d in number)


def said(text: str, start_ms: int = 0, end_ms: int | None = None, speaker: str = "customer") -> Utterance:
    return Utterance(speaker, start_ms, start_ms + 10_000 if end_ms is None else end_ms, text)


def timed(text: str, start_ms: int = 0, word_ms: int = 400, speaker: str = "customer") -> Utterance:
    """An utterance with word timings: one word every word_ms, each lasting 300 ms."""
    words = tuple(Word(w, start_ms + i * word_ms, start_ms + i * word_ms + 300) for i, w in enumerate(text.split()))
    return Utterance(speaker, start_ms, words[-1].end_ms, text, words)


def texts(scan_utterances: tuple[Utterance, ...]) -> list[str]:
    return [u.text for u in scan_utterances]


def test_luhn_helpers_agree_with_known_test_cards() -> None:
    assert luhn_valid(VISA) and luhn_valid("378282246310005") and not luhn_valid("4111111111111112")
    assert with_check_digit("411111111111111") == VISA


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        spoken(VISA),
        "four one one one 1111 one one one one 1111",  # mixed
        "four triple one, double one double one, one one one one, one one one one",
        "Four, ONE. one! one? (1111) 'one' one one one... ONE-ONE-ONE-ONE",  # punctuation and case
        "4111 uh 1111 um and 1111 dash 1111",  # fillers
        "forty one eleven eleven eleven eleven eleven eleven eleven",  # tens and teens
        "for one won one, one one won one, one one one one, one one one Won",  # homophones
        "for uh one one one one one one one one one one one one one one one",  # one before a filler
    ],
)
def test_a_card_number_spoken_any_way_is_found_and_masked(text: str) -> None:
    scan = scan_for_cards([said(f"my card number is {text} thanks", 1_000, 9_000)])
    assert len(scan.spans) == 1
    masked = scan.utterances[0].text.split()
    assert masked[:4] == ["my", "card", "number", "is"] and masked[-1] == "thanks"
    assert len(masked) == len(text.split()) + 5
    assert [m == MASK for m in masked[4:-1]] == [t.lower() not in FILLERS for t in text.split()]


POCKETSPHINX = "for one one one one one one one one one one one one one one one"  # espeak-ng saying VISA


def test_the_card_in_pocketsphinx_output_is_found_homophone_and_all() -> None:
    utterance = timed(POCKETSPHINX, 3_000)
    scan = scan_for_cards([utterance])
    assert scan.spans == (Span(utterance.words[0].start_ms, utterance.words[15].end_ms),)
    assert scan.utterances[0].text == " ".join([MASK] * 16)


def test_homophones_are_digits_only_where_they_touch_spoken_digits() -> None:
    transcript = [
        said("thank you for calling, how can I help you today?", 0, 3_000, speaker="agent"),
        said(f"to be honest I want to pay for this with {VISA} thanks for waiting", 4_000, 12_000),
        said("it is too late for two of them, ate at eight, won one to four", 30_000),  # no run of 13
        said("for won won won won won won won won won won won won won won won", 60_000),  # never on their own
    ]
    scan = scan_for_cards(transcript)
    assert len(scan.spans) == 1
    assert texts(scan.utterances) == [
        transcript[0].text,
        f"to be honest I want to pay for this with {MASK} thanks for waiting",
        transcript[2].text,
        transcript[3].text,
    ]


def test_homophones_inside_a_run_are_digits() -> None:
    for payload, digits in (
        ("four one one one for one one one one one one one one one one", "411141111111111"),
        ("four to won ate for too won ate fore to won ate FOR too won", "421842184218421"),
        ("four one one one fore, um, too won won ate 1111 for uh too", "411142118111142"),
    ):
        text = f"{payload} {DIGIT_WORDS[int(with_check_digit(digits)[-1])]}"
        scan = scan_for_cards([said(f"it's {text} thanks")])
        assert len(scan.spans) == 1, text
        tokens = text.split()
        assert scan.utterances[0].text.split() == [
            "it's",
            *[t if t.strip(",") in FILLERS else MASK for t in tokens],
            "thanks",
        ]


def test_a_homophone_at_a_runs_edge_is_tried_with_and_without_and_masked_with_the_run() -> None:
    assert not any(luhn_valid(number) for number in ("2" + VISA, VISA + "8", "24" + VISA[1:], "4" + VISA))
    for text, masked in (
        (f"to {spoken(VISA)}. Bye", [MASK] * 17 + ["Bye"]),  # "to" would make the run fail
        (f"{spoken(VISA)} ate. Bye", [MASK] * 17 + ["Bye"]),
        (f"to for {spoken(VISA[1:])}. Bye", [MASK] * 17 + ["Bye"]),  # each of a block is tried
        (f"I am paying for {VISA}. Bye", ["I", "am", "paying", MASK, MASK, "Bye"]),
    ):
        scan = scan_for_cards([said(text)])
        assert len(scan.spans) == 1, text
        assert scan.utterances[0].text.split() == masked


def test_zero_is_said_as_zero_oh_or_o() -> None:
    card = "5105105105105100"  # a Mastercard test number
    text = spoken(card).replace("zero", "oh", 1).replace("zero", "o", 1).replace("zero", "ZERO", 1)
    assert {"oh", "o", "ZERO", "zero"} <= set(text.split())
    assert len(scan_for_cards([said(text)]).spans) == 1


def test_13_and_19_digit_numbers_are_found() -> None:
    thirteen, nineteen = with_check_digit("422222222222"), with_check_digit("622126" + "0" * 11 + "1")
    assert (len(thirteen), len(nineteen)) == (13, 19)
    for number in (thirteen, nineteen):
        scan = scan_for_cards([said(f"it is {spoken(number)} ok", 0, 8_000)])
        assert len(scan.spans) == 1
        assert scan.utterances[0].text == " ".join(["it", "is", *[MASK] * len(number), "ok"])


def test_luhn_invalid_numbers_short_runs_and_phone_numbers_are_not_hits() -> None:
    transcript = [
        said("my card is 4111 1111 1111 1112", 0),  # fails the Luhn check
        said("call me back on 555 123 4567 please", 20_000),  # a phone number: 10 digits
        said("or on one eight hundred five five five one two three four", 40_000),
        said(f"or {with_check_digit('555123456')}", 30_000),  # a Luhn-valid one
        said("twelve digits 4111 1111 then 1111", 60_000),  # "then" joins, "digits" breaks
    ]
    scan = scan_for_cards(transcript)
    assert scan.spans == ()
    assert scan.utterances == tuple(transcript)


def test_any_other_word_ends_the_run() -> None:
    assert scan_for_cards([said("4111 1111 hello 1111 1111")]).spans == ()
    assert scan_for_cards([said("4111 1111 double 1111 1111")]).spans == ()  # "double" before no digit
    assert len(scan_for_cards([said("4111 1111 and 1111 1111")]).spans) == 1


def test_groups_read_across_utterances_of_one_speaker_with_short_pauses_are_one_hit() -> None:
    first = timed("it's four one one one one one one one", 5_000)
    backchannel = timed("uh-huh", first.end_ms + 500, speaker="agent")
    second = timed("one one one one one one one one thanks", first.end_ms + 3_000)
    scan = scan_for_cards([first, backchannel, second])
    assert scan.spans == (Span(first.words[1].start_ms, second.words[7].end_ms),)
    assert texts(scan.utterances) == [f"it's {' '.join([MASK] * 8)}", "uh-huh", f"{' '.join([MASK] * 8)} thanks"]


def test_runs_do_not_continue_across_speakers_or_long_pauses() -> None:
    customer = said("four one one one one one one one", 0, 4_000)
    agent = said("one one one one one one one one", 5_000, 9_000, speaker="agent")
    assert scan_for_cards([customer, agent]).spans == ()
    late = said("one one one one one one one one", 4_000 + MAX_GAP_MS + 1, 4_000 + MAX_GAP_MS + 5_000)
    assert scan_for_cards([customer, late]).spans == ()
    in_time = said("one one one one one one one one", 4_000 + MAX_GAP_MS, 4_000 + MAX_GAP_MS + 5_000)
    assert len(scan_for_cards([customer, in_time]).spans) == 1


def test_a_card_read_on_with_its_expiry_or_code_is_masked_whole() -> None:
    scan = scan_for_cards([timed(f"it's {spoken('5105105105105100')} one two two six thanks", 1_000)])  # 20
    assert scan.spans == (Span(1_400, 1_000 + 20 * 400 + 300),)  # from its first digit to the expiry's last
    assert scan.utterances[0].text == " ".join(["it's", *[MASK] * 20, "thanks"])
    amex = "3782 822463 10005"
    assert not luhn_valid(amex.replace(" ", "") + "1226")  # 19 digits: found in its groups
    assert texts(scan_for_cards([said(f"{amex} 12/26, 123")]).utterances) == [" ".join([MASK] * 5)]
    scan = scan_for_cards([said(f"{spoken(amex.replace(' ', ''))}, one two two six, um, four five six. Bye")])
    assert scan.utterances[0].text.split() == [*[MASK] * 19, "um,", *[MASK] * 3, "Bye"]  # the filler stays


def test_only_the_run_holding_a_card_is_masked_not_a_phone_number_beside_it() -> None:
    scan = scan_for_cards([timed("5105105105105100 1226 thanks and my number is 555 123 4567", 0)])
    assert scan.spans == (Span(0, 400 + 300),)
    assert scan.utterances[0].text == f"{MASK} {MASK} thanks and my number is 555 123 4567"


def test_only_the_groups_the_speaker_made_bound_a_window_in_a_short_run() -> None:
    # 16 digits failing the check, though digits 4-16 would pass: no hit.
    assert luhn_valid("1111111111112") and not luhn_valid("4111111111111112")
    for said_so in ("4111 1111 1111 1112", spoken("4111111111111112"), "four one one one, 1111 1111 1112"):
        assert scan_for_cards([said(said_so)]).spans == ()
    assert len(scan_for_cards([said("four one one one, 1111111111112")]).spans) == 1


def test_two_cards_in_one_call_give_two_spans_in_order() -> None:
    amex = "378282246310005"
    scan = scan_for_cards([timed(f"first {spoken(amex)}", 60_000), timed("then 4111 1111 1111 1111 done", 1_000)])
    assert len(scan.spans) == 2
    assert scan.spans[0] == Span(1_400, 1_400 + 3 * 400 + 300)  # the four numerals of the second utterance
    assert scan.spans[1] == Span(60_400, 60_000 + 15 * 400 + 300)
    assert texts(scan.utterances) == [" ".join(["first", *[MASK] * 15]), f"then {' '.join([MASK] * 4)} done"]


def test_spans_come_from_word_timings_exactly() -> None:
    utterance = timed(f"yes it is {spoken(VISA)} and that is all", 12_345, word_ms=333)
    first, last = utterance.words[3], utterance.words[3 + 15]
    assert (first.text, last.text) == ("four", "one")
    assert scan_for_cards([utterance]).spans == (Span(first.start_ms, last.end_ms),)


def test_without_word_timings_the_span_covers_the_digits_and_stays_in_the_utterance() -> None:
    before, after = "so the long number on the front of my card is", "and I think that is everything you need from me"
    text = f"{before} {spoken(VISA)} {after}"
    utterance = said(text, 30_000, 60_000)
    # Where the digits were if speech were even per character, and 2 s either way of that
    # (a card read slower than the words around it).
    share = 30_000 / len(text)
    even = Span(30_000 + int(len(before) * share), 30_000 + int((len(before) + 1 + len(spoken(VISA))) * share))
    slow = Span(even.start_ms - 2_000, even.end_ms + 2_000)
    (span,) = scan_for_cards([utterance]).spans
    assert utterance.start_ms < span.start_ms <= slow.start_ms and slow.end_ms <= span.end_ms < utterance.end_ms


def test_a_short_utterance_without_timings_is_covered_whole() -> None:
    assert scan_for_cards([said(spoken(VISA), 2_000, 7_000)]).spans == (Span(2_000, 7_000),)


def test_masking_leaves_no_digit_of_the_hit_and_keeps_words_aligned() -> None:
    utterance = timed("number is four triple one 1111-1111 one double one one. Expires 09/27, ok?", 0)
    scan = scan_for_cards([utterance])
    (masked,) = scan.utterances
    assert masked.text == f"number is {' '.join([MASK] * 8)} Expires 09/27, ok?"
    assert [w.text for w in masked.words] == masked.text.split()
    assert [(w.start_ms, w.end_ms) for w in masked.words] == [(w.start_ms, w.end_ms) for w in utterance.words]
    assert not {*DIGIT_WORDS, "triple", "double"} & set(masked.text.lower().split())
    assert not any(c.isdigit() for c in masked.text.replace("09/27", ""))
    assert scan_for_cards(scan.utterances).spans == ()  # nothing left to find


def test_masking_keeps_the_whitespace_between_tokens() -> None:
    scan = scan_for_cards([said("card:\n\t4111  1111\u00a01111 1111 \nbye ")])
    assert scan.utterances[0].text == f"card:\n\t{MASK}  {MASK}\u00a0{MASK} {MASK} \nbye "


def test_a_run_longer_than_19_digits_is_a_hit_when_any_window_passes_and_is_masked_whole() -> None:
    # 20 digits, of which digits 5-20 are a card: the four fives said before it go with it.
    scan = scan_for_cards([timed("five five five five 4111 1111 1111 1111", 0)])
    assert scan.spans == (Span(0, 7 * 400 + 300),)
    assert scan.utterances[0].text == " ".join([MASK] * 8)
    rng = random.Random(20)
    no_card = next(
        number
        for number in ("".join(rng.choice("0123456789") for _ in range(20)) for _ in range(10_000))
        if not any(luhn_valid(number[s:e]) for s in range(8) for e in range(s + 13, min(20, s + 19) + 1))
    )
    assert scan_for_cards([said(spoken(no_card))]).spans == ()


def test_a_run_of_one_repeated_digit_is_not_special() -> None:
    assert len(scan_for_cards([said(spoken("0" * 13))]).spans) == 1


def test_spoken_cards_in_random_groups_are_all_found() -> None:
    rng = random.Random(15)
    fillers = ["uh", "um", "and", "dash", "okay", "-", "..."]
    for _ in range(500):
        card = with_check_digit("".join(rng.choice("0123456789") for _ in range(rng.randint(12, 18))))
        parts: list[list[tuple[str, bool]]] = [[("my", False), ("number", False), ("is", False)]]
        at = 0
        while at < len(card):
            group = card[at : at + rng.randint(1, 5)]
            at += len(group)
            spoken_as = [group] if rng.random() < 0.3 else _words(group, rng)
            parts[-1] += [(token, True) for token in spoken_as]
            if rng.random() < 0.3:
                parts[-1].append((rng.choice(fillers), False))
            if rng.random() < 0.2 and at < len(card):
                parts.append([])  # a pause: the source starts a new utterance
        parts[-1].append(("thanks,", False))
        utterances, spoken_at, clock = [], [], 0
        for part in parts:
            text = " ".join(token for token, _ in part)
            if rng.random() < 0.5:
                utterance = timed(text, clock)
                times = [(w.start_ms, w.end_ms) for w in utterance.words]
            else:  # no word timings: say each token takes as long
                utterance = said(text, clock, clock + 400 * len(part))
                times = [(clock + 400 * i, clock + 400 * (i + 1)) for i in range(len(part))]
            utterances.append(utterance)
            spoken_at += [when for when, (_, of_card) in zip(times, part, strict=True) if of_card]
            clock = utterance.end_ms + rng.randint(0, MAX_GAP_MS)
        scan = scan_for_cards(utterances)
        for start_ms, end_ms in spoken_at:
            assert any(s.start_ms <= start_ms and end_ms <= s.end_ms for s in scan.spans), (card, parts)
        masked = [token for u in scan.utterances for token in u.text.split()]
        assert masked == [MASK if of_card else token for part in parts for token, of_card in part], (card, parts)


def _words(group: str, rng: random.Random) -> list[str]:
    """A group as words, with "oh" or "o" for some zeros, homophones ("for") for some other
    digits, as speech recognition writes them, and "double"/"triple" for repeats."""
    words, at = [], 0
    while at < len(group):
        repeat = len(group[at:]) - len(group[at:].lstrip(group[at]))
        times = min(repeat, 3) if repeat > 1 and rng.random() < 0.5 else 1
        word = rng.choice(SAID_AS.get(group[at], [DIGIT_WORDS[int(group[at])]]))
        words += ([{2: "double", 3: "triple"}[times]] if times > 1 else []) + [rng.choice([word, word.upper()])]
        at += times
    return words


def test_an_hour_of_transcript_is_scanned_fast_and_the_same_way_every_time() -> None:
    rng = random.Random(1)
    chatter = "well I called about my bill and the charge of 49 dollars on the fifth".split()
    utterances = [
        said(
            " ".join(rng.choice(chatter) for _ in range(10)),
            i * 3_600,
            i * 3_600 + 3_000,
            rng.choice(SPEAKERS),
        )
        for i in range(1_000)
    ]
    utterances[500] = said(f"it is {spoken(VISA)}", 500 * 3_600, 500 * 3_600 + 3_000)
    started = time.perf_counter()
    scan = scan_for_cards(utterances)
    elapsed = time.perf_counter() - started
    assert len(scan.spans) == 1 and scan == scan_for_cards(utterances)
    assert elapsed < 0.5, f"{elapsed:.3f} s for 10,000 words"


def test_a_card_and_its_security_code_read_as_one_stream_of_words_are_found_and_masked_whole() -> None:
    """Speech recognition writes no punctuation: "four one one ... one seven three seven" is a
    16-digit card and its 3-digit code in one run of 19 digits, grouped nowhere."""
    words = ["four", *["one"] * 15, "seven", "three", "seven"]
    scan = scan_for_cards([Utterance("customer", 0, 19_000, " ".join(words))])
    assert len(scan.spans) == 1
    assert scan.utterances[0].text.split() == [MASK] * 19


def test_a_sixteen_digit_number_that_fails_luhn_followed_by_a_code_is_not_a_card() -> None:
    words = ["four", *["one"] * 14, "two", "seven", "three", "seven"]  # 4111...1112 fails the check
    scan = scan_for_cards([Utterance("customer", 0, 19_000, " ".join(words))])
    assert scan.spans == ()
