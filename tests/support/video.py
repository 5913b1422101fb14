"""ffmpeg and ffprobe as the judges of the video the capture client produced."""

from __future__ import annotations

import subprocess
from pathlib import Path


def probe(path: Path, *entries: str) -> list[list[str]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", *entries, "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split(",") for line in out.split() if line]


def decode_errors(path: Path) -> str:
    """ffmpeg's complaints while decoding the whole file: empty when it decodes cleanly.

    Frames keep their own timestamps (passthrough): the recording's frame rate may change
    (adaptive quality, a restarted client), and re-timing to one rate is not decoding. The
    null output keeps them on the capture clock (90 kHz): by default it counts in frames of
    the stream's guessed rate, and two frames closer than that (the client slowed down under
    load, so the guess is of the slower rate) then read as one timestamp written twice."""
    command = [
        "ffmpeg",
        "-v",
        "error",
        "-i",
        str(path),
        "-fps_mode",
        "passthrough",
        "-enc_time_base:v",
        "1/90000",
        "-f",
        "null",
        "-",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    return result.stderr.strip() + (f"\nffmpeg exited with {result.returncode}" if result.returncode else "")


def first_frame_colour(path: Path) -> tuple[int, int, int]:
    """The centre pixel of the first frame, decoded by ffmpeg."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-vf", "scale=16:9"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    centre = (4 * 16 + 8) * 3
    return raw[centre], raw[centre + 1], raw[centre + 2]


def looks_like(colour: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 60 for a, b in zip(colour, expected, strict=True))
