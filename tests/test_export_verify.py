"""A real export bundle from the server, checked by `callvault verify` as a court would."""

from __future__ import annotations

import hashlib
import io
import json
import random
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
from click.testing import CliRunner

from adapters import note_signing
from adapters.settings import Settings
from api.bootstrap import build
from api.cli.main import main
from api.http.schemas import ConsistencyProof
from domain.access_record import AccessRecord, Outcome
from domain.commands import EndCall, Pause, Resume, StartCall
from domain.recording import Recording
from domain.transparency.bundle_format import (
    EXPORTED_EVENT,
    MEDIA_EVENTS,
    RECENT_CHECKPOINTS,
    SERVED_CONSISTENCY_FIELDS,
)
from domain.transparency.checkpoints import Checkpoint, checkpoint_of_note
from domain.transparency.merkle import node_hash
from domain.transparency.verifier import verify_bundle
from domain.values import Actor
from tests.support.api_client import Api

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
    ledger = api.components.ledger
    rid = ledger.execute(
        StartCall(
            interaction_id="court-1",
            agent_id="agent-n",
            customer_id="cust-1",
            queue="q",
            direction="inbound",
            tags={},
            occurred_at=T0,
            by=PBX,
        )
    )
    for number, (offset, source) in enumerate([(0, "testsrc"), (6, "testsrc2")]):
        body = ffmpeg(
            tmp_path / f"s{number}.ts",
            "-f",
            "lavfi",
            "-i",
            f"{source}=size=320x240:rate=5",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-tune",
            "zerolatency",
            "-f",
            "mpegts",
        )
        response = api.client.put(
            f"/v1/recordings/{rid}/segments/{number}",
            content=body,
            params={
                "sha256": hashlib.sha256(body).hexdigest(),
                "captured_at": (T0 + timedelta(seconds=offset)).isoformat(),
                "start_offset_ms": offset * 1000,
                "duration_ms": 2000,
                "monitor": 1,
                "width": 320,
                "height": 240,
                "fps": 5,
            },
            headers={"Authorization": f"Bearer {api.tokens['agent-n']}"},
        )
        assert response.status_code == 201, response.text
    voice = ffmpeg(tmp_path / "v.wav", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "9")
    assert (
        api.client.put(
            f"/v1/recordings/{rid}/voice",
            content=voice,
            params={"sha256": hashlib.sha256(voice).hexdigest(), "recorded_at": T0.isoformat()},
            headers={"Authorization": f"Bearer {api.tokens['pbx']}"},
        ).status_code
        == 201
    )
    ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=3), by=PBX))
    ledger.execute(Resume(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=PBX))
    ledger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=9), by=PBX))
    _, old_note = api.components.transparency.sign_checkpoint()
    ledger.execute(
        StartCall(
            interaction_id="other-1",
            agent_id="agent-s",
            customer_id="cust-2",
            queue="q",
            direction="inbound",
            tags={},
            occurred_at=T0,
            by=PBX,
        )
    )
    response = api.call("lena", "POST", f"/v1/recordings/{rid}/exports", json={"reason": "court order 7/2026"})
    assert response.status_code == 201, response.text
    (tmp_path / "bundle.zip").write_bytes(response.content)
    (tmp_path / "log.pub").write_text(api.components.transparency.public_key)
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
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", str(combined)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split() == ["h264", "aac"]
    assert "other-1" not in zipfile.ZipFile(bundle).read("events.jsonl").decode()


