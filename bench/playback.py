"""Playback: the playable file's cold build, time to first byte and seek latency, and the
server's memory, each beside a baseline from the same run.

Run by hand (never in tests):
    .venv/bin/python bench/playback.py [--minutes 60] [--fps 2] [--size 1280x720] [--repeats 200]

One call of ``--minutes`` (default an hour): ``--segment-seconds`` screen segments
(H.264 in MPEG-TS as the capture client writes them, made by api/cli/demo_media.py
so every frame shows its time) and the whole call's voice (16-bit mono WAV at
``--voice-rate``). Everything goes through a real ``callvault serve`` subprocess on
a temporary SQLite store with its own CALLVAULT_* settings:

1. Ingest over HTTP (start, every segment, end, after-call work, voice); the server
   encodes the voice to AAC and draws its waveform peaks after answering the voice
   upload (``Playback.prepare_voice``), timed until its peaks appear in the store.
   Then a viewing is opened (POST /v1/recordings/{id}/viewings, a legal user) and its
   first media request (``Range: bytes=0-``) is timed to its first body byte: the
   cold build of the playable file (the segments remuxed, the AAC track copied, the
   result chunk-sealed and stored). Two more viewings with one part each (screen
   only, audio only) build two more files. Beside them, in the same run: ``ffmpeg -f
   concat -safe 0 -i list.txt -c copy`` of the same segments, the same concat with an
   AAC track of the voice copied in (what a cold build now does), the voice encoded
   to that AAC track alone (what the upload's preparation does), and the concat with
   the voice encoded in the same command (the whole work from the WAV).
2. Time to first byte (``Range: bytes=0-`` on a new connection, dropped after the
   first chunk as a browser does) and seek latency (a 64 KiB range at 90 % of the
   file, keep-alive) against the same plain MP4 served by a minimal ASGI app under
   the same uvicorn (``os.pread`` per range; see ``static_app``), the two servers
   asked in turn.
3. The server process's peak memory (VmHWM from /proc/PID/status, reset through
   /proc/PID/clear_refs before each phase): while building and while serving.

After the server stops, the build is repeated in-process on the same store (the
server's MediaVault and adapters/media_combine.py) to split it further: reading and
opening the sealed segments and voice, the AAC encode and the peaks (the upload's
preparation), the remux, the combine of a cold build, sealing; and what one media
request costs there. ``--profile`` adds a cProfile of the in-process combine.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import json
import os
import pstats
import re
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import httpx

from adapters.media_combine import AAC_BITS_PER_SAMPLE, AAC_MAX_BIT_RATE

CALLVAULT = Path(sys.executable).with_name("callvault")
CHUNK = 1024 * 1024  # the static server reads and sends what callvault seals: 1 MiB at a time
SEEK_BYTES = 64 * 1024
MiB = 1024 * 1024


# -- the trivial static server (the serving baseline) -------------------------------


def static_app(path: str) -> Callable[..., Any]:
    """A minimal ASGI app serving one file with single-range support, straight from os.pread."""
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    ranges = re.compile(rb"bytes=(\d*)-(\d*)")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].split(".")[-1]  # startup / shutdown
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        wanted = ranges.fullmatch(dict(scope["headers"]).get(b"range", b""))
        first, last, status = 0, size - 1, 200
        if wanted and wanted.group(1):
            first, last, status = int(wanted.group(1)), min(size - 1, int(wanted.group(2) or size - 1)), 206
        elif wanted and wanted.group(2):
            first, status = max(0, size - int(wanted.group(2))), 206
        headers = [
            (b"content-type", b"video/mp4"),
            (b"accept-ranges", b"bytes"),
            (b"content-length", str(last - first + 1).encode()),
        ]
        if status == 206:
            headers.append((b"content-range", f"bytes {first}-{last}/{size}".encode()))
        gone = asyncio.Event()  # uvicorn drops what is sent after a disconnect: stop reading then

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            at = first
            while at <= last and not gone.is_set():
                data = os.pread(fd, min(CHUNK, last - at + 1), at)
                at += len(data)
                await send({"type": "http.response.body", "body": data, "more_body": at <= last})
        finally:
            watcher.cancel()

    return app


def serve_static(path: str, port: int) -> None:
    import uvicorn

    uvicorn.run(static_app(path), host="127.0.0.1", port=port, log_config=None, access_log=False)


# -- processes and their memory --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within 60 s:\n{log.read_text()[-3000:]}")


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    """Sets VmHWM back to the current RSS (Linux: 5 > /proc/PID/clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Peak:
    """The process's VmHWM over a phase, and its RSS at the start of it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> Peak:
        reset_peak(self.pid)
        self.start_kib = status_kib(self.pid, "VmRSS")
        self.cpu = cpu_seconds(self.pid)
        return self

    def __exit__(self, *_: object) -> None:
        self.peak_kib = status_kib(self.pid, "VmHWM")
        self.end_kib = status_kib(self.pid, "VmRSS")
        self.cpu = cpu_seconds(self.pid) - self.cpu

    def describe(self) -> str:
        return (
            f"peak {self.peak_kib / 1024:.0f} MiB (RSS {self.start_kib / 1024:.0f} MiB before, "
            f"+{(self.peak_kib - self.start_kib) / 1024:.0f} MiB; {self.end_kib / 1024:.0f} MiB after)"
        )


def run_measured(command: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS KiB) of one child process, from wait4."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise SystemExit(f"{command} failed: {process.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


# -- the media ---------------------------------------------------------------------------


def make_media(folder: Path, args: argparse.Namespace) -> tuple[list[tuple[int, int, Path]], Path]:
    """The call's segments (number, start ms, file) and voice file; reused when ``folder`` already has them."""
    from api.cli.demo_media import call_voice, screen_segment

    width, height = args.size
    step = int(args.segment_seconds * 1000)
    total_ms = int(args.minutes * 60_000)
    layout = [(n, start) for n, start in enumerate(range(0, total_ms, step))]
    recipe = {
        "minutes": args.minutes,
        "segment_ms": step,
        "fps": args.fps,
        "size": [width, height],
        "voice_rate": args.voice_rate,
    }
    manifest = folder / "manifest.json"
    segments = [(n, start, folder / f"segment-{n:06d}.ts") for n, start in layout]
    voice = folder / "voice.wav"
    if manifest.exists() and json.loads(manifest.read_text()) == recipe:
        print(f"# media reused from {folder}")
        return segments, voice
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    for _, start, path in segments:
        path.write_bytes(screen_segment(start, min(step, total_ms - start), args.fps, width, height))
    voice.write_bytes(call_voice(total_ms, sample_rate=args.voice_rate))
    manifest.write_text(json.dumps(recipe))
    print(f"# media made in {time.perf_counter() - began:.0f} s")
    return segments, voice


# -- the server's side ----------------------------------------------------------------------


def server_settings(work: Path, port: int) -> Any:
    from adapters.settings import Settings

    return Settings(
        sqlite_path=str(work / "callvault.sqlite3"),
        media_url=str(work / "store"),
        archive_url=str(work / "archive"),
        master_key_file=str(work / "master.key"),
        signing_key_file=str(work / "log-signing.key"),
        port=port,
        log_level="WARNING",
    )


def server_env(settings: Any) -> dict[str, str]:
    """This environment without its CALLVAULT_* variables, plus every setting spelled out."""
    from adapters.settings import PREFIX

    env = {name: value for name, value in os.environ.items() if not name.startswith(PREFIX)}
    for field in type(settings).__struct_fields__:
        value = getattr(settings, field)
        if value is not None:
            env[PREFIX + field.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def provision(settings: Any) -> dict[str, str]:
    """Migrates the store and registers the three users the run acts as; their bearer tokens by name."""
    from adapters.event_store import open_ledger
    from adapters.migrate import migrate
    from domain.values import Actor

    migrate(settings)
    ledger = open_ledger(settings, group_commit=False)
    try:
        setup, now = Actor("bench-setup", "admin"), datetime.now(UTC)
        ledger.create_team(name="floor", parent=None, occurred_at=now, by=setup)
        users = [("pbx", "telephony", None), ("agent-1", "agent", "floor"), ("lena", "legal", None)]
        return {
            name: ledger.register_user(name=name, role=role, team=team, occurred_at=now, by=setup)[1]
            for name, role, team in users
        }
    finally:
        ledger.close()


def ingest(
    base: str, tokens: dict[str, str], segments: list[tuple[int, int, Path]], voice: Path, args: argparse.Namespace
) -> tuple[str, float, float]:
    """The call through the HTTP API; (recording id, seconds for the segments, seconds for the voice)."""

    def client(user: str) -> httpx.Client:
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[user]}"}, timeout=600)

    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=args.minutes + 30)
    total_ms = int(args.minutes * 60_000)
    width, height = args.size
    with client("pbx") as pbx, client("agent-1") as agent:
        call = {
            "interaction_id": f"bench-{secrets.token_hex(4)}",
            "agent_id": "agent-1",
            "customer_id": "cust-1",
            "queue": "support",
            "direction": "inbound",
            "occurred_at": started.isoformat(),
        }
        answer = pbx.post("/v1/recordings", json=call)
        answer.raise_for_status()
        rid = answer.json()["recording_id"]
        began = time.perf_counter()
        for number, start, path in segments:
            body = path.read_bytes()
            params: dict[str, str | int] = {
                "sha256": hashlib.sha256(body).hexdigest(),
                "captured_at": (started + timedelta(milliseconds=start)).isoformat(),
                "start_offset_ms": start,
                "duration_ms": min(int(args.segment_seconds * 1000), total_ms - start),
                "monitor": 0,
                "width": width,
                "height": height,
                "fps": args.fps,
            }
            put = agent.put(f"/v1/recordings/{rid}/segments/{number}", content=body, params=params)
            if put.status_code != 201:
                raise SystemExit(f"segment {number}: {put.status_code} {put.text[:500]}")
        segment_seconds = time.perf_counter() - began
        ended = started + timedelta(milliseconds=total_ms)
        pbx.post(f"/v1/recordings/{rid}/end", json={"reason": "hangup", "occurred_at": ended.isoformat()})
        wrapped = ended + timedelta(seconds=30)
        pbx.post(f"/v1/recordings/{rid}/acw-end", json={"reason": "done", "occurred_at": wrapped.isoformat()})
        body = voice.read_bytes()
        began = time.perf_counter()
        put = pbx.put(
            f"/v1/recordings/{rid}/voice",
            content=body,
            params={"sha256": hashlib.sha256(body).hexdigest(), "recorded_at": ended.isoformat()},
        )
        if put.status_code != 201:
            raise SystemExit(f"voice: {put.status_code} {put.text[:500]}")
        return rid, segment_seconds, time.perf_counter() - began


