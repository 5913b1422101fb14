"""A real export bundle from the server, checked by `callvault verify` as a court would."""

from __future__ import annotations

import hashlib
import io
import json
import random
import subprocess
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
from click.testing import CliRunner

from adapters import note_signing
from adapters.settings import Settings
from api.cli import main
from api.export_bundle import build_bundle
from api.runtime import Runtime
from domain.bundle_verify import verify_bundle
from domain.values import Actor
from tests.conftest import Api

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PBX = Actor("pbx", "telephony")


@pytest.fixture
def group_commit() -> bool:
    return True


def ffmpeg(path: Path, *args: str) -> bytes:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(path)], check=True)
    return path.read_bytes()


@pytest.fixture
def exported(api: Api, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(bundle, public key file, a checkpoint signed before the export)."""
    ledger = api.runtime.ledger
    rid = ledger.start_call(interaction_id="court-1", agent_id="agent-n", customer_id="cust-1", queue="q",
                            direction="inbound", tags={}, occurred_at=T0, by=PBX)
    for number, (offset, source) in enumerate([(0, "testsrc"), (6, "testsrc2")]):
        body = ffmpeg(tmp_path / f"s{number}.ts", "-f", "lavfi", "-i", f"{source}=size=320x240:rate=5", "-t", "2",
                      "-c:v", "libx264", "-tune", "zerolatency", "-f", "mpegts")
        response = api.client.put(f"/v1/recordings/{rid}/segments/{number}", content=body, params={
            "sha256": hashlib.sha256(body).hexdigest(), "captured_at": (T0 + timedelta(seconds=offset)).isoformat(),
            "start_offset_ms": offset * 1000, "duration_ms": 2000, "monitor": 1, "width": 320, "height": 240,
            "fps": 5}, headers={"Authorization": f"Bearer {api.tokens['agent-n']}"})
        assert response.status_code == 201, response.text
    voice = ffmpeg(tmp_path / "v.wav", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "9")
    assert api.client.put(f"/v1/recordings/{rid}/voice", content=voice, params={
        "sha256": hashlib.sha256(voice).hexdigest(), "recorded_at": T0.isoformat()},
        headers={"Authorization": f"Bearer {api.tokens['pbx']}"}).status_code == 201
    ledger.pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=3), by=PBX)
    ledger.resume(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=PBX)
    ledger.end_call(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=9), by=PBX)
    _, old_note = api.runtime.log.sign_checkpoint()
    ledger.start_call(interaction_id="other-1", agent_id="agent-s", customer_id="cust-2", queue="q",
                      direction="inbound", tags={}, occurred_at=T0, by=PBX)
    response = api.call("lena", "POST", f"/v1/recordings/{rid}/exports", json={"reason": "court order 7/2026"})
    assert response.status_code == 201, response.text
    (tmp_path / "bundle.zip").write_bytes(response.content)
    (tmp_path / "log.pub").write_text(api.runtime.log.public_key)
    (tmp_path / "old-checkpoint.txt").write_bytes(old_note)
    return tmp_path / "bundle.zip", tmp_path / "log.pub", tmp_path / "old-checkpoint.txt"


def verify(*args: str):
    return CliRunner().invoke(main, ["verify", *args], catch_exceptions=False)


def test_bundle_verifies_offline_with_its_media(exported: tuple[Path, Path, Path]) -> None:
    bundle, public_key, old = exported
    result = verify(str(bundle), "--public-key", str(public_key), "--known-checkpoint", str(old))
    assert result.exit_code == 0, result.output
    assert "verified: bundle.zip" in result.output
    names = zipfile.ZipFile(bundle).namelist()
    assert {"manifest.json", "checkpoint.txt", "events.jsonl", "media/combined.mp4"} <= set(names)
    assert sum(n.startswith("media/segments/") for n in names) == 2
    combined = bundle.parent / "combined.mp4"
    combined.write_bytes(zipfile.ZipFile(bundle).read("media/combined.mp4"))
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                            str(combined)], capture_output=True, text=True, check=True)
    assert probe.stdout.split() == ["h264", "aac"]
    assert "other-1" not in zipfile.ZipFile(bundle).read("events.jsonl").decode()


def test_flipping_any_byte_of_any_file_fails_naming_it(exported: tuple[Path, Path, Path]) -> None:
    bundle, public_key, _ = exported
    original = zipfile.ZipFile(bundle)
    files = {name: original.read(name) for name in original.namelist()}
    rng = random.Random(7)
    for name, data in files.items():
        for position in {0, len(data) // 2, len(data) - 1, rng.randrange(len(data))}:
            damaged = bytearray(data)
            damaged[position] ^= 0x01
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as copy:
                for other, content in files.items():
                    copy.writestr(other, bytes(damaged) if other == name else content)
            target = bundle.parent / "damaged.zip"
            target.write_bytes(buffer.getvalue())
            result = verify(str(target), "--public-key", str(public_key))
            assert result.exit_code == 1, (name, position)
            assert f"FAILED {name}" in result.output, (name, position, result.output)


def test_a_different_key_or_a_forged_old_checkpoint_fails(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    bundle, public_key, old = exported
    other = tmp_path / "other.key"
    runner = CliRunner()
    generated = runner.invoke(main, ["keys", "generate", "--name", "callvault.local/log", "--out", str(other)])
    assert generated.exit_code == 0 and (tmp_path / "other.key.pub").exists()
    assert verify(str(bundle), "--public-key", str(tmp_path / "other.key.pub")).exit_code == 1
    assert runner.invoke(main, ["keys", "generate", "--name", "x", "--out", str(other)]).exit_code != 0


# --- an empty first checkpoint (issue #11.1) ------------------------------------------


@pytest.fixture
def served(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of a server and of the `callvault` command line (its environment) alike."""
    served = msgspec.structs.replace(settings, media_url=str(tmp_path / "media"), archive_url=str(tmp_path / "archive"),
                                     signing_key_file=str(tmp_path / "log.key"))
    environment = {"SQLITE_PATH": served.sqlite_path, "SIGNING_KEY_FILE": served.signing_key_file,
                   "MASTER_KEY_FILE": served.master_key_file, "MEDIA_URL": served.media_url,
                   "ARCHIVE_URL": served.archive_url, "VIEWS_PROCESS": "false", "LOG_JSON": "true"}
    if served.database_url:
        environment["DATABASE_URL"] = served.database_url
    else:
        monkeypatch.delenv("CALLVAULT_DATABASE_URL", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(f"CALLVAULT_{name}", value)
    return served


@pytest.mark.parametrize("signed_by", ["scheduled job", "callvault checkpoint"])
def test_an_export_verifies_after_an_empty_first_checkpoint(served: Settings, tmp_path: Path, signed_by: str) -> None:
    if signed_by == "callvault checkpoint":
        result = CliRunner().invoke(main, ["checkpoint"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        empty = result.stdout.encode()
    runtime = Runtime(served)
    try:
        if signed_by == "scheduled job":
            runtime.start()
            runtime.scheduler.get_job("checkpoint").func()  # what the scheduler runs every few minutes
            empty = runtime.log.checkpoint(0)[1]
        assert runtime.log.checkpoint()[0] == 0
        ledger = runtime.ledger
        rid = ledger.start_call(interaction_id="empty-log-1", agent_id="agent-n", customer_id="cust-1", queue="q",
                                direction="inbound", tags={}, occurred_at=T0, by=PBX)
        ledger.pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=3), by=PBX)
        bundle = build_bundle(runtime, rid, reason="court order 9/2026", by=Actor("lena", "legal"))
        public_key = runtime.log.public_key
    finally:
        runtime.stop() if signed_by == "scheduled job" else runtime.ledger.close()
    files = {name: zipfile.ZipFile(io.BytesIO(bundle)).read(name) for name in zipfile.ZipFile(io.BytesIO(bundle)).namelist()}
    assert files["checkpoints/0.txt"] == empty and json.loads(files["consistency/0.json"])["proof"] == []
    checks = verify_bundle(files, public_key, empty, verify_note=note_signing.verify_note)
    assert checks[-1] == "consistency: checkpoint extends the known checkpoint of size 0"
    (tmp_path / "bundle.zip").write_bytes(bundle)
    (tmp_path / "empty.txt").write_bytes(empty)
    result = verify(str(tmp_path / "bundle.zip"), "--public-key", public_key, "--known-checkpoint",
                    str(tmp_path / "empty.txt"))
    assert result.exit_code == 0, result.output
    assert "ok  checkpoints/0.txt: signed by" in result.output and "verified: bundle.zip" in result.output


# --- exports racing with other writes to the recording (issue #11.2) ----------------------

EXPORTS = 24


def test_concurrent_exports_while_the_recording_is_tagged_all_verify(
    live_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, tokens = live_server
    bearer = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    with httpx.Client(base_url=url, timeout=60) as http:
        started = http.post("/v1/recordings/", headers=bearer["pbx"], json={
            "interaction_id": "race-1", "agent_id": "agent-1", "customer_id": "cust-1", "queue": "q",
            "direction": "inbound", "occurred_at": T0.isoformat()})
        assert started.status_code == 201, started.text
        rid = started.json()["recording_id"]
        public_key = http.get("/v1/log/public-key").text.strip()
    exporting = threading.Event()
    tagged: list[int] = []

    def tag_meanwhile() -> None:
        with httpx.Client(base_url=url, timeout=60, headers=bearer["pbx"]) as http:
            while exporting.is_set() or not tagged:
                response = http.post(f"/v1/recordings/{rid}/tags", json={
                    "key": "wrapup", "value": f"code-{len(tagged)}", "occurred_at": T0.isoformat()})
                assert response.status_code == 200, response.text
                tagged.append(len(tagged))

    def export(number: int) -> bytes:
        with httpx.Client(base_url=url, timeout=120, headers=bearer["lena"]) as http:
            response = http.post(f"/v1/recordings/{rid}/exports", json={"reason": f"court order {number}/2026"})
            assert response.status_code == 201, response.text
            return response.content

    exporting.set()
    tagger = threading.Thread(target=tag_meanwhile)
    tagger.start()
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            bundles = list(pool.map(export, range(EXPORTS)))
    finally:
        exporting.clear()
        tagger.join(timeout=60)
    assert len(tagged) > 1  # the tags did run alongside
    for number, bundle in enumerate(bundles):
        path = tmp_path / f"bundle-{number}.zip"
        path.write_bytes(bundle)
        result = verify(str(path), "--public-key", public_key)
        assert result.exit_code == 0, (number, result.output)
