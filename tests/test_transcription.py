"""The server's own transcriber, on both engines: `callvault transcribe` finds voices uploaded since
its last run, transcribes them with pocketsphinx (real speech from espeak-ng) and records each
transcript as the system, through the path telephony's take: a card number read out by the
customer is masked and its span recorded near where it was spoken."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from api.cli.main import main
from api.jobs.transcription import Transcription
from domain.commands import EndCall, StartCall
from domain.transcript import Utterance
from domain.values import Actor
from tests.support.api_client import Api
from tests.support.speech import silent_call, spoken_call

pytestmark = pytest.mark.timeout(180)
CARD_WORDS = "four one one one one one one one one one one one one one one one"  # 4111 1111 1111 1111


@pytest.fixture
def transcribe(api: Api, monkeypatch: pytest.MonkeyPatch):
    """`callvault transcribe` against the API's own store, with pocketsphinx."""
    settings = api.components.settings
    if settings.database_url:
        monkeypatch.setenv("CALLVAULT_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("CALLVAULT_DATABASE_URL", raising=False)
        monkeypatch.setenv("CALLVAULT_SQLITE_PATH", settings.sqlite_path)
    for name in ("master_key_file", "media_url", "archive_url"):
        monkeypatch.setenv(f"CALLVAULT_{name.upper()}", getattr(settings, name))
    monkeypatch.setenv("CALLVAULT_TRANSCRIBER", "pocketsphinx")

    def run() -> str:
        result = CliRunner().invoke(main, ["transcribe"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output.strip().splitlines()[-1]

    return run


def test_new_voices_are_transcribed_once_as_the_system_with_card_numbers_masked(api: Api, transcribe) -> None:
    components = api.components
    pbx = components.identity.principal_for(api.tokens["pbx"])
    by = Actor("pbx", "telephony")
    call = spoken_call([("agent", "thank you for calling", 0.5), ("customer", CARD_WORDS, 3.0)])
    [_, card] = call.placed
    started = datetime.now(UTC) - timedelta(minutes=5)
    start = StartCall(
        interaction_id="spoken-1",
        agent_id="agent-n",
        customer_id="cust-7",
        queue="billing",
        direction="inbound",
        tags={},
        occurred_at=started,
        by=by,
    )
    rid = components.lifecycle.start(pbx, start)
    ended = started + timedelta(milliseconds=card.end_ms + 1000)
    components.lifecycle.change(pbx, EndCall(rid, reason="hangup", occurred_at=ended, by=by))
    components.media_ingest.record_voice(
        pbx, rid, call.wav, sha256=hashlib.sha256(call.wav).hexdigest(), recorded_at=ended
    )

    assert transcribe() == "transcribed 1 recording(s)"
    assert transcribe() == "transcribed 0 recording(s)"  # it resumes from its position in the log

    read = api.call("quinn", "GET", f"/v1/recordings/{rid}/transcript")
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["source"].startswith("pocketsphinx 5.")
    by_speaker = {u["speaker"]: u for u in body["utterances"]}
    assert set(by_speaker) == {"agent", "customer"}
    assert by_speaker["customer"]["text"].split().count("[card]") == 16
    assert "one" not in by_speaker["customer"]["text"].split()[-16:]
    # The span lies where the digits were spoken (within half a second of the synthesized speech).
    [span] = body["card_spans"]
    assert card.start_ms - 500 <= span["start_ms"] < span["end_ms"] <= card.end_ms + 500
    events = api.call("aud", "GET", f"/v1/recordings/{rid}/history").json()["events"]
    recorded = [
        (e["type"], e["actor"], e["role"]) for e in events if e["type"] in ("TranscriptRecorded", "CardDataDetected")
    ]
    assert recorded == [("TranscriptRecorded", "transcriber", "system"), ("CardDataDetected", "transcriber", "system")]


class FailsOnSilence:
    """An engine that fails on some voices: the job must log it and go on to the next."""

    name = "test-engine 1"

    def transcribe(self, voice: bytes) -> list[Utterance]:
        if max(voice[44:]) == 0:  # nothing but silence after the WAV header
            raise RuntimeError("the engine gave up on this voice")
        return [Utterance("unknown", 0, 500, "hello")]


def test_a_voice_the_engine_fails_on_is_skipped_and_the_next_is_transcribed(api: Api) -> None:
    components = api.components
    pbx = components.identity.principal_for(api.tokens["pbx"])
    by = Actor("pbx", "telephony")
    started = datetime.now(UTC) - timedelta(minutes=5)
    recordings = []
    for interaction, voice in (
        ("silent-1", silent_call(2.0)),
        ("spoken-2", spoken_call([("agent", "hello", 0.2)]).wav),
    ):
        start = StartCall(
            interaction_id=interaction,
            agent_id="agent-n",
            customer_id="cust-8",
            queue="billing",
            direction="inbound",
            tags={},
            occurred_at=started,
            by=by,
        )
        rid = components.lifecycle.start(pbx, start)
        sha256 = hashlib.sha256(voice).hexdigest()
        components.media_ingest.record_voice(pbx, rid, voice, sha256=sha256, recorded_at=started + timedelta(seconds=3))
        recordings.append(rid)
    job = Transcription(components.ledger, components.views, components.media, components.transcripts, FailsOnSilence())
    assert job.run() == 1
    assert components.ledger.get_recording(recordings[0]).transcript_version == 0
    assert components.ledger.get_recording(recordings[1]).transcript_version == 1
    assert job.run() == 0  # its position moved past both