def views_caught_up(base: str) -> None:
    deadline = time.monotonic() + 120
    while any(httpx.get(f"{base}/ready", timeout=30).json()["views"].values()):
        if time.monotonic() > deadline:
            raise SystemExit("views did not catch up in 120 s")
        time.sleep(0.1)


def first_byte(client: httpx.Client, url: str, sink: io.BufferedWriter | None = None) -> tuple[float, float]:
    """GET ``url`` with ``Range: bytes=0-``: (s to the first body byte, s to the last); the rest
    is read into ``sink`` if given, else the connection is dropped after the first chunk."""
    began = time.perf_counter()
    with client.stream("GET", url, headers={"Range": "bytes=0-"}) as response:
        if response.status_code not in (200, 206):
            raise SystemExit(f"GET {url}: {response.status_code} {response.read()[:500]!r}")
        chunks = response.iter_raw()
        first = next(chunks)
        ttfb = time.perf_counter() - began
        if sink is None:
            return ttfb, ttfb
        sink.write(first)
        for chunk in chunks:
            sink.write(chunk)
    return ttfb, time.perf_counter() - began


def seek(client: httpx.Client, url: str, at: int) -> float:
    began = time.perf_counter()
    response = client.get(url, headers={"Range": f"bytes={at}-{at + SEEK_BYTES - 1}"})
    elapsed = time.perf_counter() - began
    if response.status_code != 206 or len(response.content) != SEEK_BYTES:
        raise SystemExit(f"seek at {at}: {response.status_code}, {len(response.content)} bytes")
    return elapsed


