"""The media store's disk fills up during an upload: a clear 507, and the ledger and the
store stay in step (no event without its object, no object without its event).

The store runs on a real, tiny file system (tmpfs), so the failure is the operating
system's own ENOSPC, not a mock.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from domain.commands import StartCall
from domain.recording import Recording
from domain.values import Actor
from tests.support.api_client import Api

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DISK_BYTES = 1024 * 1024
SLACK = 64 * 1024  # room left beyond the small segment: far less than the large one needs


@pytest.fixture
def tiny_media_disk(tmp_path: Path) -> Iterator[Path]:
    """tmp_path/media (where the api fixture keeps media) as its own small file system."""
    media = tmp_path / "media"
    media.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(media)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to mount a small tmpfs (run as root): {mounted.stderr}")
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr}")
    try:
        yield media
    finally:
        subprocess.run(["umount", str(media)], check=True)


@pytest.fixture
def full_api(tiny_media_disk: Path, api: Api) -> Api:
    """The api fixture, set up after the mount so its media store lives on the tiny disk."""
    return api


def segment(tmp_path: Path, name: str, seconds: int) -> bytes:
    """Noise, so x264 cannot squeeze it: about 60 kB a second."""
    out = tmp_path / name
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "nullsrc=size=160x120:rate=5",
            "-vf",
            "noise=alls=100:allf=t",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-f",
            "mpegts",
            str(out),
        ],
        check=True,
    )
    return out.read_bytes()


def upload(api: Api, rid: UUID, number: int, body: bytes):
    params = {
        "sha256": hashlib.sha256(body).hexdigest(),
        "captured_at": (T0 + timedelta(seconds=number)).isoformat(),
        "start_offset_ms": number * 1000,
        "duration_ms": 1000,
        "monitor": 1,
        "width": 160,
        "height": 120,
        "fps": 5,
    }
    return api.client.put(
        f"/v1/recordings/{rid}/segments/{number}",
        params=params,
        content=body,
        headers={"Authorization": f"Bearer {api.tokens['agent-n']}"},
    )


def objects(media: Path) -> set[str]:
    return {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}


def test_a_full_media_disk_answers_507_and_keeps_ledger_and_store_in_step(
    full_api: Api, tiny_media_disk: Path, tmp_path: Path
) -> None:
    api, media = full_api, tiny_media_disk
    rid = api.components.ledger.execute(
        StartCall(
            interaction_id="disk-full",
            agent_id="agent-n",
            customer_id="c",
            queue="q",
            direction="inbound",
            tags={},
            occurred_at=T0,
            by=Actor("pbx", "telephony"),
        )
    )
    small, large = segment(tmp_path, "small.ts", 1), segment(tmp_path, "large.ts", 6)
    ballast = media / "ballast"  # whatever else filled the disk: room is left for the small segment only
    free = os.statvfs(media)
    ballast.write_bytes(b"\xff" * (free.f_bavail * free.f_frsize - len(small) - SLACK))
    assert len(large) > len(small) + SLACK

    assert upload(api, rid, 0, small).status_code == 201
    full = upload(api, rid, 1, large)
    assert full.status_code == 507, full.text
    assert full.headers["content-type"] == "application/problem+json" and "retry-after" not in full.headers
    problem = full.json()
    assert problem["error"] == "StorageFull" and "no space left" in problem["detail"], problem

    def in_step() -> None:
        keys = {e.media_key for e in api.components.ledger.events.get(rid) if isinstance(e, Recording.ScreenSampled)}
        assert objects(media) - {"ballast"} == keys  # every object has its event and every event its object

    in_step()
    assert [
        e.sequence_number for e in api.components.ledger.events.get(rid) if isinstance(e, Recording.ScreenSampled)
    ] == [0]

    ballast.unlink()  # an operator makes room; the same upload now goes through
    assert upload(api, rid, 1, large).status_code == 201
    in_step()
