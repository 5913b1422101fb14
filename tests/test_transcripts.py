"""Transcripts and spoken card data over HTTP, on both engines: a transcript is stored as versions
with its text sealed and card numbers masked; where card data was spoken outside a pause a
CardDataDetected span is recorded (never the number); playback is silent and frameless there for
everyone but legal's explicitly unredacted viewing, which is recorded as such."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import av
import pytest

from adapters.settings import Settings
from api.cli.demo import demo_plan, record_call
from domain.values import REDACTED
from tests.support.api_client import Api
from tests.support.raw_bytes import database_files, raw_hits

CARD = "4111 1111 1111 1111"  # Luhn-valid (a test number)
PAUSED_CARD = "5555 5555 5555 4444"  # Luhn-valid too, spoken while recording was paused


def principal(api: Api, user: str) -> Any:
    return api.components.identity.principal_for(api.tokens[user])


@pytest.fixture
def rid(api: Api) -> UUID:
    """The demo's call by agent-n (in quinn's team): paused 10-14 s, screen segments at
    0, 5, 14, 19, 29 and 34 s (each one keyframe, then its deltas), a beep every second."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return record_call(
        api.components,
        demo_plan(f"tx-{uuid.uuid4().hex[:8]}"),
        pbx=principal(api, "pbx"),
        agent=principal(api, "agent-n"),
        started_at=started,
    )


def timed(speaker: str, text: str, start_ms: int, step_ms: int) -> dict[str, Any]:
    """An utterance whose words are ``step_ms`` apart, each lasting most of its step."""
    words = [
        {"text": word, "start_ms": start_ms + i * step_ms, "end_ms": start_ms + (i + 1) * step_ms - 100}
        for i, word in enumerate(text.split())
    ]
    return {"speaker": speaker, "start_ms": start_ms, "end_ms": words[-1]["end_ms"], "text": text, "words": words}


def transcript(secret: str) -> dict[str, Any]:
    return {
        "source": "telephony",
        "utterances": [
            {"speaker": "agent", "start_ms": 500, "end_ms": 3000, "text": "Thank you for calling, how can I help?"},
            timed("customer", PAUSED_CARD, 11_000, 500),
            {"speaker": "customer", "start_ms": 15_000, "end_ms": 17_000, "text": f"I want to pay my bill {secret}"},
            timed("customer", CARD, 20_000, 500),
        ],
    }


def put(api: Api, rid: UUID, body: dict[str, Any], user: str = "pbx") -> Any:
    return api.call(user, "PUT", f"/v1/recordings/{rid}/transcript", json=body)


