"""Capture client: CPU and upload bandwidth on a 1920x1080 desktop, beside ffmpeg x11grab.

Run by hand (never in tests):
    .venv/bin/python bench/capture.py --seconds 60 [--fps 5] [--segment-seconds 4] [--no-extra]

Needs Xvfb, xdotool, ffmpeg and ffprobe. Everything is measured in one run on one
virtual display, one measurement after the other, since these machines are
noisy; only ratios within a run mean much.

The display: its own Xvfb, one 1920x1080 screen, showing a desktop-like scene
drawn with python-xlib and core X fonts by a thread of this script: a CRM form
(its call timer ticks every second, and every 20 s it switches to another
record), a notes window typed into at about 4 characters a second, a queue
monitor whose waiting times tick every second and whose event list scrolls by
one line every 6 s, desktop icons, and a taskbar with a clock. Every 3 s the
pointer moves to a new spot in four steps (`xdotool mousemove`). Mostly static,
small changes: an agent's desktop during a call.

Measured, one after the other, each for --seconds:
  1. client, matched: the real capture client as a subprocess (as the tests run
     it) against a small fake server that sends `start` and, --seconds later,
     `stop`, and stores the uploaded segments; budgets lifted (--cpu-budget 8
     --kbps-budget 100000) so adaptive quality stays at the requested fps/size;
  2. client, default budgets (0.10 cores, 300 kbit/s): adaptive quality free to
     step down (skipped with --no-extra);
  3. ffmpeg, matched: `-f x11grab` with the client's x264 options (read from
     capture_client/encoder.py) and its effective GOP: the client starts a new
     encoder, hence a keyframe, every segment, so keyint = fps x segment seconds;
  4. ffmpeg, one GOP: the same with keyint=infinite, as written in encoder.py
     (skipped with --no-extra).

CPU is user+system time of the process, all threads: for the client from
/proc/<pid>/stat between `start` and `stop` (startup and the final upload are
outside the window; its whole-life figure from wait4 is printed too), for
ffmpeg from wait4 over its whole life. Bitrate is uploaded segment bytes (the
client) or the output file (ffmpeg), MPEG-TS overhead included, over the
video's duration. Every video is checked with ffprobe/ffmpeg: it decodes
without errors and lasts about --seconds; the share of its H.264 bytes spent on
keyframes is printed too.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from capture_client.encoder import X264_OPTIONS

PROJECT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
WIDTH, HEIGHT = 1920, 1080
CLIENT = [sys.executable, "-c", "import sys; from capture_client.cli import main; sys.exit(main())"]
LIFTED_BUDGETS = ["--cpu-budget", "8", "--kbps-budget", "100000"]
TARGET_CORES, TARGET_KBPS = 0.10, 300
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- fake server


class FakeServer:
    """The server side of docs/capture-protocol.md, as much as a recording needs."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.commands: list[dict] = []
        self.segments: dict[int, tuple[bytes, dict]] = {}
        self.reports: dict[str, dict] = {}
        self.refused = 0
        self.stream_connections = 0
        self.running = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def send(self, command: str, recording_id: str) -> None:
        with self.lock:
            self.commands.append(
                {"command": command, "recording_id": recording_id, "at": datetime.now(UTC).isoformat()}
            )
            self.lock.notify_all()

    def close(self) -> None:
        self.running = False
        with self.lock:
            self.lock.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_GET(self) -> None:
            if urlsplit(self.path).path != "/v1/capture/commands":
                return self._answer(404)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            with server.lock:
                server.stream_connections += 1
                sent = len(server.commands)
            try:
                while server.running:
                    with server.lock:
                        if len(server.commands) == sent:
                            server.lock.wait(1.0)
                        news = server.commands[sent:]
                    for index, command in enumerate(news, start=sent + 1):
                        self.wfile.write(f"id: {index}\nevent: command\ndata: {json.dumps(command)}\n\n".encode())
                    sent += len(news)
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
            except OSError:
                pass

        def do_PUT(self) -> None:
            self._upload()

        def do_POST(self) -> None:
            self._upload()

        def _upload(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._answer(401)
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query))
            parts = url.path.strip("/").split("/")  # v1 recordings {id} segments {n}
            with server.lock:
                if parts[3] == "capture-report":
                    server.reports[parts[2]] = json.loads(body)
                    return self._answer(201)
                if parts[3] != "segments" or hashlib.sha256(body).hexdigest() != params.get("sha256"):
                    server.refused += 1
                    return self._answer(422)
                server.segments[int(parts[4])] = (body, params)
                return self._answer(201)

    return Handler


