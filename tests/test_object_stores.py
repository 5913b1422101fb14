"""The media store, its archive and the checkpoint mirror on real object-store APIs: S3 (moto's
server) and Azure Blob (Azurite), with the URLs and credentials a deployment would set.

What these check is the object stores' side (create-only writes, moves, deletes, reads), which
does not depend on the database engine (the SQLite x PostgreSQL matrix covers the ledger and the
views in the other suites): they run on SQLite only.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import msgspec
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from adapters.media_store import MediaStore
from adapters.note_signing import verify_checkpoint
from adapters.settings import Settings
from api.cli.main import main
from api.http.app import create_app
from domain.errors import MediaConflict
from tests.support.api_client import Api
from tests.support.object_stores import Cloud, azure, cloud, s3  # noqa: F401  (fixtures)
from tests.support.provisioning import provision

USERS = [("pbx", "telephony", None), ("agent-1", "agent", "floor"), ("lena", "legal", None), ("root", "admin", None)]
SEGMENT_SECONDS, VOICE_SECONDS = 2, 3


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """SQLite only (see the module's docstring), in place of the two engines of tests/conftest.py."""
    return Settings(
        sqlite_path=str(tmp_path / "callvault.sqlite3"),
        master_key_file=str(tmp_path / "master.key"),
        signing_key_file=str(tmp_path / "log.key"),
        views_process=False,
    )


@pytest.fixture
def served(settings: Settings, cloud: Cloud) -> Settings:  # noqa: F811  (the fixture, imported)
    """A server's settings with its live media, archive and checkpoint mirror in three new buckets."""
    return msgspec.structs.replace(
        settings,
        media_url=cloud.url(cloud.new_bucket(), "media"),
        archive_url=cloud.url(cloud.new_bucket(), "archive"),
        checkpoint_mirror_url=cloud.url(cloud.new_bucket(), "log"),
    )


@pytest.fixture
def api(served: Settings) -> Iterator[Api]:
    tokens = provision(served, USERS)
    with TestClient(app=create_app(served)) as client:
        yield Api(client, tokens)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """(an H.264 screen segment in MPEG-TS, a WAV voice recording), made by ffmpeg."""
    out = tmp_path_factory.mktemp("media")

    def ffmpeg(name: str, *args: str) -> bytes:
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(out / name)], check=True)
        return (out / name).read_bytes()

    segment = ffmpeg(
        "s.ts", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=5", "-t", str(SEGMENT_SECONDS), "-c:v", "libx264"
    )
    voice = ffmpeg("v.wav", "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(VOICE_SECONDS))
    return segment, voice


def recorded_call(api: Api, segment: bytes, voice: bytes) -> str:
    """A complete call whose screen segment and voice were uploaded over HTTP; its recording id."""
    started = datetime.now(UTC) - timedelta(minutes=10)
    at = lambda s: (started + timedelta(seconds=s)).isoformat()  # noqa: E731
    start = {"interaction_id": "cloud-1", "agent_id": "agent-1", "customer_id": "cust-1", "queue": "sales"}
    rid: str = api.call(
        "pbx", "POST", "/v1/recordings", json={**start, "direction": "inbound", "tags": {}, "occurred_at": at(0)}
    ).json()["recording_id"]
    screen = {"start_offset_ms": 0, "duration_ms": SEGMENT_SECONDS * 1000, "monitor": 0, "width": 320, "height": 240}
    uploads = [
        ("agent-1", "segments/0", segment, {**screen, "captured_at": at(0), "fps": 5}),
        ("pbx", "voice", voice, {"recorded_at": at(0)}),
    ]
    for user, path, body, params in uploads:
        response = api.call(
            user,
            "PUT",
            f"/v1/recordings/{rid}/{path}",
            content=body,
            params={"sha256": hashlib.sha256(body).hexdigest(), **params},
        )
        assert response.status_code == 201, response.text
    for path, seconds in (("end", VOICE_SECONDS), ("acw-end", 60)):
        assert api.call("pbx", "POST", f"/v1/recordings/{rid}/{path}", json={"occurred_at": at(seconds)}).is_success
    return rid


def test_a_second_create_of_a_key_is_refused_by_the_store(cloud: Cloud) -> None:  # noqa: F811
    store = MediaStore(cloud.url(cloud.new_bucket(), "media"))
    assert store.put_new("a/key", b"first") is True
    # put_new asks the store nothing before it writes: these two answers are the store refusing
    # a create of a key it holds (a write that overwrote would have answered True).
    assert store.put_new("a/key", b"first") is False
    with pytest.raises(MediaConflict):
        store.put_new("a/key", b"other")
    assert store.get("a/key") == b"first" and store.size("a/key") == 5
    assert store.get_range("a/key", 1, 4) == b"irs"
    store.delete("a/key")
    assert not store.exists("a/key") and store.size("a/key") is None


def test_media_is_sealed_archived_played_exported_and_purged_in_the_buckets(
    api: Api, served: Settings, media: tuple[bytes, bytes], tmp_path: Path
) -> None:
    segment, voice = media
    policy = {"retention": [{"archive_after_days": 0, "purge_after_days": 1}], "reason": "archive at once (test)"}
    assert api.call("root", "PUT", "/v1/policy", json=policy).status_code == 200
    rid = recorded_call(api, segment, voice)
    live, archive, prefix = MediaStore(served.media_url), MediaStore(served.archive_url), f"recordings/{rid}/"
    derived = f"{prefix}derived/"  # the voice's playable file and peaks, built at upload

    # In the live bucket, sealed: neither a packet of the video nor a stretch of the voice in clear.
    uploaded = sorted(key for key in live.keys_under(prefix) if not key.startswith(derived))
    assert len(uploaded) == 2 and live.keys_under(derived) and archive.keys_under(prefix) == []
    sealed = {key: live.get(key) for key in uploaded}
    for key, clear in zip(uploaded, (segment, voice), strict=True):  # segments/… sorts before voice/…
        assert sealed[key].startswith(b"CVM1") and clear[188 * 4 : 188 * 5] not in sealed[key]

    run = api.call("root", "POST", "/v1/retention/run").json()
    assert (run["archived"], run["purged"]) == ([rid], [])
    # Moved as sealed, byte for byte: gone from the live bucket, in the archive's.
    assert live.keys_under(prefix) == []
    assert {key: archive.get(key) for key in archive.keys_under(prefix)} == sealed
    archived = api.call("lena", "GET", f"/v1/recordings/{rid}").json()["events"][-1]
    assert (archived["type"], archived["data"]["archive_location"]) == ("Archived", served.archive_url)

    # Played from the archive: the playable file is built from the archived originals (and kept
    # live as derived media only).
    viewing = api.call("lena", "POST", f"/v1/recordings/{rid}/viewings", json={"reason_code": "legal_request"})
    assert viewing.status_code == 201, viewing.text
    played = api.call("lena", "GET", viewing.json()["playable_url"])
    assert played.status_code == 200 and played.headers["content-type"].startswith("video/mp4")
    with av.open(io.BytesIO(played.content)) as container:
        assert sorted(stream.type for stream in container.streams) == ["audio", "video"]
    assert live.keys_under(prefix) == live.keys_under(derived) != []

    # Exported from the archive: the bundle carries the media as uploaded and verifies offline.
    bundle = api.call("lena", "POST", f"/v1/recordings/{rid}/exports", json={"reason": "court order"})
    assert bundle.status_code == 201, bundle.text
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as z:
        [name] = [n for n in z.namelist() if n.startswith("media/segments/")]
        assert z.read(name) == segment
    (tmp_path / "bundle.zip").write_bytes(bundle.content)
    (tmp_path / "log.pub").write_text(api.components.transparency.public_key)
    result = CliRunner().invoke(
        main, ["verify", str(tmp_path / "bundle.zip"), "--public-key", str(tmp_path / "log.pub")]
    )
    assert result.exit_code == 0 and "verified: bundle.zip" in result.output, result.output

    # Purged when the policy says (as the scheduled run would, a day later): nothing left in either bucket.
    purge = api.components.retention.run(datetime.now(UTC) + timedelta(days=2))
    assert [str(purged) for purged in purge.purged] == [rid]
    assert live.keys_under(prefix) == [] and archive.keys_under(prefix) == []


def test_signed_checkpoints_are_mirrored_create_only(api: Api, served: Settings) -> None:
    start = {"interaction_id": "mirror-1", "agent_id": "agent-1", "customer_id": "c", "queue": "q"}
    started = {**start, "direction": "inbound", "tags": {}, "occurred_at": datetime.now(UTC).isoformat()}
    assert api.call("pbx", "POST", "/v1/recordings", json=started).status_code == 201
    size, note = api.components.transparency.sign_checkpoint()
    assert size > 0
    mirror, key = MediaStore(served.checkpoint_mirror_url), f"checkpoints/{size:020d}.txt"
    assert mirror.get(key) == note
    assert verify_checkpoint(note, api.components.transparency.public_key).size == size
    # What the mirror keeps, nobody overwrites: not the database's administrator, not us.
    with pytest.raises(MediaConflict):
        mirror.put_new(key, note.replace(b"\n", b"\n\n", 1))
    assert mirror.get(key) == note


@pytest.mark.parametrize("option", ["secret_access_key=x", "account_key=x", "sas_key=x", "endpiont=https://x"])
def test_a_url_names_where_its_service_is_never_a_credential(option: str) -> None:
    with pytest.raises(ValueError, match="credentials come from the provider's environment variables"):
        MediaStore(f"s3://bucket/media?region=eu-west-1&{option}")
