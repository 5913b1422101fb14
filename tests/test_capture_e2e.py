"""The whole chain on a real X display: telephony drives a call through a running
callvault server, the real capture client records the agent's screen, and ffprobe
judges what the server stored."""

from __future__ import annotations

import contextlib
import hashlib
import io
import socket
import subprocess
import sys
import threading
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.display import BLUE, RED, point_at
from tests.support.ports import free_port
from tests.support.video import decode_errors, first_frame_colour, looks_like, probe

PROJECT = Path(__file__).parents[1]


class Desktop:
    """The agent's capture client, as a subprocess."""

    def __init__(self, base_url: str, token: str, spool: Path, log: Path) -> None:
        self.args = [
            sys.executable,
            "-c",
            "import sys; from capture_client.cli import main; sys.exit(main())",
            "--server",
            base_url,
            "--token",
            token,
            "--spool",
            str(spool),
            "--segment-seconds",
            "2",
            "--fps",
            "5",
            "--size",
            "640x360",
        ]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(self.args, stdout=output, stderr=output, cwd=PROJECT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@pytest.fixture
def desktop(live_server, tmp_path: Path):
    base_url, tokens = live_server
    client = Desktop(base_url, tokens["agent-1"], tmp_path / "spool", tmp_path / "client.log")
    yield client
    client.stop()


def now() -> str:
    return datetime.now(UTC).isoformat()


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_call_to_capture_to_court_bundle(two_monitors, live_server, desktop: Desktop, tmp_path: Path) -> None:  # noqa: F811
    base_url, tokens = live_server
    pbx = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {tokens['pbx']}"}, timeout=10)
    lena = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {tokens['lena']}"}, timeout=60)
    point_at(1)
    desktop.start()
    time.sleep(2)  # the client connects to its command stream
    started_at = datetime.now(UTC)
    rid = pbx.post(
        "/v1/recordings",
        json={
            "interaction_id": "e2e-1",
            "agent_id": "agent-1",
            "customer_id": "cust-1",
            "queue": "sales",
            "direction": "inbound",
            "occurred_at": started_at.isoformat(),
        },
    ).json()["recording_id"]
    time.sleep(5)
    killed = time.monotonic()
    desktop.kill()  # kill -9 mid-call: the spool must carry it through
    time.sleep(1)
    desktop.start()
    down = time.monotonic() - killed
    time.sleep(3)
    paused_at = datetime.now(UTC)
    assert pbx.post(f"/v1/recordings/{rid}/pause", json={"reason": "pci", "occurred_at": paused_at.isoformat()}).json()
    time.sleep(3)
    resumed_at = datetime.now(UTC)
    pbx.post(f"/v1/recordings/{rid}/resume", json={"reason": "pci", "occurred_at": resumed_at.isoformat()})
    point_at(2)
    time.sleep(4)
    pbx.post(f"/v1/recordings/{rid}/end", json={"reason": "hangup", "occurred_at": now()})
    time.sleep(1)
    acw_ended_at = datetime.now(UTC)
    pbx.post(f"/v1/recordings/{rid}/acw-end", json={"reason": "status_change", "occurred_at": acw_ended_at.isoformat()})

    def reported() -> bool:
        row = lena.get(f"/v1/recordings/{rid}").json()["recording"]
        return row is not None and row["expected_segments"] is not None

    wait_for(reported, 60, f"the capture report\n{desktop.log.read_text()[-2000:]}")
    row = lena.get(f"/v1/recordings/{rid}").json()["recording"]
    assert row["missing_segments"] == [] and row["segments_received"] == row["expected_segments"] >= 6

    bundle = zipfile.ZipFile(io.BytesIO(lena.post(f"/v1/recordings/{rid}/exports", json={"reason": "e2e"}).content))
    names = sorted(n for n in bundle.namelist() if n.startswith("media/segments/"))
    numbers = [int(Path(n).name.split("-")[0]) for n in names]
    assert numbers == list(range(len(names)))  # contiguous across the kill -9
    folder = tmp_path / "segments"
    folder.mkdir()
    paths = []
    for name in names:
        path = folder / Path(name).name
        path.write_bytes(bundle.read(name))
        assert decode_errors(path) == "", name
        paths.append(path)
    joined = tmp_path / "all.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in paths))
    assert decode_errors(joined) == ""

    recorded = sum(float(probe(p, "-show_entries", "format=duration")[0][0]) for p in paths)
    expected = (acw_ended_at - started_at - (resumed_at - paused_at)).total_seconds()
    # Lost to the kill: the segment in progress (2 s), the held-back frames (0.5 s), the time the
    # client was down and its start-up (about 2 s here).
    assert expected - (2.0 + 0.5 + down + 2.0) <= recorded <= expected + 1.0, (recorded, expected, down)

    events = lena.get(f"/v1/recordings/{rid}").json()["events"]
    segments = [e for e in events if e["type"] == "ScreenSampled"]
    # Nothing captured inside the pause, as telephony timed it: the client holds frames back
    # briefly and drops those grabbed after the pause's `at` (rounding to the millisecond aside).
    for event in segments:
        start = datetime.fromisoformat(event["occurred_at"])
        end = start + timedelta(milliseconds=event["data"]["duration_ms"])
        assert end <= paused_at + timedelta(milliseconds=5) or start >= resumed_at, event["data"]["sequence_number"]
    assert looks_like(first_frame_colour(paths[0]), RED) and looks_like(first_frame_colour(paths[-1]), BLUE)
    combined = tmp_path / "combined.mp4"
    combined.write_bytes(bundle.read("media/combined.mp4"))
    assert decode_errors(combined) == ""
    assert hashlib.sha256(bundle.read(names[0])).hexdigest() in names[0]


class CuttableLink:
    """A TCP relay between the desktop and the server that can be cut, like a network outage."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        assert listener is not None
        listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                inbound, _ = listener.accept()
            except OSError:
                return
            outbound = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._connections += [inbound, outbound]
            for source, sink in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_segments_made_during_a_30_second_outage_all_arrive(
    two_monitors,
    live_server,
    tmp_path: Path,  # noqa: F811
) -> None:
    base_url, tokens = live_server
    link = CuttableLink(int(base_url.rsplit(":", 1)[1]))
    desktop = Desktop(f"http://127.0.0.1:{link.port}", tokens["agent-1"], tmp_path / "spool", tmp_path / "log")
    pbx = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {tokens['pbx']}"}, timeout=10)
    lena = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {tokens['lena']}"}, timeout=30)
    try:
        desktop.start()
        time.sleep(2)
        rid = pbx.post(
            "/v1/recordings",
            json={
                "interaction_id": "outage-1",
                "agent_id": "agent-1",
                "customer_id": "c",
                "queue": "q",
                "direction": "inbound",
                "occurred_at": now(),
            },
        ).json()["recording_id"]
        time.sleep(4)
        link.cut()
        time.sleep(30)  # the call goes on; the client spools what it records
        link.restore()
        time.sleep(2)
        pbx.post(f"/v1/recordings/{rid}/end", json={"reason": "hangup", "occurred_at": now()})
        pbx.post(f"/v1/recordings/{rid}/acw-end", json={"reason": "status_change", "occurred_at": now()})

        def reported() -> bool:
            row = lena.get(f"/v1/recordings/{rid}").json()["recording"]
            return row is not None and row["expected_segments"] is not None

        wait_for(reported, 90, f"the capture report\n{desktop.log.read_text()[-2000:]}")
        row = lena.get(f"/v1/recordings/{rid}").json()["recording"]
        assert row["missing_segments"] == []
        assert row["segments_received"] == row["expected_segments"] >= 17  # 36 s of 2 s segments
    finally:
        desktop.stop()
        link.cut()