class RssSampler:
    """The largest RSS seen every 20 ms (to show when in a build the peak falls)."""

    def __init__(self, pid: int) -> None:
        self.pid, self._stop = pid, threading.Event()
        self.samples: list[tuple[float, int]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        began = time.perf_counter()
        while not self._stop.wait(0.02):
            self.samples.append((time.perf_counter() - began, status_kib(self.pid, "VmRSS")))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_at(self) -> str:
        if not self.samples:
            return "no samples"
        at, kib = max(self.samples, key=lambda s: s[1])
        return f"sampled RSS peaked at {at:.1f} s ({kib / 1024:.0f} MiB)"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return f"median {1000 * statistics.median(values):.2f} ms, p95 {1000 * percentile(values, 0.95):.2f} ms"


# -- the in-process split ----------------------------------------------------------------------


def split_build(settings: Any, rid: str, profile: bool) -> list[tuple[str, float, str]]:
    """The server's build repeated in this process on the same store, a part at a time, each
    with this process's own peak memory over it; then what one media request costs there."""
    from uuid import UUID

    from adapters import crypto
    from adapters.media_combine import combine, voice_peaks, voice_track
    from api.bootstrap import build
    from api.services.playback import PEAKS_PER_SECOND
    from domain.recording import Recording

    components = build(settings, serving=False)
    recording_id = UUID(rid)
    rows: list[tuple[str, float, str]] = []

    def step(label: str, work: Callable[[], Any], note: Callable[[Any], str] = lambda _: "") -> Any:
        with Peak(os.getpid()) as peak:
            began = time.perf_counter()
            result = work()
            took = time.perf_counter() - began
        grew = (peak.peak_kib - peak.start_kib) / 1024
        rows.append((label, took, f"{note(result)}; peak RSS +{grew:.0f} MiB".lstrip("; ")))
        return result

    try:
        media, playback = components.media, components.playback
        events = step(
            "read the recording's history from the log",
            lambda: components.ledger.history(recording_id).events,
            lambda found: f"{len(found)} events",
        )
        segments = [e for e in events if isinstance(e, Recording.ScreenSampled)]
        voice_event = [e for e in events if isinstance(e, Recording.VoiceRecorded)][-1]
        plain = step(
            "read and open the sealed segments",
            lambda: [(e.start_offset_ms, media.get(recording_id, e.media_key)) for e in segments],
            lambda found: f"{len(found)} objects, {sum(len(b) for _, b in found) / MiB:.1f} MiB",
        )
        store = Path(settings.media_url)
        step("  of which reading the files alone", lambda: [(store / e.media_key).read_bytes() for e in segments])
        voice = step(
            "read and open the sealed voice (whole, as the build does)",
            lambda: media.get(recording_id, voice_event.media_key),
            lambda found: f"{len(found) / MiB:.1f} MiB",
        )

        def readers() -> list[tuple[int, Callable[[], bytes]]]:
            return [(start, lambda body=body: body) for start, body in plain]

        def size(found: bytes) -> str:
            return f"{len(found) / MiB:.1f} MiB"

        track = step("voice_track (AAC, as prepare_voice encodes it on upload)", lambda: voice_track(voice), size)
        step(
            "  the same with aac_coder=fast (not what the server does)",
            lambda: encode_voice(voice, {"aac_coder": "fast"}),
            size,
        )
        step("voice_peaks (on upload too)", lambda: voice_peaks(voice, PEAKS_PER_SECOND), lambda p: f"{len(p)} peaks")
        step("combine, screen only (remux)", lambda: combine(readers(), None), size)
        both = step("combine, screen and AAC track (a cold build's combine)", lambda: combine(readers(), track), size)
        step("seal_chunks of the combined file", lambda: crypto.seal_chunks(os.urandom(32), "bench/x.mp4", both))

        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            combine([(e.start_offset_ms, lambda e=e: media.get(recording_id, e.media_key)) for e in segments], track)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
            print("# cProfile of combine (screen read from the vault, and the AAC track), by own time:")
            print("\n".join("#   " + line for line in out.getvalue().splitlines() if line.strip()))

        # What each media request does before and while streaming (Playback.playable, then the range).
        parts = ("audio", "screen")
        key = playback._built(recording_id, parts)  # built by the server: this only finds it
        film = media.open_derived(recording_id, key)
        assert film is not None
        late = int(film.size * 0.9)
        for label, work in (
            (
                "a viewing's first request: find the built file (recording state, fingerprint, size)",
                lambda: playback._built(recording_id, parts),
            ),
            (
                "each later request: the viewing's file, opened (key and size)",
                lambda: media.open_derived(recording_id, key),
            ),
            (
                "per request: read 64 KiB at 90 % (opens the chunks it lies in)",
                lambda: film.read(late, late + SEEK_BYTES - 1),
            ),
        ):
            times = []
            for _ in range(50):
                began = time.perf_counter()
                work()
                times.append(time.perf_counter() - began)
            rows.append((label, statistics.median(times), "median of 50"))
    finally:
        components.close()
    return rows


def encode_voice(voice: bytes, options: dict[str, str]) -> bytes:
    """The voice to AAC in MP4 as voice_track does (mono fltp, its bit rate), with encoder ``options``."""
    out_buffer = io.BytesIO()
    with av.open(io.BytesIO(voice)) as source, av.open(out_buffer, mode="w", format="mp4") as out:
        rate = source.streams.audio[0].rate or 8000
        stream = out.add_stream("aac", rate=rate, options=options)
        stream.bit_rate = min(AAC_MAX_BIT_RATE, AAC_BITS_PER_SAMPLE * rate)
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        for frame in source.decode(source.streams.audio[0]):
            for resampled in resampler.resample(frame):
                out.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))
    return out_buffer.getvalue()