def test_a_transcript_is_stored_masked_sealed_and_versioned(api: Api, settings: Settings, rid: UUID) -> None:
    secret = f"zebra-{uuid.uuid4().hex[:10]}"
    stored = put(api, rid, transcript(secret))
    assert stored.status_code == 200, stored.text
    # Only the card spoken outside the pause is a detection; its span comes from the word timings.
    assert stored.json() == {"applied": True, "version": 1, "card_spans": [{"start_ms": 20_000, "end_ms": 21_900}]}
    again = put(api, rid, transcript(secret))  # telephony's retry
    assert again.json() == {"applied": False, "version": 1, "card_spans": [{"start_ms": 20_000, "end_ms": 21_900}]}

    read = api.call("quinn", "GET", f"/v1/recordings/{rid}/transcript")
    assert read.status_code == 200, read.text
    body = read.json()
    assert (body["version"], body["versions"], body["source"]) == (1, 1, "telephony")
    texts = [u["text"] for u in body["utterances"]]
    assert texts[0] == "Thank you for calling, how can I help?" and texts[2] == f"I want to pay my bill {secret}"
    # Both card numbers are masked, word for word, with their timings kept.
    assert texts[1] == texts[3] == "[card] [card] [card] [card]"
    assert [w["start_ms"] for w in body["utterances"][3]["words"]] == [20_000, 20_500, 21_000, 21_500]
    assert "1111" not in read.text and "5555" not in read.text and "4444" not in read.text
    assert body["card_spans"] == [{"start_ms": 20_000, "end_ms": 21_900}]

    # The history says a transcript and a detection were recorded, never what was said.
    events = api.call("aud", "GET", f"/v1/recordings/{rid}/history").json()["events"]
    recorded = [e for e in events if e["type"] in ("TranscriptRecorded", "CardDataDetected")]
    assert [(e["type"], e["data"].get("version"), e["data"].get("start_ms")) for e in recorded] == [
        ("TranscriptRecorded", 1, None),
        ("CardDataDetected", None, 20_000),
    ]
    assert recorded[0]["data"] == {"version": 1, "source": "telephony", "utterances": 4}
    # The timeline marks the span for the player.
    [card] = [s for s in api.components.playback.timeline(rid).spans if s.kind == "card"]
    assert (card.start_ms, card.end_ms) == (20_000, 21_900)

    # A new version supersedes the first; both stay readable.
    second = transcript(secret)
    second["source"] = "speech-service v2"
    second["utterances"] = second["utterances"][:3]
    assert put(api, rid, second).json()["version"] == 2
    latest = api.call("quinn", "GET", f"/v1/recordings/{rid}/transcript").json()
    assert (latest["version"], latest["versions"], latest["source"], len(latest["utterances"])) == (
        2,
        2,
        "speech-service v2",
        3,
    )
    first = api.call("quinn", "GET", f"/v1/recordings/{rid}/transcript", params={"version": 1}).json()
    assert first["version"] == 1 and len(first["utterances"]) == 4
    # A detection stays once made: the span is still muted for the new version.
    assert latest["card_spans"] == [{"start_ms": 20_000, "end_ms": 21_900}]

    # Every read is recorded.
    api.components.projections.catch_up(views=["audit_trail"])
    trail = api.call("lena", "GET", "/v1/audit", params={"action": "read_transcript", "limit": 100}).json()["items"]
    assert [(r["actor"], r["recording_id"]) for r in trail] == [("quinn", str(rid))] * 3

    # Nothing of what was said is written in clear, and no digit of the card anywhere.
    # (Whole numbers: a lone group such as "4111" turns up in any hex digest now and then.)
    needles = [secret.encode(), CARD.encode(), CARD.replace(" ", "").encode(), PAUSED_CARD.encode(), b"[card]"]
    assert raw_hits(database_files(settings), needles) == []
    assert raw_hits(Path(api.components.settings.media_url).rglob("*"), needles[:4]) == []


def test_who_may_put_and_read_a_transcript(api: Api, rid: UUID) -> None:
    assert put(api, rid, transcript("x")).status_code == 200
    path = f"/v1/recordings/{rid}/transcript"
    for user in ("quinn", "sue", "lena", "agent-n"):
        assert api.call(user, "GET", path).status_code == 200, user
    for user in ("aud", "root", "sam", "agent-s"):  # auditors never hear a call; others are out of scope
        refused = api.call(user, "GET", path)
        assert refused.status_code == 403, user
        assert refused.headers["content-type"].startswith("application/problem+json")
    for user in ("quinn", "agent-n", "lena"):
        assert put(api, rid, transcript("y"), user=user).status_code == 403, user
    assert api.call("quinn", "GET", f"/v1/recordings/{uuid.uuid4()}/transcript").status_code in (403, 404)


