"""The capture client end to end: a real X display with two monitors, the real client in a
subprocess, a fake callvault server speaking docs/capture-protocol.md, and ffmpeg/ffprobe
as the judges of the video it produces."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from capture_client.deliveries import spool_capture_report, spool_segment
from capture_client.encoder import EncodedSegment
from capture_client.spool import Spool
from capture_client.uploader import Uploader
from tests.support.display import BLUE, RED, point_at
from tests.support.video import decode_errors, first_frame_colour, looks_like, probe

PROJECT = Path(__file__).parents[1]
TOKEN = "agent-token"


# ---------------------------------------------------------------- fake server


class FakeServer:
    """The server side of the capture protocol, in memory, on a fixed port that survives
    going down and coming back."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.segments: dict[tuple[str, int], tuple[bytes, dict]] = {}
        self.arrivals: list[tuple[str, int]] = []  # first storage of each segment, in order
        self.conflicts = 0
        self.reports: dict[str, dict] = {}
        self.snapshots: dict[tuple[str, str], tuple[bytes, dict]] = {}
        self.answers: dict[str, list[int]] = {}  # path -> statuses to answer first, one per request
        self.uploads_unavailable = False  # 503 to every upload while set
        self.commands: list[dict] = []  # every command ever sent, event id = index + 1
        self.stream_connections = 0
        self._httpd: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Unreachable: the listening socket closes and open command streams end."""
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None
        with self.lock:
            self.lock.notify_all()

    @property
    def is_up(self) -> bool:
        return self._httpd is not None

    def send(self, command: str, recording_id: str, **extra: str) -> None:
        with self.lock:
            at = datetime.now(UTC).isoformat()  # the moment of the event, as the server's clock saw it
            self.commands.append({"command": command, "recording_id": recording_id, "at": at, **extra})
            self.lock.notify_all()

    def current_state(self) -> list[dict]:
        """What a (re)connecting client is told first: start, plus pause when paused."""
        state: list[dict] = []
        for command in self.commands:
            if command["command"] == "start":
                state = [command]
            elif command["command"] == "pause" and state:
                state = [state[0], command]
            elif command["command"] == "resume" and state:
                state = [state[0]]
            elif command["command"] == "stop":
                state = []
        return state

    def sequences(self, recording_id: str) -> list[int]:
        with self.lock:
            return sorted(seq for rid, seq in self.segments if rid == recording_id)

    def wait_for(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int, body: dict | None = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status < 400 else "application/problem+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"title": "unauthorised"})
                return False
            return True

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if urlsplit(self.path).path != "/v1/capture/commands":
                return self._answer(404)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            with server.lock:
                server.stream_connections += 1
                last_seen = self.headers.get("Last-Event-ID")
                sent = int(last_seen) if last_seen else len(server.commands)
                replay = server.current_state()
            try:
                for command in replay:  # the state first, so the client resynchronises
                    self._event(None, command)
                while server.is_up:
                    with server.lock:
                        if len(server.commands) == sent:
                            server.lock.wait(1.0)
                        news = list(enumerate(server.commands))[sent:]
                    for index, command in news:
                        self._event(index + 1, command)
                    sent += len(news)
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
            except OSError:
                pass  # the client went away

        def _event(self, event_id: int | None, command: dict) -> None:
            lines = [f"id: {event_id}"] if event_id is not None else []
            lines += ["event: command", f"data: {json.dumps(command)}"]
            self.wfile.write(("\n".join(lines) + "\n\n").encode())
            self.wfile.flush()

        def do_PUT(self) -> None:
            self._upload()

        def do_POST(self) -> None:
            self._upload()

        def _upload(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self._authorised():
                return
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query))
            parts = url.path.strip("/").split("/")  # v1 recordings {id} segments {n}
            with server.lock:
                scripted = server.answers.get(url.path)
                if scripted:
                    return self._answer(scripted.pop(0), {"title": "scripted answer"})
                if server.uploads_unavailable:
                    return self._answer(503, {"title": "unavailable"})
                if parts[3] == "capture-report":
                    server.reports[parts[2]] = json.loads(body)
                    return self._answer(201)
                if hashlib.sha256(body).hexdigest() != params.get("sha256"):
                    return self._answer(422, {"title": "bad hash"})
                if parts[3] == "snapshots":
                    server.snapshots[(parts[2], parts[4])] = (body, params)
                    return self._answer(201)
                key = (parts[2], int(parts[4]))
                if key in server.segments:
                    same = server.segments[key][0] == body
                    server.conflicts += not same
                    return self._answer(200 if same else 409)
                server.segments[key] = (body, params)
                server.arrivals.append(key)
                return self._answer(201)

    return Handler


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer()
    yield server
    if server.is_up:
        server.down()


# ---------------------------------------------------------------- client and media helpers


class Client:
    """The real client, as a subprocess, as an agent's desktop would run it."""

    def __init__(self, server: FakeServer, spool: Path, log: Path, *options: str) -> None:
        self.log = log
        command = [sys.executable, "-c", "import sys; from capture_client.cli import main; sys.exit(main())"]
        args = ["--server", server.url, "--token", TOKEN, "--spool", str(spool), *options]
        with open(log, "ab") as output:
            self.process = subprocess.Popen([*command, *args], stdout=output, stderr=output, cwd=PROJECT)

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text().splitlines()[-30:])

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no chance to clean up
        self.process.wait(10)


