"""What the capture benchmark measures with: CPU time of processes, and ffprobe's view of a video."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


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
