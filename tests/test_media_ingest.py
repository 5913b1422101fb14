"""Media ingest over HTTP: checked, stored create-only, evented; refusals leave only an audit entry."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from uuid import UUID

import av
import httpx
import pytest

from adapters.media_probe import probe_segment
from adapters.upload_body import IN_MEMORY
from api.services.capture import AgentCommands
from domain.commands import AddSegment, EndAcw, EndCall, Pause, RequestSnapshot, Resume, StartCall
from domain.recording_policy import PolicyTerms
from domain.values import Actor
from tests.support.api_client import Api

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PBX = Actor("pbx", "telephony")


def ffmpeg(tmp_path: Path, name: str, *args: str) -> bytes:
    out = tmp_path / name
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(out)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("media")
    return {
        "segment": ffmpeg(
            d, "a.ts", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=5", "-t", "2", "-c:v", "libx264", "-f", "mpegts"
        ),
        "other": ffmpeg(
            d, "b.ts", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=5", "-t", "2", "-c:v", "libx264", "-f", "mpegts"
        ),
        "voice": ffmpeg(d, "v.wav", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "3"),
        "jpeg": ffmpeg(d, "s.jpg", "-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1", "-q:v", "2"),
    }


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def call(api: Api, label: str, screen: bool = True) -> UUID:
    """A call in a queue whose screens the policy samples (100%) or not (0%)."""
    ledger = api.components.ledger
    ledger.set_policy(
        terms=PolicyTerms(sampling_by_queue={"unsampled": 0.0}),
        reason="test queues",
        occurred_at=T0,
        by=Actor("root", "admin"),
    )
    return ledger.execute(
        StartCall(
            interaction_id=label,
            agent_id="agent-n",
            customer_id="c",
            queue="q" if screen else "unsampled",
            direction="inbound",
            tags={},
            occurred_at=T0,
            by=PBX,
        )
    )


def put_segment(
    api: Api, rid: UUID, number: int, body: bytes, *, digest: str | None = None, at: float = 1.0, user: str = "agent-n"
):
    params = {
        "sha256": digest or sha(body),
        "captured_at": (T0 + timedelta(seconds=at)).isoformat(),
        "start_offset_ms": int(at * 1000),
        "duration_ms": 2000,
        "monitor": 1,
        "width": 320,
        "height": 240,
        "fps": 5,
    }
    return api.client.put(
        f"/v1/recordings/{rid}/segments/{number}",
        params=params,
        content=body,
        headers={"Authorization": f"Bearer {api.tokens[user]}", "Content-Type": "video/mp2t"},
    )


def stored_files(api: Api) -> list[Path]:
    return sorted(p for p in Path(api.components.settings.media_url).rglob("*") if p.is_file())


def test_segment_is_stored_once_and_evented(api: Api, media: dict[str, bytes]) -> None:
    rid = call(api, "seg-1")
    first = put_segment(api, rid, 0, media["segment"])
    assert first.status_code == 201 and first.json() == {"applied": True}
    again = put_segment(api, rid, 0, media["segment"])
    assert again.status_code == 200 and again.json() == {"applied": False}
    [stored] = stored_files(api)
    at_rest = stored.read_bytes()  # sealed with the recording's key: not a byte of the video in clear
    assert media["segment"][:188] not in at_rest and len(at_rest) == len(media["segment"]) + 4 + 12 + 16
    event = api.components.ledger.history(rid).events[-1]
    assert (event.sequence_number, event.sha256, event.codec, event.fps, event.byte_size) == (
        0,
        sha(media["segment"]),
        "h264",
        5,
        len(media["segment"]),
    )
    assert api.components.media.get(rid, event.media_key) == media["segment"]


def test_different_body_for_the_same_number_is_refused_and_audited(api: Api, media: dict[str, bytes]) -> None:
    rid = call(api, "seg-2")
    put_segment(api, rid, 0, media["segment"])
    clash = put_segment(api, rid, 0, media["other"])
    assert clash.status_code == 409
    assert len(stored_files(api)) == 1 and len(api.components.ledger.history(rid).events) == 2
    refused = api.call("aud", "GET", "/v1/audit", params={"recording": str(rid), "outcome": "refused"}).json()
    assert [(r["action"], r["actor"], r["detail"]["sha256"]) for r in refused["items"]] == [
        ("capture", "agent-n", sha(media["other"]))
    ]


@pytest.mark.parametrize("damage", ["bad hash", "truncated", "undecodable"])
def test_tampered_truncated_or_undecodable_upload_leaves_only_an_audit_entry(
    api: Api, media: dict[str, bytes], damage: str
) -> None:
    rid = call(api, f"seg-{damage}")
    body, digest = media["segment"], sha(media["segment"])
    if damage == "bad hash":
        body = body[:-1] + bytes([body[-1] ^ 1])
    elif damage == "truncated":
        body = body[: len(body) // 2]
    else:
        body, digest = b"\x47" * 4000, sha(b"\x47" * 4000)
    response = put_segment(api, rid, 0, body, digest=digest)
    assert response.status_code == 422, response.text
    assert stored_files(api) == [] and len(api.components.ledger.history(rid).events) == 1
    trail = api.call("aud", "GET", "/v1/audit", params={"recording": str(rid)}).json()["items"]
    assert [(r["action"], r["outcome"]) for r in trail] == [("call_started", "allowed"), ("capture", "refused")]


def test_segment_refused_by_the_rules_is_not_kept(api: Api, media: dict[str, bytes]) -> None:
    rid = call(api, "seg-paused")
    api.components.ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=10), by=PBX))
    response = put_segment(api, rid, 0, media["segment"], at=12)
    assert response.status_code == 409 and response.json()["error"] == "SegmentWhilePaused"
    assert stored_files(api) == []
    unselected = call(api, "seg-unselected", screen=False)
    assert put_segment(api, unselected, 0, media["segment"]).status_code == 409
    assert put_segment(api, rid, 0, media["segment"], user="agent-s").status_code == 403  # not their call


@pytest.mark.parametrize(
    ("refusal", "error"),
    [
        ("screen not selected", "ScreenNotSelected"),
        ("captured while paused", "SegmentWhilePaused"),
        ("captured after ACW", "SegmentAfterAcw"),
    ],
)
def test_a_segment_the_rules_refuse_writes_no_media_object_at_all(
    api: Api, media: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, refusal: str, error: str
) -> None:
    """The recording's rules are asked before the object is written: never written and then taken back."""
    ledger = api.components.ledger
    rid = call(api, f"never-{refusal}", screen=refusal != "screen not selected")
    if refusal == "captured while paused":
        ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=10), by=PBX))
    elif refusal == "captured after ACW":
        ledger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=5), by=PBX))
        ledger.execute(EndAcw(rid, reason="status_change", occurred_at=T0 + timedelta(seconds=8), by=PBX))
    vault, writes = api.components.media, []
    put_new = vault.put_new
    monkeypatch.setattr(vault, "put_new", lambda *args: writes.append(args[1]) or put_new(*args))
    response = put_segment(api, rid, 0, media["segment"], at=12)
    assert response.status_code == 409 and response.json()["error"] == error
    assert writes == [] and stored_files(api) == []
    accepted = call(api, f"kept-{refusal}")
    assert put_segment(api, accepted, 0, media["segment"], at=1).status_code == 201  # the spy sees a write
    assert len(writes) == 1 and len(stored_files(api)) == 1