@pytest.fixture
def start_client(tmp_path: Path) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def start(server: FakeServer, *options: str) -> Client:
        client = Client(server, tmp_path / "spool", tmp_path / "client.log", *options)
        clients.append(client)
        return client

    yield start
    for client in clients:
        if client.process.poll() is None:
            client.kill()


def test_the_decode_check_takes_a_frame_rate_that_changes_midway(tmp_path: Path) -> None:
    """A recording whose client slowed down and sped up again decodes cleanly, and the check says so."""
    import av

    from adapters.media_combine import combine
    from capture_client.encoder import SegmentEncoder, VideoEncoder

    segments = []
    for start, frames, fps in ((0.0, 10, 5), (2.0, 4, 2), (4.0, 20, 10), (6.0, 4, 2)):
        encoder = SegmentEncoder(VideoEncoder(64, 48, fps))
        for i in range(frames):
            encoder.add(av.VideoFrame(64, 48, "yuv420p"), 0, start + i / fps)
        segment = encoder.finish()
        assert segment is not None
        segments.append((segment.start_offset_ms, segment.data))
    combined = tmp_path / "combined.mp4"
    combined.write_bytes(combine([(start, lambda data=data: data) for start, data in segments], None))
    assert decode_errors(combined) == ""


def wall(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def write_segments(server: FakeServer, recording_id: str, folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for sequence in server.sequences(recording_id):
        path = folder / f"{sequence:04d}.ts"
        path.write_bytes(server.segments[(recording_id, sequence)][0])
        paths.append(path)
    return paths


# ---------------------------------------------------------------- tests

STEADY = ["--fps", "5", "--segment-seconds", "2", "--size", "640x360", "--cpu-budget", "8", "--kbps-budget", "100000"]


def test_a_call_is_recorded_per_monitor_with_pauses_as_gaps(two_monitors, fake_server, start_client, tmp_path):
    point_at(1)
    client = start_client(fake_server, *STEADY)
    fake_server.wait_for(lambda: fake_server.stream_connections > 0, 15, "the command stream")

    started = time.time()
    fake_server.send("start", "rec-1", interaction_id="call-1")
    time.sleep(4.5)
    point_at(2)
    time.sleep(3.5)
    fake_server.send("snapshot", "rec-1", snapshot_id="snap-1", taker="supervisor", annotation="check")
    fake_server.send("start", "rec-1", interaction_id="call-1")  # repeated: a no-op
    time.sleep(1)
    paused = time.time()
    fake_server.send("pause", "rec-1")
    time.sleep(4)
    fake_server.send("snapshot", "rec-1", snapshot_id="snap-while-paused", taker="supervisor", annotation="")
    resumed = time.time()
    fake_server.send("resume", "rec-1")
    time.sleep(3)
    stopped = time.time()
    fake_server.send("stop", "rec-1")
    fake_server.wait_for(lambda: "rec-1" in fake_server.reports, 30, f"the capture report\n{client.log_tail()}")
    assert client.interrupt() == 0

    sequences = fake_server.sequences("rec-1")
    assert sequences == list(range(len(sequences))) and len(sequences) >= 6
    assert fake_server.reports["rec-1"]["segments"] == len(sequences)
    segments = write_segments(fake_server, "rec-1", tmp_path / "segments")
    params = [fake_server.segments[("rec-1", n)][1] for n in sequences]

    for path, meta in zip(segments, params, strict=True):
        assert decode_errors(path) == "", path.name  # decodes on its own
        frames = probe(path, "-show_entries", "frame=key_frame,width,height")
        assert frames[0][0] == "1", "a segment starts with a keyframe"
        assert {(f[1], f[2]) for f in frames} == {("640", "360")}  # one output size for both monitors
        assert (meta["codec"], meta["width"], meta["height"], meta["fps"]) == ("h264", "640", "360", "5")

    joined = tmp_path / "all.ts"
    joined.write_bytes(b"".join(path.read_bytes() for path in segments))
    assert decode_errors(joined) == ""

    # Duration: the wall time of the call minus the pause, give or take a segment.
    recorded = sum(float(probe(path, "-show_entries", "format=duration")[0][0]) for path in segments)
    assert abs(recorded - ((stopped - started) - (resumed - paused))) < 2.0
    assert abs(sum(int(meta["duration_ms"]) for meta in params) / 1000 - recorded) < 0.5 * len(segments)

    # Timestamps are offsets on the recording's clock: no frame was captured during the pause.
    origin = wall(params[0]["captured_at"]) - int(params[0]["start_offset_ms"]) / 1000
    frame_times = [origin + float(row[0]) for row in probe(joined, "-show_entries", "frame=pts_time")]
    assert frame_times == sorted(frame_times)
    assert not [t for t in frame_times if paused < t < resumed]  # not even in the pause command's transit
    assert max(b - a for a, b in pairwise(frame_times)) > 3.0  # the pause is a gap, not squeezed

    # The recorded monitor follows the pointer.
    monitors = [int(meta["monitor"]) for meta in params]
    assert monitors[0] == 1 and monitors[-1] == 2
    assert looks_like(first_frame_colour(segments[0]), RED)
    assert looks_like(first_frame_colour(segments[-1]), BLUE)

    # The snapshot: a JPEG of the monitor under the pointer; none while paused.
    assert list(fake_server.snapshots) == [("rec-1", "snap-1")]
    jpeg, meta = fake_server.snapshots[("rec-1", "snap-1")]
    (tmp_path / "snap.jpg").write_bytes(jpeg)
    assert probe(tmp_path / "snap.jpg", "-show_entries", "stream=codec_name,width,height") == [["mjpeg", "1024", "768"]]
    assert (meta["monitor"], meta["width"], meta["height"]) == ("2", "1024", "768")
    assert looks_like(first_frame_colour(tmp_path / "snap.jpg"), BLUE)


def test_a_killed_client_restarts_from_its_spool_without_losing_or_reusing_numbers(
    two_monitors, fake_server, start_client, tmp_path
):
    first = start_client(fake_server, *STEADY)
    fake_server.wait_for(lambda: fake_server.stream_connections > 0, 15, "the command stream")
    fake_server.send("start", "rec-2")
    fake_server.wait_for(lambda: len(fake_server.sequences("rec-2")) >= 1, 20, f"a segment\n{first.log_tail()}")
    fake_server.uploads_unavailable = True  # segments pile up in the spool
    spool_items = tmp_path / "spool" / "items"
    fake_server.wait_for(lambda: len(list(spool_items.glob("*.json"))) >= 2, 20, "spooled segments")
    time.sleep(1)  # into the next segment
    first.kill()
    uploaded_before = fake_server.sequences("rec-2")
    spooled_before = len(list(spool_items.glob("*.json")))

    fake_server.uploads_unavailable = False
    second = start_client(fake_server, *STEADY)  # the server replays `start`: the recording resumes
    fake_server.wait_for(
        lambda: len(fake_server.sequences("rec-2")) >= len(uploaded_before) + spooled_before + 2,
        30,
        f"segments after the restart\n{second.log_tail()}",
    )
    fake_server.send("stop", "rec-2")
    fake_server.wait_for(lambda: "rec-2" in fake_server.reports, 30, f"the capture report\n{second.log_tail()}")
    assert second.interrupt() == 0

    sequences = fake_server.sequences("rec-2")
    assert sequences == list(range(len(sequences)))
    assert fake_server.reports["rec-2"]["segments"] == len(sequences)
    assert fake_server.conflicts == 0 and not list((tmp_path / "spool" / "rejected").iterdir())
    offsets = [int(fake_server.segments[("rec-2", n)][1]["start_offset_ms"]) for n in sequences]
    assert offsets == sorted(offsets)  # the restarted client continues the same timeline


def test_a_client_restarted_during_a_pause_captures_nothing_until_resume(two_monitors, fake_server, start_client):
    first = start_client(fake_server, *STEADY)
    fake_server.wait_for(lambda: fake_server.stream_connections > 0, 15, "the command stream")
    fake_server.send("start", "rec-6")
    fake_server.wait_for(lambda: len(fake_server.sequences("rec-6")) >= 1, 20, f"a segment\n{first.log_tail()}")
    fake_server.send("pause", "rec-6")
    fake_server.wait_for(lambda: first.log.read_text().count("rec-6 paused") == 1, 10, "the pause")
    time.sleep(1)
    first.kill()
    before = fake_server.sequences("rec-6")

    second = start_client(fake_server, *STEADY)  # told `start` then `pause` on connecting
    fake_server.wait_for(lambda: fake_server.stream_connections > 1, 15, "the second command stream")
    time.sleep(4)
    assert fake_server.sequences("rec-6") == before
    resumed = time.time()
    fake_server.send("resume", "rec-6")
    fake_server.wait_for(lambda: len(fake_server.sequences("rec-6")) > len(before), 20, "a segment after resume")
    fake_server.send("stop", "rec-6")
    fake_server.wait_for(lambda: "rec-6" in fake_server.reports, 30, f"the capture report\n{second.log_tail()}")
    assert second.interrupt() == 0

    sequences = fake_server.sequences("rec-6")
    assert sequences == list(range(len(sequences)))
    after_restart = fake_server.segments[("rec-6", len(before))][1]
    assert wall(after_restart["captured_at"]) > resumed - 0.001


def test_segments_made_while_the_server_is_unreachable_arrive_in_order(
    two_monitors, fake_server, start_client, tmp_path
):
    client = start_client(fake_server, *STEADY)
    fake_server.wait_for(lambda: fake_server.stream_connections > 0, 15, "the command stream")
    fake_server.send("start", "rec-3")
    fake_server.wait_for(lambda: len(fake_server.sequences("rec-3")) >= 1, 20, "a segment")
    fake_server.down()
    time.sleep(10)
    fake_server.up()
    time.sleep(2)
    fake_server.send("stop", "rec-3")  # reaches the client once its command stream is back
    fake_server.wait_for(lambda: "rec-3" in fake_server.reports, 45, f"the capture report\n{client.log_tail()}")
    assert client.interrupt() == 0

    sequences = fake_server.sequences("rec-3")
    assert len(sequences) >= 6 and sequences == list(range(len(sequences)))
    assert [seq for rid, seq in fake_server.arrivals if rid == "rec-3"] == sequences  # in order
    assert fake_server.reports["rec-3"]["segments"] == len(sequences)


def test_an_interrupted_client_keeps_the_segment_in_progress(two_monitors, fake_server, start_client):
    client = start_client(fake_server, "--segment-seconds", "4", "--size", "640x360", "--cpu-budget", "8")
    fake_server.wait_for(lambda: fake_server.stream_connections > 0, 15, "the command stream")
    fake_server.send("start", "rec-7")
    fake_server.wait_for(lambda: len(fake_server.sequences("rec-7")) == 1, 20, f"a segment\n{client.log_tail()}")
    time.sleep(1.5)
    assert client.interrupt() == 0

    assert fake_server.sequences("rec-7") == [0, 1]  # the cut segment was spooled and sent on the way out
    assert int(fake_server.segments[("rec-7", 1)][1]["duration_ms"]) < 3500
    assert "rec-7" not in fake_server.reports  # the call goes on: only `stop` ends the recording


def test_a_tiny_cpu_budget_lowers_the_frame_rate_reported_with_segments(two_monitors, fake_server, start_client):
    options = ["--fps", "4", "--segment-seconds", "1", "--size", "640x360", "--cpu-budget", "0.0001"]
    client = start_client(fake_server, *options)
    fake_server.wait_for(lambda: fake_server.stream_connections > 0, 15, "the command stream")
    fake_server.send("start", "rec-4")
    fake_server.wait_for(lambda: len(fake_server.sequences("rec-4")) >= 4, 30, f"segments\n{client.log_tail()}")
    fake_server.send("stop", "rec-4")
    fake_server.wait_for(lambda: "rec-4" in fake_server.reports, 30, "the capture report")
    assert client.interrupt() == 0

    reported = [fake_server.segments[("rec-4", n)][1] for n in fake_server.sequences("rec-4")]
    rates = [int(meta["fps"]) for meta in reported]
    assert rates[0] == 4 and rates[-1] < 4
    assert rates == sorted(rates, reverse=True)  # the frame rate goes first ...
    assert {(meta["width"], meta["height"]) for meta in reported if int(meta["fps"]) > 1} == {("640", "360")}


def test_refused_uploads_are_kept_in_rejected_and_the_rest_still_goes(fake_server, tmp_path):
    spool = Spool(tmp_path / "spool")
    for sequence in range(4):
        body = f"segment {sequence}".encode()
        segment = EncodedSegment(body, sequence * 1000, 1000, 1, 640, 360, 5)
        spool_segment(spool, "rec-5", sequence, segment, "2026-01-01T00:00:00+00:00")
    spool_capture_report(spool, "rec-5", 4, "2026-01-01T00:00:04+00:00")
    fake_server.answers = {
        "/v1/recordings/rec-5/segments/0": [503, 503],  # retried, in order, before anything else
        "/v1/recordings/rec-5/segments/1": [409],
        "/v1/recordings/rec-5/segments/2": [422],
    }
    with httpx.Client(base_url=fake_server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        uploader = Uploader(spool, http)
        uploader.start()
        fake_server.wait_for(lambda: spool.depth() == 0, 30, "the spool to drain")
        uploader.stop(drain_seconds=1)

    assert fake_server.arrivals == [("rec-5", 0), ("rec-5", 3)]
    assert fake_server.reports["rec-5"]["segments"] == 4
    rejected = sorted(path.name.split("-", 1)[1] for path in (tmp_path / "spool" / "rejected").iterdir())
    assert rejected == [f"rec-5.segment-0000000{n}.{kind}" for n in (1, 2) for kind in ("answer.json", "body", "json")]
    answer = json.loads(next((tmp_path / "spool" / "rejected").glob("*segment-00000002.answer.json")).read_text())
    assert answer["status"] == 422