def test_the_writer_and_the_verifier_name_the_same_format() -> None:
    """What the server writes outside bundle_format.py (the API's consistency proof, the recording's
    event types) is what the verifier reads by the names bundle_format.py gives them."""
    assert set(ConsistencyProof.__struct_fields__) == SERVED_CONSISTENCY_FIELDS
    media = {Recording.ScreenSampled, Recording.VoiceRecorded, Recording.SnapshotTaken}
    assert {event.__name__ for event in media} == MEDIA_EVENTS
    assert Recording.Exported.__name__ == EXPORTED_EVENT


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
    served = msgspec.structs.replace(
        settings,
        media_url=str(tmp_path / "media"),
        archive_url=str(tmp_path / "archive"),
        signing_key_file=str(tmp_path / "log.key"),
    )
    environment = {
        "SQLITE_PATH": served.sqlite_path,
        "SIGNING_KEY_FILE": served.signing_key_file,
        "MASTER_KEY_FILE": served.master_key_file,
        "MEDIA_URL": served.media_url,
        "ARCHIVE_URL": served.archive_url,
        "VIEWS_PROCESS": "false",
        "LOG_JSON": "true",
    }
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
    components = build(served, serving=True)
    try:
        if signed_by == "scheduled job":
            components.start()
            components.transparency.scheduled_checkpoint()  # the job the scheduler runs every few minutes
            empty = components.transparency.checkpoint(0)[1]
        assert components.transparency.checkpoint()[0] == 0
        ledger = components.ledger
        rid = ledger.execute(
            StartCall(
                interaction_id="empty-log-1",
                agent_id="agent-n",
                customer_id="cust-1",
                queue="q",
                direction="inbound",
                tags={},
                occurred_at=T0,
                by=PBX,
            )
        )
        ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=3), by=PBX))
        bundle = components.exports.build_bundle(rid, reason="court order 9/2026", by=Actor("lena", "legal"))
        public_key = components.transparency.public_key
    finally:
        components.close()
    files = {
        name: zipfile.ZipFile(io.BytesIO(bundle)).read(name) for name in zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    }
    assert files["checkpoints/0.txt"] == empty and json.loads(files["consistency/0.json"])["proof"] == []
    # RFC 9162 §2.1.1: the empty tree's hash is SHA-256 of the empty string.
    assert checkpoint_of_note(empty).root == hashlib.sha256(b"").digest()
    checks = verify_bundle(files, public_key, empty, verify_note=note_signing.verify_note)
    assert checks[-1] == "consistency: checkpoint extends the known checkpoint of size 0"
    (tmp_path / "bundle.zip").write_bytes(bundle)
    (tmp_path / "empty.txt").write_bytes(empty)
    result = verify(
        str(tmp_path / "bundle.zip"), "--public-key", public_key, "--known-checkpoint", str(tmp_path / "empty.txt")
    )
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
        started = http.post(
            "/v1/recordings/",
            headers=bearer["pbx"],
            json={
                "interaction_id": "race-1",
                "agent_id": "agent-1",
                "customer_id": "cust-1",
                "queue": "q",
                "direction": "inbound",
                "occurred_at": T0.isoformat(),
            },
        )
        assert started.status_code == 201, started.text
        rid = started.json()["recording_id"]
        public_key = http.get("/v1/log/public-key").text.strip()
    exporting = threading.Event()
    tagged: list[int] = []

    def tag_meanwhile() -> None:
        with httpx.Client(base_url=url, timeout=60, headers=bearer["pbx"]) as http:
            while exporting.is_set() or not tagged:
                response = http.post(
                    f"/v1/recordings/{rid}/tags",
                    json={"key": "wrapup", "value": f"code-{len(tagged)}", "occurred_at": T0.isoformat()},
                )
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


# --- a checkpoint kept a year ago (issue #11.3) ---------------------------------------

YEAR = timedelta(days=365)
CHECKPOINTS_A_YEAR = 100_000  # one every ~5 minutes, the server's default interval
GROWTH_BATCH = 1000


def prefix_roots(leaf_hashes: list[bytes], sizes: range) -> Iterator[tuple[int, bytes]]:
    """(size, MTH of the first size leaves) for each size, incrementally: a stack of the
    perfect subtrees so far (RFC 9162's MTH folds them from the right), O(log n) a size."""
    stack: list[tuple[int, bytes]] = []  # (height, root) of perfect subtrees, left to right
    for count, leaf in enumerate(leaf_hashes, 1):
        height, node = 0, leaf
        while stack and stack[-1][0] == height:
            node, height = node_hash(stack.pop()[1], node), height + 1
        stack.append((height, node))
        if count in sizes:
            root = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                root = node_hash(left, root)
            yield count, root