def test_voice_and_requested_snapshot(api: Api, media: dict[str, bytes]) -> None:
    rid = call(api, "voice-1")
    voice = api.client.put(
        f"/v1/recordings/{rid}/voice",
        content=media["voice"],
        params={"sha256": sha(media["voice"]), "recorded_at": T0.isoformat()},
        headers={"Authorization": f"Bearer {api.tokens['pbx']}"},
    )
    assert voice.status_code == 201
    recorded = api.components.ledger.history(rid).events[-1]
    assert (recorded.codec, recorded.duration_ms) == ("pcm_s16le", 3000)
    requested = api.call(
        "sue", "POST", f"/v1/recordings/{rid}/snapshot-requests", json={"annotation": "customer's address on screen?"}
    )
    assert requested.status_code == 201
    snapshot_id = requested.json()["snapshot_id"]
    api.components.projections.catch_up(views=["recordings"])
    commands = AgentCommands(api.components.ledger, api.components.views, "agent-n").changes()
    assert [c["command"] for c in commands if c["recording_id"] == str(rid)] == ["start", "snapshot"]
    assert commands[-1]["taker"] == "sue" and commands[-1]["annotation"] == "customer's address on screen?"
    taken = api.client.put(
        f"/v1/recordings/{rid}/snapshots/{snapshot_id}",
        content=media["jpeg"],
        params={"sha256": sha(media["jpeg"]), "taken_at": T0.isoformat(), "monitor": 1},
        headers={"Authorization": f"Bearer {api.tokens['agent-n']}"},
    )
    assert taken.status_code == 201
    unasked = api.client.put(
        f"/v1/recordings/{rid}/snapshots/nope",
        content=media["jpeg"],
        params={"sha256": sha(media["jpeg"]), "taken_at": T0.isoformat(), "monitor": 1},
        headers={"Authorization": f"Bearer {api.tokens['agent-n']}"},
    )
    assert unasked.status_code == 409
    row = api.call("lena", "GET", f"/v1/recordings/{rid}").json()["recording"]
    assert (row["voice_recorded"], row["snapshots"]) == (True, 1)


