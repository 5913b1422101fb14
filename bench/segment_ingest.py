"""Screen-segment ingest through the HTTP API, beside hashing, sealing and storing the same bytes directly.

Run by hand (never in tests):
    .venv/bin/python bench/segment_ingest.py [--uploads 240] [--clients 1 8] [--engines sqlite postgresql] \
        [--large-seconds 60] [--admin-url postgresql://postgres@127.0.0.1/postgres]

The segments are what the capture client sends: H.264 in MPEG-TS, 1920x1080 at 5 fps, 5 s
each, encoded with its x264 options (``api/cli/demo_media.py`` keeps a copy of them) from
a changing synthetic desktop: the demo's time-coded band over a page of text-like glyphs
that scrolls by a line every second. Eight distinct segments are made once (kept in
``--media-dir``) and sent in turn; a larger one (``--large-seconds`` of the same screen,
scrolling every frame: several MB) shows whether the server's memory grows with a
segment's size.

For each engine (the embedded SQLite default, and PostgreSQL on a fresh scratch
database) one ``callvault serve`` subprocess is started, run from the checkout this file
is in (so a copy in another worktree measures that worktree's code). For each
``--clients`` count, N threads each start a call and PUT its segments one after the other
(a new call every 60 segments, five minutes); measured: uploads/s, MB/s of segment
bytes, the server process's CPU seconds per upload (utime+stime from /proc, and the
views worker's apart) and its peak RSS over the run (VmHWM, reset through
/proc/PID/clear_refs before it). Right after, in the same run, the baseline: the
same bytes, hashed (SHA-256), sealed (the vault's whole-object AES-GCM) and stored
create-only in a media store on the same disk, by as many threads of this one process,
without HTTP, probing or the ledger; the ratio is ingest over baseline.

These machines are noisy and shared: only ratios within one run mean much.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, not the one installed in the venv

import av  # noqa: E402
import httpx  # noqa: E402
import msgspec  # noqa: E402
from playback import cpu_seconds, free_port, provision, reset_peak, server_env, server_settings, status_kib, wait_for  # noqa: E402
from scratch_databases import DEFAULT_ADMIN_URL, create_scratch_database, drop_scratch_database  # noqa: E402

from adapters import crypto  # noqa: E402
from adapters.media_probe import probe_segment  # noqa: E402
from adapters.media_store import MediaStore  # noqa: E402
from api.cli.demo_media import (  # noqa: E402
    TICKS_PER_SECOND,
    TS_CLOCK,
    X264_OPTIONS,
    frame_rgba,
    frame_times,
    screen_segment,
)

WIDTH, HEIGHT, FPS, SEGMENT_MS = 1920, 1080, 5, 5000
BAND = 300  # rows of the demo's time-coded band at the top of the screen
DISTINCT = 8
SEGMENTS_PER_CALL = 60


# -- the segments ----------------------------------------------------------------------


def text_page(width: int, rows: int, seed: int = 7) -> list[bytes]:
    """Grey rows of a page of made-up text: lines of 8x16 glyphs from 80 random ones, in words, some blank."""
    rnd = random.Random(seed)
    ink = [[bytes(0 if rnd.random() < 0.35 else 255 for _ in range(7)) + b"\xff" for _ in range(11)] for _ in range(80)]
    glyphs = [g + [b"\xff" * 8] * 5 for g in ink]
    glyphs[0] = [b"\xff" * 8] * 16  # the space between words
    page: list[bytes] = []
    while len(page) < rows:
        if rnd.random() < 0.15:
            page += [b"\xff" * width] * 16
            continue
        indent, length, line = rnd.randrange(2, 20), rnd.randrange(width // 16, width // 8), []
        while len(line) < length:
            line += [rnd.randrange(1, 80) for _ in range(rnd.randrange(2, 10))] + [0]
        line = line[: width // 8 - indent]
        page += [(b"\xff" * 8 * indent + b"".join(glyphs[g][r] for g in line)).ljust(width, b"\xff") for r in range(16)]
    return page


def rgba(grey: bytes) -> bytes:
    out = bytearray(len(grey) * 4)
    out[0::4], out[1::4], out[2::4], out[3::4] = grey, grey, grey, b"\xff" * len(grey)
    return bytes(out)


def desktop_segment(start_ms: int, duration_ms: int, page: list[bytes], scroll_ms: int = 1000) -> bytes:
    """A segment as the capture client encodes it: frames at ``start_ms`` + i/FPS, the text scrolled
    by a line every ``scroll_ms`` under the demo's time-coded band."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=FPS, options=X264_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.time_base = TS_CLOCK
        for ms in frame_times(start_ms, duration_ms, FPS):
            top = (ms // scroll_ms * 16) % (len(page) - HEIGHT)
            pixels = frame_rgba(ms, WIDTH, BAND) + b"".join(page[top : top + HEIGHT - BAND])
            frame = av.VideoFrame.from_bytes(pixels, WIDTH, HEIGHT, format="rgba").reformat(format="yuv420p")
            frame.pts, frame.time_base = ms * TICKS_PER_SECOND // 1000, TS_CLOCK
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def make_segments(folder: Path, large_seconds: int, screen: str) -> tuple[list[bytes], bytes]:
    """The distinct 5-s segments and the large one; made once, then read from ``folder``.
    ``screen`` "flat": the demo's own frames instead (a coloured background and the time
    code, nothing else: the cheapest keyframes to decode)."""
    folder = folder / screen
    recipe = {"size": [WIDTH, HEIGHT], "fps": FPS, "segment_ms": SEGMENT_MS, "large_s": large_seconds, "v": 2}
    manifest, paths = folder / "manifest.json", [folder / f"segment-{n}.ts" for n in range(DISTINCT)]
    large = folder / "large.ts"
    if not (manifest.exists() and json.loads(manifest.read_text()) == recipe):
        folder.mkdir(parents=True, exist_ok=True)
        began, page = time.perf_counter(), [rgba(row) for row in text_page(WIDTH, 4 * HEIGHT)]

        def segment(start_ms: int, duration_ms: int, scroll_ms: int = 1000) -> bytes:
            if screen == "flat":
                return screen_segment(start_ms, duration_ms, FPS, WIDTH, HEIGHT)
            return desktop_segment(start_ms, duration_ms, page, scroll_ms)

        for n, path in enumerate(paths):
            path.write_bytes(segment(n * SEGMENT_MS * 7, SEGMENT_MS))
        large.write_bytes(segment(0, large_seconds * 1000, scroll_ms=1000 // FPS))
        manifest.write_text(json.dumps(recipe))
        print(f"# segments made in {time.perf_counter() - began:.0f} s")
    return [p.read_bytes() for p in paths], large.read_bytes()


# -- the server ---------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    tokens: dict[str, str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def views_cpu(self) -> float:
        """The views worker's CPU seconds (the server's children), from /proc."""
        return tree_cpu(self.pid) - cpu_seconds(self.pid)


def tree_cpu(pid: int) -> float:
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            total += cpu_seconds(int(stat.parent.name))
    return total


def start_server(work: Path, database_url: str | None) -> Server:
    port = free_port()
    settings = server_settings(work, port)
    if database_url:
        settings = msgspec.structs.replace(settings, database_url=database_url)
    tokens = provision(settings)
    log = work / "server.log"
    command = [sys.executable, "-c", "import sys; from api.cli.main import main; sys.exit(main())", "serve"]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=work,
            env={**server_env(settings), "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/health", process, log)
    return Server(process, base, tokens)


# -- the runs -------------------------------------------------------------------------------


@dataclass
class Run:
    uploads: int
    seconds: float
    cpu: float  # seconds of CPU
    megabytes: float
    views_cpu: float = 0.0
    rss_start_kib: int = 0
    rss_peak_kib: int = 0

    @property
    def rate(self) -> float:
        return self.uploads / self.seconds


def upload_run(server: Server, bodies: list[bytes], uploads: int, clients: int, call_prefix: str) -> Run:
    """``uploads`` segments PUT by ``clients`` threads, each its own calls, one segment after the other."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    digests = [hashlib.sha256(b).hexdigest() for b in bodies]

    def client(index: int) -> int:
        share = uploads // clients + (1 if index < uploads % clients else 0)
        sent = 0
        auth = {"Authorization": f"Bearer {server.tokens['agent-1']}"}
        pbx = {"Authorization": f"Bearer {server.tokens['pbx']}"}
        with httpx.Client(base_url=server.base, timeout=120) as http:
            rid = ""
            for n in range(share):
                number = n % SEGMENTS_PER_CALL
                if number == 0:
                    call = {
                        "interaction_id": f"{call_prefix}-{index}-{n}",
                        "agent_id": "agent-1",
                        "customer_id": "cust-1",
                        "queue": "support",
                        "direction": "inbound",
                        "occurred_at": started.isoformat(),
                    }
                    answer = http.post("/v1/recordings", json=call, headers=pbx)
                    answer.raise_for_status()
                    rid = answer.json()["recording_id"]
                which = (index + n) % len(bodies)
                params: dict[str, str | int] = {
                    "sha256": digests[which],
                    "captured_at": (started + timedelta(milliseconds=number * SEGMENT_MS)).isoformat(),
                    "start_offset_ms": number * SEGMENT_MS,
                    "duration_ms": SEGMENT_MS,
                    "monitor": 0,
                    "width": WIDTH,
                    "height": HEIGHT,
                    "fps": FPS,
                }
                put = http.put(
                    f"/v1/recordings/{rid}/segments/{number}", content=bodies[which], params=params, headers=auth
                )
                if put.status_code != 201:
                    raise SystemExit(f"segment {number}: {put.status_code} {put.text[:500]}")
                sent += len(bodies[which])
        return sent

    reset_peak(server.pid)
    rss_start, cpu, views = status_kib(server.pid, "VmRSS"), cpu_seconds(server.pid), server.views_cpu()
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        sent = sum(pool.map(client, range(clients)))
    seconds = time.perf_counter() - began
    return Run(
        uploads,
        seconds,
        cpu_seconds(server.pid) - cpu,
        sent / 1e6,
        server.views_cpu() - views,
        rss_start,
        status_kib(server.pid, "VmHWM"),
    )


def direct_run(folder: Path, bodies: list[bytes], uploads: int, threads: int) -> Run:
    """The baseline: the same bytes hashed, sealed whole and stored create-only, by ``threads`` threads."""
    store, key = MediaStore(str(folder)), crypto.new_key()
    counter = iter(range(uploads))
    lock = threading.Lock()

    def worker() -> int:
        sent = 0
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return sent
            body = bodies[n % len(bodies)]
            digest = hashlib.sha256(body).hexdigest()
            object_key = f"recordings/bench/segments/{n:06d}-{digest}.ts"
            store.put_new(object_key, crypto.seal_media(key, object_key, body))
            sent += len(body)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        sent = sum(pool.map(lambda _: worker(), range(threads)))
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    shutil.rmtree(folder)
    return Run(uploads, seconds, cpu, sent / 1e6)


def timed_probe(bodies: list[bytes]) -> float:
    """Median ms of this checkout's segment probe over ``bodies``, three times each."""
    times = []
    for body in bodies * 3:
        began = time.perf_counter()
        probe_segment(body)
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def row(engine: str, what: str, clients: int, ingest: Run, direct: Run) -> str:
    mib = 1024
    return (
        f"| {engine} | {what} | {clients} | {ingest.uploads} | {ingest.rate:.1f} "
        f"| {ingest.megabytes / ingest.seconds:.1f} "
        f"| {ingest.cpu / ingest.uploads * 1000:.1f} | {ingest.views_cpu / ingest.uploads * 1000:.1f} "
        f"| {ingest.rss_start_kib / mib:.0f} → {ingest.rss_peak_kib / mib:.0f} "
        f"| {direct.rate:.1f} | {direct.cpu / direct.uploads * 1000:.2f} | {ingest.rate / direct.rate:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=240, help="5-s segments per measured run")
    parser.add_argument("--large-uploads", type=int, default=24, help="large segments in the memory run")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--large-seconds", type=int, default=60, help="length of the large segment")
    parser.add_argument("--screen", choices=["text", "flat"], default="text", help="what the segments show")
    parser.add_argument("--media-dir", type=Path, default=Path(tempfile.gettempdir()) / "callvault-segment-bench")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()

    bodies, large = make_segments(args.media_dir, args.large_seconds, args.screen)
    sizes = [len(b) for b in bodies]
    print(f"# code: {ROOT} ({git_head()})")
    print(
        f"# 5-s segments ({args.screen} screen): {DISTINCT} distinct, {min(sizes) / 1e3:.0f}-{max(sizes) / 1e3:.0f} kB "
        f"(mean {statistics.mean(sizes) / 1e3:.0f} kB); large: {args.large_seconds} s, {len(large) / 1e6:.1f} MB"
    )
    print(
        f"# segment probe in process: {timed_probe(bodies):.1f} ms a 5-s segment, "
        f"{timed_probe([large]):.1f} ms the large one"
    )
    print()
    print(
        "| engine | segment | clients | uploads | uploads/s | MB/s | server CPU ms/upload | views worker CPU ms/upload "
        "| server RSS MiB start → peak | direct uploads/s | direct CPU ms/upload | ingest ÷ direct |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for engine in args.engines:
        with tempfile.TemporaryDirectory(prefix="segment-bench-") as scratch:
            work, database, url = Path(scratch), None, None
            if engine == "postgresql":
                database, url = create_scratch_database(args.admin_url, "callvault_segbench")
            server = start_server(work, url)
            try:
                upload_run(server, bodies, 8, 2, "warm")  # first requests pay for imports and connections
                for clients in args.clients:
                    ingest = upload_run(server, bodies, args.uploads, clients, f"c{clients}")
                    direct = direct_run(work / "direct", bodies, args.uploads, clients)
                    print(row(engine, "5 s", clients, ingest, direct), flush=True)
                clients = max(args.clients)
                ingest = upload_run(server, [large], args.large_uploads, clients, "large")
                direct = direct_run(work / "direct", [large], args.large_uploads, clients)
                print(row(engine, f"{args.large_seconds} s", clients, ingest, direct), flush=True)
            finally:
                server.process.terminate()
                server.process.wait(30)
                if database:
                    drop_scratch_database(args.admin_url, database)


def git_head() -> str:
    answer = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return answer.stdout.strip()[:100]


if __name__ == "__main__":
    main()