# -- the run -------------------------------------------------------------------------------------


def size_arg(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60, help="length of the call")
    parser.add_argument("--segment-seconds", type=float, default=5)
    parser.add_argument("--fps", type=int, default=2, help="screen frames per second")
    parser.add_argument("--size", type=size_arg, default=(1280, 720), help="screen size WxH")
    parser.add_argument("--voice-rate", type=int, default=8000, help="the voice WAV's sample rate (Hz)")
    parser.add_argument("--repeats", type=int, default=200, help="requests per serving figure and server")
    parser.add_argument("--baseline-runs", type=int, default=3, help="runs of each ffmpeg baseline (median)")
    parser.add_argument("--media-cache", type=Path, help="keep the made media here and reuse it next time")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process build")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for the server"
    )
    parser.add_argument("--serve-static", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_static:
        serve_static(args.serve_static, args.port)
        return

    with tempfile.TemporaryDirectory(prefix="callvault-playback-bench-") as tmp:
        work = Path(tmp)
        segments, voice = make_media(args.media_cache or work / "made", args)
        seg_bytes = sum(path.stat().st_size for _, _, path in segments)
        duration_s = args.minutes * 60
        print(
            f"# callvault playback benchmark: a {args.minutes:g}-minute call, {len(segments)} screen segments of "
            f"{args.segment_seconds:g} s ({args.size[0]}x{args.size[1]}, {args.fps} fps, H.264 in MPEG-TS, "
            f"{seg_bytes / MiB:.1f} MiB, {8 * seg_bytes / duration_s / 1000:.0f} kbit/s), voice WAV "
            f"{args.voice_rate} Hz mono 16-bit ({voice.stat().st_size / MiB:.1f} MiB); "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
            + (f"; server environment adds {' '.join(args.server_env)}" if args.server_env else "")
        )

        # The baselines' inputs: the same segment files, listed in order.
        listing = work / "list.txt"
        listing.write_text("".join(f"file '{path}'\n" for _, _, path in segments))
        ffmpeg = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
        track = work / "voice.m4a"
        aac_rate = str(min(AAC_MAX_BIT_RATE, AAC_BITS_PER_SAMPLE * args.voice_rate))
        commands = {
            # The voice to AAC at the server's bit rate (what prepare_voice does once, on upload).
            "voice to AAC": ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(voice), "-c:a", "aac"]
            + ["-b:a", aac_rate, str(track)],
            "remux": [*ffmpeg, "-c", "copy", str(work / "concat.mp4")],
            # The segments and that AAC track copied into one MP4 (what a cold build now does).
            "remux + AAC track": [*ffmpeg, "-i", str(track), "-map", "0:v", "-map", "1:a", "-c", "copy"]
            + [str(work / "concat-track.mp4")],
            # All in one command from the WAV (the build's whole work before the voice was prepared on upload).
            "remux + AAC encode": [*ffmpeg, "-i", str(voice), "-map", "0:v", "-map", "1:a", "-c:v", "copy"]
            + ["-c:a", "aac", "-b:a", aac_rate, str(work / "concat-voice.mp4")],
        }
        labels = {
            "voice to AAC": f"ffmpeg -i voice.wav -c:a aac -b:a {aac_rate}",
            "remux": "ffmpeg -f concat -safe 0 -i list.txt -c copy",
            "remux + AAC track": "ffmpeg -f concat ... -i voice.m4a -c copy",
            "remux + AAC encode": f"ffmpeg -f concat ... -i voice.wav -c:v copy -c:a aac -b:a {aac_rate}",
        }

        port = free_port()
        settings = server_settings(work, port)
        tokens = provision(settings)
        log = work / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [str(CALLVAULT), "serve"],
                env=server_env(settings) | dict(pair.split("=", 1) for pair in args.server_env),
                cwd=work,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        static: subprocess.Popen[bytes] | None = None
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/health", server, log)
            with Peak(server.pid) as preparing:
                rid, seg_s, voice_s = ingest(base, tokens, segments, voice, args)
                answered = time.perf_counter()
                # The server encodes the voice and draws its peaks after answering the upload.
                derived = Path(settings.media_url) / "recordings" / rid / "derived"
                while not list(derived.glob("voice-*.peaks.json")):
                    if time.perf_counter() - answered > 900:
                        raise SystemExit("the voice was not prepared within 900 s")
                    time.sleep(0.05)
                prepared = time.perf_counter() - answered
            views_caught_up(base)
            print(
                f"# ingest over HTTP: {len(segments)} segments in {seg_s:.1f} s "
                f"({len(segments) / seg_s:.0f}/s), voice in {voice_s:.1f} s; server RSS now "
                f"{status_kib(server.pid, 'VmRSS') / 1024:.0f} MiB"
            )

            lena = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['lena']}"}, timeout=900)
            plain = work / "playable.mp4"
            builds: dict[str, tuple[float, float, Peak, RssSampler, int]] = {}
            urls: dict[str, str] = {}
            for parts in (["audio", "screen"], ["screen"], ["audio"]):
                viewing = {"reason_code": "legal_request", "parts": parts}
                opened = lena.post(f"/v1/recordings/{rid}/viewings", json=viewing)
                if opened.status_code != 201:
                    raise SystemExit(f"viewing: {opened.status_code} {opened.text[:500]}")
                url = opened.json()["playable_url"]
                name = "+".join(parts)
                urls[name] = url
                target = plain if name == "audio+screen" else work / f"playable-{name}.mp4"
                with Peak(server.pid) as peak, RssSampler(server.pid) as sampler, target.open("wb") as sink:
                    ttfb, whole = first_byte(lena, url, sink)
                builds[name] = (ttfb, whole, peak, sampler, target.stat().st_size)

            baselines: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
            for _ in range(args.baseline_runs):
                for name, command in commands.items():
                    baselines[name].append(run_measured(command))

            # Serving: the built file through callvault, and the same bytes from the trivial server.
            static_port = free_port()
            static_log = work / "static.log"
            with static_log.open("wb") as out:
                static = subprocess.Popen(
                    [sys.executable, __file__, "--serve-static", str(plain), "--port", str(static_port)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            static_url = f"http://127.0.0.1:{static_port}/playable.mp4"
            wait_for(static_url, static, static_log)
            size = plain.stat().st_size
            late = int(size * 0.9)
            playable_url = urls["audio+screen"]
            assert (
                lena.get(playable_url, headers={"Range": f"bytes={late}-{late + 99}"}).content
                == (plain.read_bytes()[late : late + 100])
            ), "the server and the file fetched from it disagree"
            ttfb: dict[str, list[float]] = {"callvault": [], "static": []}
            seeks: dict[str, list[float]] = {"callvault": [], "static": []}
            # One client per server for seeks (keep-alive), one for first bytes (its connections dropped).
            bearer = {"Authorization": f"Bearer {tokens['lena']}"}
            clients = {
                "callvault": (httpx.Client(headers=bearer, timeout=60), httpx.Client(headers=bearer, timeout=60)),
                "static": (httpx.Client(timeout=60), httpx.Client(timeout=60)),
            }
            targets = {"callvault": base + playable_url, "static": static_url}
            for name, (seeker, _) in clients.items():  # warm-up: first requests' costs are not counted
                for _ in range(5):
                    seek(seeker, targets[name], late)
            # Two phases, each server's memory and CPU counted apart: first bytes, then seeks.
            phases: dict[str, dict[str, Peak]] = {}
            for phase, figures in (("first byte", ttfb), ("seek", seeks)):
                with Peak(server.pid) as ours, Peak(static.pid) as theirs:
                    for i in range(args.repeats):
                        for name in ("callvault", "static") if i % 2 == 0 else ("static", "callvault"):
                            seeker, opener = clients[name]
                            if phase == "seek":
                                figures[name].append(seek(seeker, targets[name], late))
                            else:
                                figures[name].append(first_byte(opener, targets[name])[0])
                phases[phase] = {"callvault": ours, "static": theirs}
            for pair in clients.values():
                for client in pair:
                    client.close()
            lena.close()
        finally:
            for process in (static, server):
                if process is not None and process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
        split = split_build(settings, rid, args.profile)

        with av.open(str(plain)) as built, av.open(str(work / "concat-track.mp4")) as reference:
            shape = ", ".join(
                f"{s.type} {float(s.duration * s.time_base) if s.duration else 0:.0f} s ({s.codec_context.name})"
                for s in built.streams
            )
            ref_shape = ", ".join(
                f"{s.type} {float(s.duration * s.time_base) if s.duration else 0:.0f} s" for s in reference.streams
            )
        print(f"# built file: {size / MiB:.1f} MiB, {shape}; ffmpeg's concat + AAC track: {ref_shape}")

        walls = {name: statistics.median(w for w, _, _ in runs) for name, runs in baselines.items()}
        remux, remux_track = walls["remux"], walls["remux + AAC track"]

        def against(seconds: float) -> str:
            return f"{seconds:8.2f} s  {seconds / remux:5.2f} x remux  {seconds / remux_track:5.2f} x remux+track"

        print("\n## 1. Cold build of the playable file (first media request, to its first byte)")
        print(
            f"{'callvault, voice prepared after the upload answered (AAC + peaks):':<72} {prepared:8.2f} s  "
            f"{prepared / walls['voice to AAC']:5.2f} x ffmpeg's voice to AAC; server over ingest and preparation: "
            f"{preparing.describe()}"
        )
        for name, (first, whole, _, _, nbytes) in builds.items():
            extra = "" if name != "audio+screen" else " (the player's file)"
            print(
                f"{'callvault, ' + name + extra + ':':<72} {against(first)}   "
                f"(whole file read by {whole:.2f} s, {nbytes / MiB:.1f} MiB)"
            )
        for name, runs in baselines.items():
            cpu = statistics.median(c for _, c, _ in runs)
            rss = max(r for _, _, r in runs)
            print(
                f"{labels[name] + ':':<72} {against(walls[name])}   "
                f"(median of {len(runs)}, {min(w for w, _, _ in runs):.2f}-{max(w for w, _, _ in runs):.2f} s; "
                f"CPU {cpu:.2f} s; peak RSS {rss / 1024:.0f} MiB)"
            )

        print("\n## Where the build's time goes (in-process, the server's store and code, after it stopped)")
        for label, seconds, note in split:
            figure = f"{seconds:8.2f} s " if seconds >= 0.1 else f"{1000 * seconds:7.2f} ms"
            print(f"{label + ':':<76} {figure}  {note}")

        print(f"\n## 2. Serving the built file ({size / MiB:.1f} MiB), {args.repeats} requests each, in turn")
        for name in ("callvault", "static"):
            print(f"time to first byte, {name} (Range: bytes=0-, new connection): {ms(ttfb[name])}")
        for name in ("callvault", "static"):
            print(f"seek, {name} (64 KiB at {late} = 90 %, keep-alive): {ms(seeks[name])}")
        for what, figures in (("time to first byte", ttfb), ("seek", seeks)):
            cv, st = figures["callvault"], figures["static"]
            print(
                f"{what}: callvault / static = {statistics.median(cv) / statistics.median(st):.2f} (medians), "
                f"{percentile(cv, 0.95) / percentile(st, 0.95):.2f} (p95)"
            )
        for phase, peaks in phases.items():
            print(
                f"server CPU per {phase} request: callvault {1000 * peaks['callvault'].cpu / args.repeats:.2f} ms, "
                f"static {1000 * peaks['static'].cpu / args.repeats:.2f} ms"
            )

        print("\n## 3. Server process memory (VmHWM, reset at the start of each phase)")
        for name, (_, _, peak, sampler, _) in builds.items():
            print(f"building {name}: {peak.describe()}; {sampler.peak_at()}")
        for phase, peaks in phases.items():
            for name, peak in peaks.items():
                print(f"serving, {args.repeats} {phase} requests: {name} {peak.describe()}")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"# (this bench process's own peak RSS: {own:.0f} MiB)")


if __name__ == "__main__":
    main()