def test_command_stream_follows_the_call(api: Api) -> None:
    rid = call(api, "cmd-1")
    ledger = api.components.ledger
    agent = AgentCommands(api.components.ledger, api.components.views, "agent-n")
    api.components.projections.catch_up(views=["recordings"])
    assert [c["command"] for c in agent.changes()] == ["start"]
    assert agent.changes() == []  # nothing new, nothing sent
    ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=PBX))
    assert [c["command"] for c in agent.changes()] == ["pause"]
    ledger.execute(Resume(rid, reason="pci", occurred_at=T0 + timedelta(seconds=9), by=PBX))
    assert [c["command"] for c in agent.changes()] == ["resume"]
    ledger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=20), by=PBX))
    assert agent.changes() == []  # the screen is recorded through after-call work
    ledger.execute(EndAcw(rid, reason="status_change", occurred_at=datetime.now(UTC), by=PBX))
    api.components.projections.catch_up(views=["recordings"])
    assert [c["command"] for c in agent.changes()] == ["stop"]
    # A client connecting now (or reconnecting) is told to stop too, and nothing else.
    assert [c["command"] for c in AgentCommands(api.components.ledger, api.components.views, "agent-n").changes()] == [
        "stop"
    ]


def test_command_stream_over_http(live_server: tuple[str, dict[str, str]], settings) -> None:
    base_url, tokens = live_server
    headers = {"Authorization": f"Bearer {tokens['pbx']}"}
    started = httpx.post(
        f"{base_url}/v1/recordings",
        headers=headers,
        json={
            "interaction_id": "sse-1",
            "agent_id": "agent-1",
            "customer_id": "c",
            "queue": "q",
            "direction": "inbound",
            "occurred_at": T0.isoformat(),
        },
    )
    assert started.status_code == 201
    with httpx.stream(
        "GET", f"{base_url}/v1/capture/commands", timeout=10, headers={"Authorization": f"Bearer {tokens['agent-1']}"}
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        message = next(json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: "))
    assert (message["command"], message["recording_id"]) == ("start", started.json()["recording_id"])
    refused = httpx.get(f"{base_url}/v1/capture/commands", headers={"Authorization": f"Bearer {tokens['lena']}"})
    assert refused.status_code == 403


def test_capture_report_makes_lost_segments_visible(api: Api, media: dict[str, bytes]) -> None:
    rid = call(api, "report-1")
    put_segment(api, rid, 0, media["segment"], at=1)
    put_segment(api, rid, 2, media["other"], at=5)
    report = api.call(
        "agent-n",
        "POST",
        f"/v1/recordings/{rid}/capture-report",
        json={"segments": 5, "stopped_at": (T0 + timedelta(seconds=12)).isoformat()},
    )
    assert report.status_code == 200 and report.json() == {"applied": True}
    row = api.call("lena", "GET", "/v1/recordings", params={"missing": "true"}).json()["items"][0]
    assert (row["recording_id"], row["missing_segments"], row["expected_segments"]) == (str(rid), [1, 3, 4], 5)
    trail = api.call("aud", "GET", "/v1/audit", params={"recording": str(rid), "action": "capture_reported"})
    assert trail.json()["items"][0]["detail"] == {"segments": 5, "missing": "1,3,4"}


def test_a_segment_must_be_h264_in_mpeg_ts(api: Api, media: dict[str, bytes], tmp_path: Path) -> None:
    """A JPEG decodes as video, but it is no screen segment: refused, nothing kept."""
    rid = call(api, "seg-jpeg")
    as_segment = put_segment(api, rid, 0, media["jpeg"])
    assert as_segment.status_code == 422 and "H.264" in as_segment.json()["detail"], as_segment.text
    in_mp4 = ffmpeg(
        tmp_path, "s.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=5", "-t", "1", "-c:v", "libx264", "-f", "mp4"
    )
    assert put_segment(api, rid, 1, in_mp4).status_code == 422  # the right codec in another container
    declared = api.client.put(
        f"/v1/recordings/{rid}/segments/2",
        content=media["segment"],
        params={
            "sha256": sha(media["segment"]),
            "captured_at": T0.isoformat(),
            "start_offset_ms": 0,
            "duration_ms": 2000,
            "monitor": 1,
            "width": 320,
            "height": 240,
            "fps": 5,
            "codec": "mjpeg",
        },
        headers={"Authorization": f"Bearer {api.tokens['agent-n']}"},
    )
    assert declared.status_code == 422 and declared.headers["content-type"] == "application/problem+json"
    assert stored_files(api) == [] and len(api.components.ledger.history(rid).events) == 1


def test_a_snapshot_must_be_one_jpeg_image(api: Api, media: dict[str, bytes], tmp_path: Path) -> None:
    rid = call(api, "snap-kind")
    api.components.ledger.execute(
        RequestSnapshot(rid, snapshot_id="s1", annotation="look", occurred_at=T0, by=Actor("sue", "supervisor"))
    )
    motion_jpeg = ffmpeg(
        tmp_path, "m.avi", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=5", "-t", "1", "-c:v", "mjpeg", "-f", "avi"
    )
    for body in (motion_jpeg, media["segment"]):
        response = api.client.put(
            f"/v1/recordings/{rid}/snapshots/s1",
            content=body,
            params={"sha256": sha(body), "taken_at": T0.isoformat(), "monitor": 1},
            headers={"Authorization": f"Bearer {api.tokens['agent-n']}"},
        )
        assert response.status_code == 422 and "JPEG image" in response.json()["detail"], response.text
    assert stored_files(api) == []


def test_a_recording_with_a_legacy_jpeg_segment_still_exports(api: Api, media: dict[str, bytes]) -> None:
    """Earlier servers accepted a JPEG as a segment; the recording's export must not fail for ever:
    the combined film leaves it out, the bundle still carries it as uploaded."""
    rid = call(api, "seg-legacy")
    key = f"recordings/{rid}/segments/000000-{sha(media['jpeg'])}.ts"
    api.components.media.put_new(rid, key, media["jpeg"])  # as the old server stored it, and its event:
    api.components.ledger.execute(
        AddSegment(
            rid,
            sequence_number=0,
            start_offset_ms=0,
            duration_ms=2000,
            monitor=1,
            width=320,
            height=240,
            codec="mjpeg",
            byte_size=len(media["jpeg"]),
            sha256=sha(media["jpeg"]),
            media_key=key,
            fps=5,
            occurred_at=T0,
            by=Actor("agent-n", "agent"),
        )
    )
    assert put_segment(api, rid, 1, media["segment"], at=2).status_code == 201
    assert put_segment(api, rid, 2, media["other"], at=4).status_code == 201
    exported = api.call("lena", "POST", f"/v1/recordings/{rid}/exports", json={"reason": "case 7"})
    assert exported.status_code == 201, exported.text
    with zipfile.ZipFile(io.BytesIO(exported.content)) as bundle:
        assert bundle.read(f"media/segments/000000-{sha(media['jpeg'])}.ts") == media["jpeg"]
        combined = bundle.read("media/combined.mp4")
    with av.open(io.BytesIO(combined)) as film:
        [video] = film.streams.video
        assert video.codec_context.name == "h264"
        assert sum(1 for _ in film.decode(video)) == 20  # the two H.264 segments, 2 s at 5 fps each


@pytest.mark.parametrize(
    "snapshot_id",
    ["x" * 5000, "a\x00b", "../../escape", ".hidden", "a b"],
    ids=["5000-chars", "nul", "traversal", "dot-first", "space"],
)
def test_snapshot_ids_are_checked_before_storage_is_touched(
    api: Api, media: dict[str, bytes], snapshot_id: str
) -> None:
    rid = call(api, f"snap-{len(snapshot_id)}")
    before = api.components.ledger.recorder.max_notification_id()
    response = api.client.put(
        f"/v1/recordings/{rid}/snapshots/{quote(snapshot_id, safe='')}",
        content=media["jpeg"],
        params={"sha256": sha(media["jpeg"]), "taken_at": T0.isoformat(), "monitor": 1},
        headers={"Authorization": f"Bearer {api.tokens['agent-n']}"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json" and response.json()["detail"]
    assert stored_files(api) == [] and api.components.ledger.recorder.max_notification_id() == before


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00+00:00", "2200-01-01T00:00:00+00:00", "1969-12-31T23:59:59+00:00", "2026-11-23T09:00:01"]
)
def test_a_retried_upload_with_a_bad_time_is_refused_not_answered_as_applied(
    api: Api, media: dict[str, bytes], at: str
) -> None:
    """Validation runs before the retry shortcut: 422, never 200 {"applied": false}."""
    rid = call(api, f"retry-{at}")
    assert put_segment(api, rid, 0, media["segment"]).status_code == 201
    voice = {"sha256": sha(media["voice"]), "recorded_at": T0.isoformat()}
    pbx = {"Authorization": f"Bearer {api.tokens['pbx']}"}
    assert (
        api.client.put(f"/v1/recordings/{rid}/voice", content=media["voice"], params=voice, headers=pbx).status_code
        == 201
    )
    report = {"segments": 1, "stopped_at": T0.isoformat()}
    assert api.call("agent-n", "POST", f"/v1/recordings/{rid}/capture-report", json=report).status_code == 200
    stored = api.components.ledger.recorder.max_notification_id()
    params = {
        "sha256": sha(media["segment"]),
        "captured_at": at,
        "start_offset_ms": 1000,
        "duration_ms": 2000,
        "monitor": 1,
        "width": 320,
        "height": 240,
        "fps": 5,
    }
    segment = api.client.put(
        f"/v1/recordings/{rid}/segments/0",
        params=params,
        content=media["segment"],
        headers={"Authorization": f"Bearer {api.tokens['agent-n']}"},
    )
    voice_again = api.client.put(
        f"/v1/recordings/{rid}/voice", content=media["voice"], params={**voice, "recorded_at": at}, headers=pbx
    )
    report_again = api.call(
        "agent-n", "POST", f"/v1/recordings/{rid}/capture-report", json={**report, "stopped_at": at}
    )
    for response in (segment, voice_again, report_again):
        assert response.status_code == 422, response.text
        assert "occurred_at" in response.json()["detail"]
    events = api.components.ledger.events.get(rid)
    assert [type(e).__name__ for e in events] == ["CallStarted", "ScreenSampled", "VoiceRecorded", "CaptureReported"]
    # Refusals of media are evidence (the audit trail), nothing else was written.
    assert api.components.ledger.recorder.max_notification_id() == stored + 2


def first_keyframe_cut_short(segment: bytes) -> bytes:
    """The segment cut in the middle of its first frame (an H.264 keyframe)."""
    with av.open(io.BytesIO(segment)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        return segment[: first.pos + first.size // 2]


def test_a_segment_whose_first_keyframe_is_cut_short_is_refused(api: Api, media: dict[str, bytes]) -> None:
    """The digest matches (the client sent what it hashed), but a player could not show the start:
    refused, though FFmpeg would conceal the missing part and show a frame."""
    rid = call(api, "seg-cut-keyframe")
    response = put_segment(api, rid, 0, first_keyframe_cut_short(media["segment"]))
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert "keyframe" in response.json()["detail"] or "decode" in response.json()["detail"], response.text
    assert stored_files(api) == [] and len(api.components.ledger.history(rid).events) == 1


def test_segment_probe_reads_size_and_duration_without_decoding_more_than_its_keyframe(
    media: dict[str, bytes],
) -> None:
    info = probe_segment(io.BytesIO(media["segment"]))
    assert (info.codec, info.width, info.height, info.duration_ms) == ("h264", 320, 240, 2000)
    assert probe_segment(media["other"]) == info  # bytes as well as a file


def test_a_segment_streamed_in_pieces_larger_than_memory_holds_is_stored_whole(
    live_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """Chunked transfer, no Content-Length, a body past what an upload keeps in memory: stored
    sealed as the same object a whole upload makes, evented with its size; a retry is a repeat."""
    base_url, tokens = live_server
    segment = ffmpeg(
        tmp_path, "big.ts", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=5", "-t", "6",
        "-c:v", "libx264", "-qp", "8", "-f", "mpegts",
    )  # fmt: skip
    assert len(segment) > IN_MEMORY
    pbx, agent = ({"Authorization": f"Bearer {tokens[user]}"} for user in ("pbx", "agent-1"))
    started = httpx.post(
        f"{base_url}/v1/recordings",
        headers=pbx,
        json={
            "interaction_id": "streamed-1",
            "agent_id": "agent-1",
            "customer_id": "c",
            "queue": "q",
            "direction": "inbound",
            "occurred_at": T0.isoformat(),
        },
    )
    rid = started.json()["recording_id"]
    params = {
        "sha256": sha(segment),
        "captured_at": (T0 + timedelta(seconds=1)).isoformat(),
        "start_offset_ms": 1000,
        "duration_ms": 6000,
        "monitor": 1,
        "width": 1280,
        "height": 720,
        "fps": 5,
    }

    def pieces() -> Iterator[bytes]:
        yield from (segment[at : at + 100_000] for at in range(0, len(segment), 100_000))

    url = f"{base_url}/v1/recordings/{rid}/segments/0"
    first = httpx.put(url, params=params, content=pieces(), headers=agent, timeout=30)
    assert first.status_code == 201, first.text
    again = httpx.put(url, params=params, content=pieces(), headers=agent, timeout=30)
    assert (again.status_code, again.json()) == (200, {"applied": False})
    [stored] = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert stored.stat().st_size == len(segment) + 4 + 12 + 16
    exported = httpx.post(
        f"{base_url}/v1/recordings/{rid}/exports",
        headers={"Authorization": f"Bearer {tokens['lena']}"},
        json={"reason": "case 9"},
        timeout=60,
    )
    assert exported.status_code == 201, exported.text
    with zipfile.ZipFile(io.BytesIO(exported.content)) as bundle:
        assert bundle.read(f"media/segments/000000-{sha(segment)}.ts") == segment