@pytest.mark.parametrize(
    "utterance, why",
    [
        ({"speaker": "caller", "start_ms": 0, "end_ms": 10, "text": "hi"}, "speaker"),
        ({"speaker": "agent", "start_ms": 50, "end_ms": 10, "text": "hi"}, "start_ms"),
        ({"speaker": "agent", "start_ms": 0, "end_ms": 10, "text": ""}, "text"),
        ({"speaker": "agent", "start_ms": 0, "end_ms": 10, "text": "hi\x00"}, "text"),
        (
            {
                "speaker": "agent",
                "start_ms": 0,
                "end_ms": 10,
                "text": "two words",
                "words": [{"text": "two", "start_ms": 0, "end_ms": 5}],
            },
            "words",
        ),
        (
            {
                "speaker": "agent",
                "start_ms": 0,
                "end_ms": 10,
                "text": "two words",
                "words": [{"text": "two", "start_ms": 0, "end_ms": 5}, {"text": "birds", "start_ms": 5, "end_ms": 9}],
            },
            "word",
        ),
        ({"speaker": "agent", "start_ms": -1, "end_ms": 10, "text": "hi"}, "start_ms"),
    ],
)
def test_bad_transcripts_are_refused_and_change_nothing(api: Api, rid: UUID, utterance: dict, why: str) -> None:
    before = len(api.components.ledger.history(rid).events)
    refused = put(api, rid, {"source": "telephony", "utterances": [utterance]})
    assert refused.status_code in (400, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert why in refused.text
    assert len(api.components.ledger.history(rid).events) == before


def voice_and_frames(media: bytes) -> tuple[list[tuple[float, float]], list[float]]:
    """(time, loudest sample in that 10-ms window) of the audio, and the video frames' times."""
    loudness: list[tuple[float, float]] = []
    frames: list[float] = []
    with av.open(io.BytesIO(media)) as film:
        audio = film.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
        at = 0
        for frame in film.decode(audio):
            for mono in resampler.resample(frame):
                samples = memoryview(bytes(mono.planes[0])[: mono.samples * 2]).cast("h")
                for start in range(0, len(samples), 80):
                    window = samples[start : start + 80]
                    loudness.append(((at + start) / 8000, max(abs(min(window)), max(window)) / 32768))
                at += mono.samples
    with av.open(io.BytesIO(media)) as film:
        video = film.streams.video[0]
        frames = [float(p.pts * video.time_base) for p in film.demux(video) if p.pts is not None]
    return loudness, frames


def loudest(loudness: list[tuple[float, float]], start: float, end: float) -> float:
    return max(level for at, level in loudness if start <= at < end)


def test_playback_is_silent_and_blank_where_card_data_was_spoken_unless_legal_unredacts(api: Api, rid: UUID) -> None:
    assert put(api, rid, transcript("z")).status_code == 200

    def viewing(user: str, **body: Any) -> Any:
        return api.call(
            user, "POST", f"/v1/recordings/{rid}/viewings", json={"reason_code": "quality_evaluation", **body}
        )

    redacted = viewing("quinn").json()
    loudness, frames = voice_and_frames(api.call("quinn", "GET", redacted["playable_url"]).content)
    # The beeps at 19 s and 22 s are heard; those at 20 s and 21 s, inside the span, are not.
    assert loudest(loudness, 19.0, 19.2) > 0.3 and loudest(loudness, 22.0, 22.2) > 0.3
    assert loudest(loudness, 20.03, 21.87) < 0.01
    # No frame shown during the span is in the file: segment 3 (19-24 s) is cut from 20 s to its
    # end (its next keyframe is segment 5's, at 29 s); the frames before it remain.
    assert any(19.0 <= t < 19.9 for t in frames) and any(t >= 29.0 for t in frames)
    assert not [t for t in frames if 20.0 <= t < 29.0]

    # Quality may not unredact: refused, and the refusal recorded.
    assert viewing("quinn", unredacted=True).status_code == 403
    # Legal may, and the viewing says so in the log and the audit trail.
    unredacted = viewing("lena", unredacted=True)
    assert unredacted.status_code == 201, unredacted.text
    loudness, frames = voice_and_frames(api.call("lena", "GET", unredacted.json()["playable_url"]).content)
    assert loudest(loudness, 20.0, 20.2) > 0.3 and loudest(loudness, 21.0, 21.2) > 0.3
    assert [t for t in frames if 20.0 <= t < 24.0]
    played = [e for e in api.components.ledger.history(rid).events if type(e).__name__ == "Played"]
    assert [(e.actor, e.unredacted) for e in played] == [("quinn", False), ("lena", True)]
    api.components.projections.catch_up(views=["audit_trail"])
    trail = api.call("lena", "GET", "/v1/audit", params={"recording": str(rid), "limit": 1000}).json()["items"]
    assert [(r["actor"], r["detail"].get("unredacted")) for r in trail if r["action"] == "played"] == [
        ("quinn", False),
        ("lena", True),
    ]
    assert any(r["actor"] == "quinn" and r["outcome"] == "refused" for r in trail)


def test_after_a_purge_the_transcript_reads_redacted(api: Api, rid: UUID) -> None:
    secret = f"zebra-{uuid.uuid4().hex[:10]}"
    assert put(api, rid, transcript(secret)).status_code == 200
    # Erasing the customer destroys the recording's keys, as a purge does.
    erased = api.call(
        "lena", "POST", "/v1/erasures", json={"customer_id": "cust-0042", "request_id": "DSR-1", "reason": "GDPR"}
    )
    assert erased.status_code == 200, erased.text
    read = api.call("lena", "GET", f"/v1/recordings/{rid}/transcript").json()
    assert {u["text"] for u in read["utterances"]} == {REDACTED}
    assert secret not in api.call("lena", "GET", f"/v1/recordings/{rid}/history").text
