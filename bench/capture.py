"""Capture client: CPU and upload bandwidth on a 1920x1080 desktop, beside ffmpeg x11grab.

Run by hand (never in tests):
    .venv/bin/python bench/capture.py --seconds 60 [--fps 5] [--segment-seconds 4] [--no-extra]
        [--baseline-commit REV]

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
     capture_client/encoder.py) and its effective GOP: the client starts every
     segment with a keyframe, so keyint = fps x segment seconds;
  4. ffmpeg, one GOP: the same with keyint=infinite, as written in encoder.py
     (skipped with --no-extra);
  5. with --baseline-commit REV: the client as committed at REV (its
     capture_client/ taken with `git archive`), matched like row 1, so a change
     to the client is measured against its predecessor in the same run.

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
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from capture_desktop import HEIGHT, WIDTH, Desktop, start_xvfb
from capture_measures import probe, proc_cpu, reap
from capture_server import TOKEN, FakeServer

from capture_client.encoder import X264_OPTIONS

PROJECT = Path(__file__).resolve().parents[1]
CLIENT = [sys.executable, "-c", "import sys; from capture_client.cli import main; sys.exit(main())"]
LIFTED_BUDGETS = ["--cpu-budget", "8", "--kbps-budget", "100000"]
TARGET_CORES, TARGET_KBPS = 0.10, 300


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
    label: str,
    xvfb: subprocess.Popen,
    desktop: Desktop,
    display_name: str,
    work: Path,
    args,
    extra: list[str],
    source: Path = PROJECT,
) -> Result:
    """`source` holds the capture_client package to run (the checkout, or an older commit's)."""
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
            [*CLIENT, *options], stdout=output, stderr=output, cwd=source, env={**os.environ, "DISPLAY": display_name}
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


def client_at(commit: str, work: Path) -> Path:
    """A folder holding capture_client/ as committed at `commit` (the working tree is left alone)."""
    folder = work / f"client-at-{commit}"
    folder.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "capture_client"], cwd=PROJECT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


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
    parser.add_argument(
        "--baseline-commit", metavar="REV", help="also run the client as committed at REV (matched budgets)"
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
            if args.baseline_commit:
                source = client_at(args.baseline_commit, work)
                label = f"client at {args.baseline_commit}, matched"
                results.append(run_client(label, *setup, LIFTED_BUDGETS, source=source))
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