def test_a_checkpoint_kept_a_year_ago_verifies_against_a_later_export(served: Settings, tmp_path: Path) -> None:
    """A year of checkpoints, each signed over a log grown by one event; then an export."""
    components = build(served, serving=True)  # not started: no scheduler and no follower folding the other views
    try:
        ledger, log = components.ledger, components.transparency
        rid = ledger.execute(
            StartCall(
                interaction_id="year-1",
                agent_id="agent-n",
                customer_id="cust-1",
                queue="q",
                direction="inbound",
                tags={},
                occurred_at=T0,
                by=PBX,
            )
        )
        components.projections.catch_up(views=["log_leaves"])
        first = log.views.leaf_count()
        for _ in range(CHECKPOINTS_A_YEAR // GROWTH_BATCH):  # real events, saved a thousand at a time
            ledger.save(
                *(
                    AccessRecord.record(
                        action="log_read",
                        outcome=Outcome.ALLOWED,
                        recording_ids=[rid],
                        reason_code="",
                        detail={},
                        occurred_at=T0,
                        by=PBX,
                    )
                    for _ in range(GROWTH_BATCH)
                )
            )
        components.projections.catch_up(views=["log_leaves"])
        sizes = range(first, first + CHECKPOINTS_A_YEAR)
        start = datetime.now(UTC) - YEAR
        store, every = log.checkpoints, YEAR / CHECKPOINTS_A_YEAR
        rows = [
            [
                size,
                root,
                log.signer.sign_checkpoint(Checkpoint(log.origin, size, root)).decode(),
                store._dialect.value(start + (size - first) * every),
            ]
            for size, root in prefix_roots(log.views.leaf_hashes(sizes[-1]), sizes)
        ]
        # One transaction for the year (add() commits and mirrors each checkpoint on its own).
        with store._datastore.transaction(commit=True) as cursor:
            store._dialect.insert_many(cursor, "checkpoints", ["tree_size", "root", "note", "signed_at"], rows)
        kept = {"first minute": store.at(sizes[0]), "mid-year": store.at(sizes[CHECKPOINTS_A_YEAR // 2 + 7])}
        bundle = components.exports.build_bundle(rid, reason="court order 1/2027", by=Actor("lena", "legal"))
        size = checkpoint_of_note(zipfile.ZipFile(io.BytesIO(bundle)).read("checkpoint.txt")).size
        served_proof = msgspec.json.encode(
            ConsistencyProof(
                old_size=sizes[CHECKPOINTS_A_YEAR // 2 + 7],
                new_size=size,
                proof=[h.hex() for h in log.consistency(sizes[CHECKPOINTS_A_YEAR // 2 + 7], size)],
            )
        )
        public_key = log.public_key
    finally:
        components.close()
    names = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    proofs = sorted(
        int(n.removeprefix("consistency/").removesuffix(".json")) for n in names if n.startswith("consistency/")
    )
    # The last 100 and the first of each month (13 months touched by a year), nothing else.
    assert len(proofs) <= RECENT_CHECKPOINTS + 14 and proofs[0] == sizes[0]
    assert proofs[-RECENT_CHECKPOINTS:] == list(sizes[-RECENT_CHECKPOINTS:])
    (tmp_path / "bundle.zip").write_bytes(bundle)
    for name, note in kept.items():
        (tmp_path / f"{name}.txt").write_bytes(note)
    offline = verify(
        str(tmp_path / "bundle.zip"),
        "--public-key",
        public_key,
        "--known-checkpoint",
        str(tmp_path / "first minute.txt"),
    )
    assert offline.exit_code == 0, offline.output
    assert f"consistency: checkpoint extends the known checkpoint of size {sizes[0]}" in offline.output
    # Any other checkpoint of the year: the bundle has no proof for it, the log serves one.
    missing = verify(
        str(tmp_path / "bundle.zip"), "--public-key", public_key, "--known-checkpoint", str(tmp_path / "mid-year.txt")
    )
    assert missing.exit_code == 1 and "missing" in missing.output
    (tmp_path / "proof.json").write_bytes(served_proof)
    given = verify(
        str(tmp_path / "bundle.zip"),
        "--public-key",
        public_key,
        "--known-checkpoint",
        str(tmp_path / "mid-year.txt"),
        "--consistency-proof",
        str(tmp_path / "proof.json"),
    )
    assert given.exit_code == 0, given.output
    assert "(proof given apart)" in given.output


def test_verify_fetches_the_proof_for_a_known_checkpoint(
    live_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, tokens = live_server
    bearer = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    with httpx.Client(base_url=url, timeout=60) as http:
        rid = http.post(
            "/v1/recordings/",
            headers=bearer["pbx"],
            json={
                "interaction_id": "fetch-1",
                "agent_id": "agent-1",
                "customer_id": "cust-1",
                "queue": "q",
                "direction": "inbound",
                "occurred_at": T0.isoformat(),
            },
        ).json()["recording_id"]
        first = http.post(f"/v1/recordings/{rid}/exports", headers=bearer["lena"], json={"reason": "case 1"})
        http.post(
            f"/v1/recordings/{rid}/tags",
            headers=bearer["pbx"],
            json={"key": "wrapup", "value": "sale", "occurred_at": T0.isoformat()},
        )
        later = http.post(f"/v1/recordings/{rid}/exports", headers=bearer["lena"], json={"reason": "case 2"})
        public_key = http.get("/v1/log/public-key").text.strip()
    (tmp_path / "kept.txt").write_bytes(zipfile.ZipFile(io.BytesIO(first.content)).read("checkpoint.txt"))
    (tmp_path / "later.zip").write_bytes(later.content)
    arguments = [
        str(tmp_path / "later.zip"),
        "--public-key",
        public_key,
        "--known-checkpoint",
        str(tmp_path / "kept.txt"),
        "--fetch",
        url,
    ]
    fetched = verify(*arguments, "--token", tokens["lena"])
    assert fetched.exit_code == 0, fetched.output
    assert "(proof given apart)" in fetched.output
    refused = CliRunner().invoke(main, ["verify", *arguments, "--token", "cv_not-a-token"])
    assert refused.exit_code == 1 and "could not fetch the consistency proof" in refused.output