# ---------------------------------------------------------------- the desktop


def start_xvfb() -> tuple[subprocess.Popen, str]:
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as chosen:  # written once the server is ready
        return xvfb, f":{chosen.readline().strip()}"


def rgb(hex_colour: str) -> int:
    return int(hex_colour.lstrip("#"), 16)  # a 24-bit TrueColor visual: the pixel is the RGB value


DESKTOP, TASKBAR, TITLE, PAPER, INK, GREY, ACCENT = (
    "#3a6ea5",
    "#202830",
    "#1f4e8c",
    "#ffffff",
    "#1a1a1a",
    "#e6e6e6",
    "#c0392b",
)
FIRST_NAMES = ["Jane", "Omar", "Lena", "Marek", "Aiko", "Pedro", "Sofia", "Tom", "Ines", "Raj"]
LAST_NAMES = ["Doe", "Haddad", "Schmidt", "Nowak", "Tanaka", "Silva", "Rossi", "Berg", "Costa", "Patel"]
WORDS = (
    "customer called about the invoice from last month the amount was charged twice please refund "
    "the second payment and confirm by email also asked to change the tariff to the smaller plan "
    "from next month onwards checked identity with date of birth and postcode all fine"
).split()


class Desktop(threading.Thread):
    """Draws the agent's desktop and keeps it changing a little, until stopped. restart()
    plays the same script from its beginning, so every measurement sees the same screens."""

    def __init__(self, display_name: str) -> None:
        super().__init__(name="desktop", daemon=True)
        from Xlib import display

        self._name = display_name
        self._x = display.Display(display_name)
        self._screen = self._x.screen()
        self._gcs: dict[tuple, object] = {}
        self._fonts = {name: self._x.open_font(name) for name in ("9x15", "9x15bold", "6x13", "7x14")}
        self.stopped = threading.Event()
        self._restart_wanted, self._restarted = threading.Event(), threading.Event()
        self._reset_script()

    def _reset_script(self) -> None:
        self._random = random.Random(7)
        self._notes: list[str] = [""]
        self._note_words = itertools.cycle(WORDS)
        self._pending = ""
        self._events: list[str] = []
        self._record = 0
        self._pointer_path: list[tuple[int, int]] = []
        self._pointer = (960, 540)

    def restart(self) -> None:
        """Back to the script's first second (empty notes and events, first record); returns once drawn."""
        self._restarted.clear()
        self._restart_wanted.set()
        if not self._restarted.wait(10):
            raise SystemExit("the desktop painter did not restart")

    # drawing primitives
    def _gc(self, fg: str, bg: str = PAPER, font: str = "9x15"):
        key = (fg, bg, font)
        if key not in self._gcs:
            self._gcs[key] = self._screen.root.create_gc(foreground=rgb(fg), background=rgb(bg), font=self._fonts[font])
        return self._gcs[key]

    def _window(self, x: int, y: int, w: int, h: int, colour: str):
        window = self._screen.root.create_window(
            x, y, w, h, 0, self._screen.root_depth, background_pixel=rgb(colour), override_redirect=True
        )
        window.map()
        return window

    def _box(self, window, x: int, y: int, w: int, h: int, colour: str) -> None:
        window.fill_rectangle(self._gc(colour), x, y, w, h)

    def _text(self, window, x: int, y: int, text: str, fg: str = INK, bg: str = PAPER, font: str = "9x15") -> None:
        window.image_text(self._gc(fg, bg, font), x, y, text)  # paints its background: no clearing, no flicker

    def _frame(self, x: int, y: int, w: int, h: int, title: str):
        window = self._window(x, y, w, h, PAPER)
        self._box(window, 0, 0, w, 26, TITLE)
        self._text(window, 10, 18, title, PAPER, TITLE, "9x15bold")
        for i, colour in enumerate(("#e0b020", "#40a040", ACCENT)):
            self._box(window, w - 70 + i * 22, 7, 14, 12, colour)
        return window

    # the scene
    def _build(self) -> None:
        root = self._screen.root
        root.change_attributes(background_pixel=rgb(DESKTOP))
        root.clear_area()
        for i, label in enumerate(["Home", "Softphone", "Knowledge", "Trash"]):  # desktop icons
            icon = self._window(1900 - 90, 40 + i * 100, 80, 80, DESKTOP)
            self._box(icon, 20, 4, 40, 40, ["#f0c040", "#50b050", "#d0d0f0", "#a0a0a0"][i])
            self._text(icon, 40 - len(label) * 3, 64, label, PAPER, DESKTOP, "6x13")
        self.crm = self._frame(40, 30, 1120, 720, "Contoso CRM - Case 4711 - Customer record")
        self.notes = self._frame(1190, 30, 600, 460, "Call notes")
        self.queue = self._frame(1190, 520, 600, 500, "Queue monitor")
        self.taskbar = self._window(0, HEIGHT - 40, WIDTH, 40, TASKBAR)
        self._box(self.taskbar, 6, 6, 90, 28, "#2e7d32")
        self._text(self.taskbar, 26, 25, "Start", PAPER, "#2e7d32", "9x15bold")
        for i, app in enumerate(["CRM", "Call notes", "Queue monitor", "Softphone", "Mail"]):
            self._box(self.taskbar, 110 + i * 170, 6, 160, 28, "#3c4650")
            self._text(self.taskbar, 120 + i * 170, 25, app, PAPER, "#3c4650")
        self._draw_crm_static()
        self._draw_record()
        self._draw_queue_static()
        self._x.sync()

    def _draw_crm_static(self) -> None:
        for i, tab in enumerate(["Customer", "Contracts", "Invoices", "Tickets", "History"]):
            self._box(self.crm, 10 + i * 130, 36, 124, 28, GREY)
            self._text(self.crm, 22 + i * 130, 56, tab, INK, GREY)
        self._box(self.crm, 10, 70, 1100, 2, TITLE)
        self._box(self.crm, 760, 90, 340, 160, "#f4f7fb")
        self._text(self.crm, 775, 115, "Softphone", TITLE, "#f4f7fb", "9x15bold")
        self._text(self.crm, 775, 145, "Queue:  Billing (DE)", INK, "#f4f7fb")
        self._text(self.crm, 775, 170, "Caller: +49 30 5550 1234", INK, "#f4f7fb")
        self._box(self.crm, 775, 205, 120, 30, ACCENT)
        self._text(self.crm, 805, 225, "Hang up", PAPER, ACCENT, "9x15bold")
        self._box(self.crm, 905, 205, 120, 30, "#7f8c8d")
        self._text(self.crm, 940, 225, "Hold", PAPER, "#7f8c8d", "9x15bold")
        for row in range(12):  # an order history table under the form
            y = 520 + row * 16
            colour = "#f2f2f2" if row % 2 else PAPER
            self._box(self.crm, 20, y - 12, 1080, 16, colour)
            self._text(
                self.crm,
                24,
                y,
                f"2026-{1 + row % 12:02d}-{3 + row:02d}  Order {88100 + row * 7}  "
                f"{['Invoice', 'Payment', 'Tariff change', 'Refund'][row % 4]:<14} "
                f"{(row * 37.5 + 12.9):>9.2f} EUR  closed",
                "#333333",
                colour,
                "7x14",
            )

    def _draw_record(self) -> None:
        rng = random.Random(self._record)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        fields = [
            ("Name", name),
            ("Customer no.", f"C-{rng.randint(100000, 999999)}"),
            ("Street", f"{rng.choice(LAST_NAMES)}strasse {rng.randint(1, 120)}"),
            ("City", f"{rng.randint(10000, 99999)} {rng.choice(['Berlin', 'Hamburg', 'Koeln', 'Leipzig'])}"),
            ("Phone", f"+49 30 {rng.randint(1000000, 9999999)}"),
            ("Email", f"{name.split()[0].lower()}@example.org"),
            ("Contract", f"K-{rng.randint(10000, 99999)}"),
            ("Tariff", rng.choice(["Basic 20", "Plus 50", "Max 100"])),
            ("Customer since", f"20{rng.randint(10, 25)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"),
            ("Balance", f"{rng.uniform(-80, 40):.2f} EUR"),
            ("Open tickets", str(rng.randint(0, 4))),
            ("Segment", rng.choice(["Private", "Business", "Premium"])),
        ]
        for i, (label, value) in enumerate(fields):
            y = 100 + i * 32
            self._text(self.crm, 24, y, f"{label:<16}", "#555555")
            self._box(self.crm, 180, y - 16, 520, 24, "#f7f7f7")
            self._text(self.crm, 186, y, f"{value:<50}", INK, "#f7f7f7")

    def _draw_queue_static(self) -> None:
        self._text(
            self.queue, 16, 50, f"{'Queue':<18}{'waiting':>8}{'longest':>10}{'agents':>8}", TITLE, PAPER, "9x15bold"
        )
        self._text(self.queue, 16, 250, "Events", TITLE, PAPER, "9x15bold")

    def _tick_second(self, second: int) -> None:
        now = datetime(2026, 11, 23, 9, 41) + timedelta(seconds=second)
        self._text(self.taskbar, WIDTH - 100, 25, now.strftime("%H:%M:%S"), PAPER, TASKBAR)
        self._text(
            self.crm,
            775,
            195,
            f"On call  {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}",
            "#2e7d32",
            "#f4f7fb",
            "9x15bold",
        )
        rng = random.Random(second // 5)  # the waiting counts move every few seconds, the waits every second
        for i, queue in enumerate(["Billing (DE)", "Billing (EN)", "Technical", "Sales", "Cancellations", "VIP"]):
            waiting = rng.randint(0, 9)
            longest = (second * (i + 1)) % 240 if waiting else 0
            self._text(
                self.queue,
                16,
                75 + i * 22,
                f"{queue:<18}{waiting:>8}{longest // 60:>7}:{longest % 60:02d}{rng.randint(2, 14):>8}",
            )
        if second % 6 == 0:
            self._events = (
                self._events
                + [
                    f"{now:%H:%M:%S}  agent {rng.randint(100, 999)} "
                    f"{rng.choice(['ready', 'on call', 'wrap-up', 'break', 'ready'])}"
                ]
            )[-13:]
            for i, line in enumerate(self._events):
                self._text(self.queue, 16, 275 + i * 16, f"{line:<60}", "#333333", PAPER, "7x14")
        if second and second % 20 == 0:
            self._record += 1
            self._draw_record()

    def _type(self) -> None:
        """One character into the notes, wrapping at the window's width."""
        if not self._pending:
            self._pending = next(self._note_words) + " "
            if len(self._notes[-1]) + len(self._pending) > 62:
                self._notes.append("")
                if len(self._notes) > 24:  # full: a new page
                    self._notes = [""]
                    self._box(self.notes, 0, 27, 600, 433, PAPER)
        char, self._pending = self._pending[0], self._pending[1:]
        self._notes[-1] += char
        row = len(self._notes) - 1
        self._text(self.notes, 14, 50 + row * 16, self._notes[-1] + "_")

    def _move_pointer(self, tick: int) -> None:
        if tick % 12 == 0:  # every 3 s: a gesture of four steps to a new spot
            target = (self._random.randint(50, WIDTH - 50), self._random.randint(50, HEIGHT - 60))
            (x0, y0), (x1, y1) = self._pointer, target
            self._pointer_path = [(x0 + (x1 - x0) * k // 4, y0 + (y1 - y0) * k // 4) for k in range(1, 5)]
        if self._pointer_path:
            self._pointer = self._pointer_path.pop(0)
            subprocess.run(
                ["xdotool", "mousemove", *map(str, self._pointer)],
                env={**os.environ, "DISPLAY": self._name},
                check=True,
            )

    def run(self) -> None:
        self._build()
        started = time.monotonic()
        tick = 0
        while not self.stopped.wait(max(0.0, started + tick * 0.25 - time.monotonic())):
            if self._restart_wanted.is_set():
                self._restart_wanted.clear()
                self._reset_script()
                self._box(self.notes, 0, 27, 600, 433, PAPER)
                self._box(self.queue, 0, 258, 600, 242, PAPER)
                self._draw_record()
                self._pointer_path = [self._pointer]
                self._move_pointer(1)
                self._x.sync()
                started, tick = time.monotonic(), 0
                self._restarted.set()
            if tick % 4 == 0:
                self._tick_second(tick // 4)
            self._type()
            self._x.sync()
            self._move_pointer(tick)
            tick += 1
        self._x.close()


# ---------------------------------------------------------------- measuring


def proc_cpu(pid: int) -> float:
    """user + system CPU seconds of a running process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: fields 14 and 15 of stat


def reap(process: subprocess.Popen) -> resource.struct_rusage:
    """Waits for the process and returns its resource usage (wait4)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage


def probe(path: Path) -> dict:
    """Duration, decoded frame count, sizes seen, keyframes and their share of the bytes, and
    ffmpeg's complaints while decoding the whole file (empty: decodes cleanly)."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "format=duration:stream=codec_name,nb_read_frames",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info = json.loads(out)
    sizes = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=width,height",
            "-of",
            "csv=p=0:s=x",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    sizes = [size.strip("x") for size in sizes]
    packets = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=size,flags",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    key_bytes = sum(int(line.split(",")[0]) for line in packets if "K" in line.split(",")[1])
    all_bytes = sum(int(line.split(",")[0]) for line in packets)
    decode = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
    )
    errors = decode.stderr.strip() + (f" (exit {decode.returncode})" if decode.returncode else "")
    return {
        "duration": float(info["format"]["duration"]),
        "frames": int(info["streams"][0]["nb_read_frames"]),
        "codec": info["streams"][0]["codec_name"],
        "sizes": sorted(set(sizes)),
        "errors": errors,
        "keyframes": sum("K" in line.split(",")[1] for line in packets),
        "key_share": key_bytes / max(all_bytes, 1),
    }


@dataclass
class Result:
    label: str
    cores: float  # CPU seconds per wall second
    kbps: float
    wall: float
    cpu: float
    video: dict
    notes: list[str] = field(default_factory=list)


def run_client(
    label: str, xvfb: subprocess.Popen, desktop: Desktop, display_name: str, work: Path, args, extra: list[str]
) -> Result:
    folder = Path(tempfile.mkdtemp(prefix="client-", dir=work))
    server = FakeServer()
    options = [
        "--server",
        server.url,
        "--token",
        TOKEN,
        "--spool",
        str(folder / "spool"),
        "--fps",
        str(args.fps),
        "--size",
        f"{WIDTH}x{HEIGHT}",
        "--segment-seconds",
        str(args.segment_seconds),
        *extra,
    ]
    log = folder / "client.log"
    with open(log, "wb") as output:
        client = subprocess.Popen(
            [*CLIENT, *options], stdout=output, stderr=output, cwd=PROJECT, env={**os.environ, "DISPLAY": display_name}
        )
    spawned = time.monotonic()
    try:
        wait_for(lambda: server.stream_connections > 0, 30, "the client's command stream", log)
        time.sleep(1.0)  # imports and connection done: the window holds the recording only
        desktop.restart()
        cpu0, x0, t0 = proc_cpu(client.pid), proc_cpu(xvfb.pid), time.monotonic()
        server.send("start", "rec-bench")
        time.sleep(args.seconds)
        cpu1, x1, t1 = proc_cpu(client.pid), proc_cpu(xvfb.pid), time.monotonic()
        server.send("stop", "rec-bench")
        wait_for(lambda: "rec-bench" in server.reports, 60, "the capture report", log)
        client.send_signal(signal.SIGTERM)
        usage = reap(client)
        lifetime = time.monotonic() - spawned
    finally:
        if client.returncode is None:
            client.kill()
            reap(client)
        server.close()

    sequences = sorted(server.segments)
    bodies = [server.segments[n][0] for n in sequences]
    params = [server.segments[n][1] for n in sequences]
    joined = folder / "all.ts"
    joined.write_bytes(b"".join(bodies))
    recorded = sum(int(p["duration_ms"]) for p in params) / 1000
    notes = [
        f"{len(sequences)} segments (report says {server.reports['rec-bench']['segments']}), "
        f"sequences {'contiguous' if sequences == list(range(len(sequences))) else 'WITH GAPS'}, "
        f"{server.refused} refused, exit code {client.returncode}",
        f"quality per segment: {runs([f'{p["fps"]} fps {p["width"]}x{p["height"]}' for p in params])}",
        f"whole process life incl. startup and final upload: {usage.ru_utime + usage.ru_stime:.1f} s CPU "
        f"in {lifetime:.1f} s; peak RSS {usage.ru_maxrss / 1024:.0f} MiB",
    ]
    adaptations = [line.split("quality now ", 1)[1] for line in log.read_text().splitlines() if "quality now" in line]
    notes.append(f"Xvfb meanwhile (serving the grabs, drawing the scene): {(x1 - x0) / (t1 - t0):.3f} cores")
    notes.append(
        f"adaptive quality changes: {len(adaptations)}" + (f", last: {adaptations[-1]}" if adaptations else "")
    )
    return Result(
        label,
        (cpu1 - cpu0) / (t1 - t0),
        sum(map(len, bodies)) * 8 / 1000 / recorded,
        t1 - t0,
        cpu1 - cpu0,
        probe(joined),
        notes,
    )


def run_ffmpeg(
    label: str, xvfb: subprocess.Popen, desktop: Desktop, display_name: str, work: Path, args, keyint: str
) -> Result:
    out = work / f"ffmpeg-{keyint}.ts"
    x264_params = X264_OPTIONS["x264-params"].replace("keyint=infinite", f"keyint={keyint}")
    command = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-f",
        "x11grab",
        "-framerate",
        str(args.fps),
        "-video_size",
        f"{WIDTH}x{HEIGHT}",
        "-i",
        display_name,
        "-c:v",
        "libx264",
        "-preset",
        X264_OPTIONS["preset"],
        "-tune",
        X264_OPTIONS["tune"],
        "-crf",
        X264_OPTIONS["crf"],
        "-threads",
        X264_OPTIONS["threads"],
        "-x264-params",
        x264_params,
        "-pix_fmt",
        "yuv420p",
        "-t",
        f"{args.seconds:g}",
        "-f",
        "mpegts",
        str(out),
    ]
    desktop.restart()
    x0, started = proc_cpu(xvfb.pid), time.monotonic()
    process = subprocess.Popen(command, env={**os.environ, "DISPLAY": display_name})
    usage = reap(process)
    x1, wall = proc_cpu(xvfb.pid), time.monotonic() - started
    cpu = usage.ru_utime + usage.ru_stime
    video = probe(out)
    notes = [
        f"exit code {process.returncode}; peak RSS {usage.ru_maxrss / 1024:.0f} MiB; "
        f"Xvfb meanwhile (serving the grabs, drawing the scene): {(x1 - x0) / wall:.3f} cores",
        "command: " + " ".join(command[:-1] + ["out.ts"]),
    ]
    return Result(label, cpu / wall, out.stat().st_size * 8 / 1000 / video["duration"], wall, cpu, video, notes)


def runs(items: list[str]) -> str:
    """'a, a, b' -> 'a x2, b x1'."""
    grouped: list[list] = []
    for item in items:
        if grouped and grouped[-1][0] == item:
            grouped[-1][1] += 1
        else:
            grouped.append([item, 1])
    return ", ".join(f"{item} x{count}" for item, count in grouped)


def wait_for(condition: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise SystemExit(f"timed out waiting for {what}; client log:\n{tail}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of each measured recording")
    parser.add_argument("--fps", type=int, default=5)
    parser.add_argument("--segment-seconds", type=float, default=4.0, help="passed to the client (its default: 4)")
    parser.add_argument(
        "--no-extra", action="store_true", help="skip the default-budget client and one-GOP ffmpeg runs"
    )
    args = parser.parse_args()
    for tool in ("Xvfb", "xdotool", "ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise SystemExit(f"needs {tool}")

    load_before = os.getloadavg()
    xvfb, display_name = start_xvfb()
    desktop = Desktop(display_name)
    desktop.start()
    gop = round(args.fps * args.segment_seconds)
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="callvault-capture-bench-") as temporary:
            work = Path(temporary)
            time.sleep(2)  # the scene is drawn
            setup = (xvfb, desktop, display_name, work, args)
            results.append(run_client("client, matched (budgets lifted)", *setup, LIFTED_BUDGETS))
            if not args.no_extra:
                results.append(run_client("client, default budgets (adaptive)", *setup, []))
            results.append(run_ffmpeg(f"ffmpeg x11grab, keyint={gop} (matched)", *setup, str(gop)))
            if not args.no_extra:
                results.append(run_ffmpeg("ffmpeg x11grab, keyint=infinite", *setup, "infinite"))
    finally:
        desktop.stopped.set()
        desktop.join(5)
        xvfb.terminate()
        xvfb.wait(10)

    print(
        f"# capture benchmark: {WIDTH}x{HEIGHT} at {args.fps} fps, {args.seconds:g} s per run, "
        f"segments of {args.segment_seconds:g} s, x264 {X264_OPTIONS}"
    )
    print(f"{os.cpu_count()} CPUs; load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"{'what':<40} {'cores':>6} {'kbit/s':>8} {'CPU s / wall s':>16}  video (ffprobe)")
    for r in results:
        v = r.video
        video = (
            f"{v['codec']}, {v['duration']:.1f} s, {v['frames']} frames, {'/'.join(v['sizes'])}, "
            + (f"{v['keyframes']} keyframes = {v['key_share']:.0%} of H.264 bytes, ")
            + ("decodes cleanly" if not v["errors"] else f"DECODE ERRORS: {v['errors'][:200]}")
        )
        print(f"{r.label:<40} {r.cores:>6.3f} {r.kbps:>8.0f} {r.cpu:>7.1f} / {r.wall:<6.1f}  {video}")
    for r in results:
        print(f"- {r.label}:")
        for note in r.notes:
            print(f"    {note}")
    baseline = next(r for r in results if "matched" in r.label and r.label.startswith("ffmpeg"))
    for r in results:
        if r.label.startswith("client"):
            print(
                f"{r.label}: {r.cores / baseline.cores:.2f} x ffmpeg's CPU, {r.kbps / baseline.kbps:.2f} x its kbit/s; "
                f"targets (< {TARGET_CORES} cores, < {TARGET_KBPS} kbit/s): "
                f"CPU {'met' if r.cores < TARGET_CORES else 'NOT met'}, "
                f"bandwidth {'met' if r.kbps < TARGET_KBPS else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
