"""The transcriber on our own machines: real pocketsphinx on speech synthesized by espeak-ng.

pocketsphinx decodes at about a third of real time on two cores, so the calls are short and
each is transcribed once per module.
"""

from __future__ import annotations

import sys
from importlib import metadata

import pytest

from adapters import speech
from adapters.media_probe import UndecodableMedia
from adapters.speech import PocketsphinxTranscriber, Transcriber, TranscriberUnavailable
from domain.transcript import Utterance, require_utterances
from tests.support.speech import Placed, SpokenCall, silent_call, spoken_call

# 4111 1111 1111 1111 passes the Luhn check, as a card number must.
CARD = "four one one one one one one one one one one one one one one one"
TOLERANCE_MS = 500


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return PocketsphinxTranscriber()


@pytest.fixture(scope="module")
def card_call(transcriber: Transcriber) -> tuple[SpokenCall, list[Utterance]]:
    """A stereo call: the agent asks, the customer reads out a card number, the agent thanks."""
    call = spoken_call(
        [
            ("agent", "may I have your card number please", 0.5),
            ("customer", CARD, 3.5),
            ("agent", "thank you", 9.5),
        ]
    )
    return call, transcriber.transcribe(call.wav)


def _placed(call: SpokenCall, speaker: str, text: str) -> Placed:
    return next(p for p in call.placed if (p.speaker, p.text) == (speaker, text))


def _heard_within(utterance: Utterance, placed: Placed) -> bool:
    return placed.start_ms - TOLERANCE_MS <= utterance.start_ms and utterance.end_ms <= placed.end_ms + TOLERANCE_MS


def test_the_spoken_digits_of_a_card_number_come_out_exactly_where_they_were_said(
    card_call: tuple[SpokenCall, list[Utterance]],
) -> None:
    call, utterances = card_call
    placed = _placed(call, "customer", CARD)
    digits = CARD.split()
    words = [word for u in utterances if u.speaker == "customer" for word in u.words]
    runs = [at for at in range(len(words)) if [w.text for w in words[at : at + len(digits)]] == digits]
    assert runs, f"the customer's words were {[w.text for w in words]}"
    first, last = words[runs[0]], words[runs[0] + len(digits) - 1]
    assert abs(first.start_ms - placed.start_ms) <= TOLERANCE_MS
    assert abs(last.end_ms - placed.end_ms) <= TOLERANCE_MS
    # Each digit is timed in turn, none before the one said before it.
    spoken = words[runs[0] : runs[0] + len(digits)]
    assert all(a.end_ms <= b.start_ms for a, b in zip(spoken, spoken[1:], strict=False))


def test_a_stereo_call_is_heard_as_agent_on_the_left_and_customer_on_the_right(
    card_call: tuple[SpokenCall, list[Utterance]],
) -> None:
    call, utterances = card_call
    assert {u.speaker for u in utterances} == {"agent", "customer"}
    for utterance in utterances:
        said = [p for p in call.placed if _heard_within(utterance, p)]
        assert [p.speaker for p in said] == [utterance.speaker], utterance
    # Merged in time order across the two channels.
    assert [u.start_ms for u in utterances] == sorted(u.start_ms for u in utterances)


def test_utterances_split_at_silences_and_are_what_the_ledger_accepts(
    card_call: tuple[SpokenCall, list[Utterance]],
) -> None:
    call, utterances = card_call
    agent = [u for u in utterances if u.speaker == "agent"]
    asked, thanked = _placed(call, "agent", "may I have your card number please"), _placed(call, "agent", "thank you")
    assert any(_heard_within(u, asked) for u in agent) and any(_heard_within(u, thanked) for u in agent)
    assert not any(u.start_ms < asked.end_ms and thanked.start_ms < u.end_ms for u in agent), "one across the pause"
    assert require_utterances(utterances) == tuple(utterances)
    for utterance in utterances:
        assert utterance.text == " ".join(w.text for w in utterance.words)
        assert not any(w.text.startswith(("<", "[")) or "(" in w.text for w in utterance.words)
        assert utterance.start_ms == utterance.words[0].start_ms and utterance.end_ms == utterance.words[-1].end_ms


def test_a_mono_call_is_one_unknown_speaker(transcriber: Transcriber) -> None:
    call = spoken_call([("customer", CARD, 1.0)])
    utterances = transcriber.transcribe(call.wav)
    assert utterances and {u.speaker for u in utterances} == {"unknown"}
    assert all(_heard_within(u, call.placed[0]) for u in utterances)


def test_a_long_stretch_without_a_pause_is_decoded_in_parts_on_the_same_clock(
    transcriber: Transcriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speech, "MAX_UTTERANCE_SECONDS", 1)
    call = spoken_call([("customer", CARD, 1.0)])
    utterances = transcriber.transcribe(call.wav)
    assert len(utterances) >= 3
    assert all(_heard_within(u, call.placed[0]) for u in utterances)
    assert all(a.end_ms <= b.start_ms for a, b in zip(utterances, utterances[1:], strict=False))


def test_silence_gives_no_utterances(transcriber: Transcriber) -> None:
    assert transcriber.transcribe(silent_call(3.0)) == []


@pytest.mark.parametrize("body", [b"", b"this is not a voice recording", b"RIFF\x24\x00\x00\x00WAVEfmt "])
def test_a_body_that_is_not_audio_is_refused_as_undecodable(transcriber: Transcriber, body: bytes) -> None:
    with pytest.raises(UndecodableMedia, match="voice file"):
        transcriber.transcribe(body)


def test_the_engine_names_itself_with_its_version(transcriber: Transcriber) -> None:
    assert transcriber.name == f"pocketsphinx {metadata.version('pocketsphinx')}"


def test_without_the_speech_extra_the_transcriber_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # what an import finds when it is not installed
    with pytest.raises(TranscriberUnavailable, match=r"callvault\[speech\]"):
        PocketsphinxTranscriber()
