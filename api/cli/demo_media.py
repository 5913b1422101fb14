"""Made-up media whose every frame and every second of sound says when it was captured,
for the console's browser tests and for ``callvault demo``.

A screen segment is H.264 in MPEG-TS, as the capture client writes it (one encoder per
segment, a keyframe first, frames stamped on the call's clock). Each frame shows its
capture time on the call's clock three ways:

- a machine-readable time code at the top: a row of big cells (white = 1, black = 0)
  holding the time in tenths of a second in binary, most significant bit first, framed by
  a white cell on the left and a black one on the right, and under it the same row
  inverted, so a reader can check every bit against its complement and refuse a frame it
  cannot read for certain (``decode_time_code`` here, ``TIME_CODE_JS`` in a browser);
- the background colour, which changes every whole second;
- the time as digits (``m:ss.t``) drawn with blocks, for people.

The call's voice is a WAV (16-bit PCM, mono): a quiet hum, and a loud 1 kHz beep of
40 ms starting at every whole second of the call's clock, so audio can be lined up with
the frames where the second changes. Spans given as ``silences`` (a pause) are silent.

Pure PyAV and the standard library: frames are built row by row from a few distinct lines.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Sequence
from fractions import Fraction

import av

# The time code: BITS cells of data between two marker cells, each at least 32 px square
# at 640 px wide (H.264 at the capture client's quality keeps such blocks readable).
BITS = 16  # tenths of a second: up to 6553.5 s, over an hour and three quarters
CELLS = BITS + 2
TICKS_PER_SECOND = 90_000  # MPEG-TS's clock, as the capture client uses it
TS_CLOCK = Fraction(1, TICKS_PER_SECOND)

# As capture_client/encoder.py encodes (it cannot be imported from the server's packages).
X264_OPTIONS = {
    "preset": "veryfast",
    "tune": "zerolatency",
    "crf": "30",
    "threads": "1",
    "x264-params": "keyint=infinite:scenecut=0",
}

WHITE = (255, 255, 255, 255)
BLACK = (0, 0, 0, 255)
# One background per whole second, in turn: saturated, never white or black.
PALETTE = [
    (200, 40, 40),
    (40, 150, 60),
    (40, 70, 200),
    (210, 160, 30),
    (140, 50, 170),
    (30, 160, 170),
    (220, 100, 30),
    (110, 120, 40),
    (200, 60, 140),
    (70, 90, 110),
]

# Digits of 3 x 5 font pixels, rows top to bottom ("#" drawn).
FONT = {
    "0": ["###", "#.#", "#.#", "#.#", "###"],
    "1": [".#.", "##.", ".#.", ".#.", "###"],
    "2": ["###", "..#", "###", "#..", "###"],
    "3": ["###", "..#", "###", "..#", "###"],
    "4": ["#.#", "#.#", "###", "..#", "..#"],
    "5": ["###", "#..", "###", "..#", "###"],
    "6": ["###", "#..", "###", "#.#", "###"],
    "7": ["###", "..#", ".#.", ".#.", ".#."],
    "8": ["###", "#.#", "###", "#.#", "###"],
    "9": ["###", "#.#", "###", "..#", "###"],
    ":": ["...", ".#.", "...", ".#.", "..."],
    ".": ["...", "...", "...", "...", ".#."],
}


def code_layout(width: int) -> tuple[int, int, int]:
    """(cell size, left edge of the first cell, top of the first row) for a frame ``width`` wide."""
    cell = width // CELLS
    return cell, (width - cell * CELLS) // 2, cell // 2


def background(ms: int) -> tuple[int, int, int, int]:
    return (*PALETTE[(ms // 1000) % len(PALETTE)], 255)


def tenths(ms: int) -> int:
    return round(ms / 100)


def frame_rgba(ms: int, width: int, height: int) -> bytes:
    """One frame (RGBA, 4 bytes a pixel, rows top to bottom) showing capture time ``ms``."""
    value = tenths(ms)
    if not 0 <= value < 1 << BITS:
        raise ValueError(f"{ms} ms does not fit the {BITS}-bit time code")
    cell, left, top = code_layout(width)
    if cell < 8 or top + 2 * cell > height:
        raise ValueError(f"a {width}x{height} frame is too small for the time code")
    bg = bytes(background(ms))
    plain = bg * width

    def line(runs: list[tuple[int, bytes]]) -> bytes:
        """A row of pixels: the background, with a cell of ``colour`` from each x given."""
        row = bytearray(plain)
        for x, colour in runs:
            row[x * 4 : (x + cell) * 4] = colour * cell
        return bytes(row)

    bits = [1] + [(value >> (BITS - 1 - i)) & 1 for i in range(BITS)] + [0]
    code = line([(left + i * cell, bytes(WHITE if b else BLACK)) for i, b in enumerate(bits)])
    inverse = line([(left + i * cell, bytes(BLACK if b else WHITE)) for i, b in enumerate(bits)])
    rows = [plain] * height
    rows[top : top + cell] = [code] * cell
    rows[top + cell : top + 2 * cell] = [inverse] * cell

    # The time as digits, centred under the code, white on the background.
    text = f"{ms // 60000}:{ms // 1000 % 60:02d}.{ms // 100 % 10}"
    scale = max(1, cell // 2)
    text_width = (len(text) * 4 - 1) * scale
    text_top = top + 2 * cell + cell // 2
    text_left = max(0, (width - text_width) // 2)
    white = bytes(WHITE)
    for font_row in range(5):
        y0 = text_top + font_row * scale
        if y0 + scale > height:
            break
        row = bytearray(plain)
        for i, char in enumerate(text):
            for col, pixel in enumerate(FONT[char][font_row]):
                if pixel == "#":
                    x = text_left + (i * 4 + col) * scale
                    if x + scale <= width:
                        row[x * 4 : (x + scale) * 4] = white * scale
        rows[y0 : y0 + scale] = [bytes(row)] * scale
    return b"".join(rows)


def frame_times(start_ms: int, duration_ms: int, fps: int) -> list[int]:
    """Capture times (ms on the call's clock) of a segment's frames."""
    count = max(1, math.ceil(duration_ms * fps / 1000))
    return [start_ms + round(i * 1000 / fps) for i in range(count)]


def screen_segment(start_ms: int, duration_ms: int, fps: int = 10, width: int = 640, height: int = 360) -> bytes:
    """An H.264 MPEG-TS segment of the kind the server accepts: frames at ``start_ms`` +
    i/fps on the call's clock, each showing that time (see the module's description)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=fps, options=X264_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = TS_CLOCK
        for ms in frame_times(start_ms, duration_ms, fps):
            frame = av.VideoFrame.from_bytes(frame_rgba(ms, width, height), width, height, format="rgba")
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = ms * TICKS_PER_SECOND // 1000, TS_CLOCK
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def decode_time_code(
    rgba_pixels: bytes | bytearray | memoryview | Sequence[int], width: int, height: int
) -> int | None:
    """The capture time (ms, a multiple of 100) a frame shows, or None when it shows no
    readable time code. ``rgba_pixels``: 4 bytes a pixel, rows top to bottom, the frame at
    the size it was made (a canvas's ``getImageData`` of the video at its own size)."""
    cell, left, top = code_layout(width)
    if cell < 8 or top + 2 * cell > height or len(rgba_pixels) < width * height * 4:
        return None
    patch = max(1, cell // 3)  # the middle of a cell: edges blur in H.264

    def luma(cell_x: int, cell_y: int) -> float:
        x0 = left + cell_x * cell + (cell - patch) // 2
        y0 = top + cell_y * cell + (cell - patch) // 2
        total = 0
        for y in range(y0, y0 + patch):
            base = (y * width + x0) * 4
            for i in range(base, base + patch * 4, 4):
                total += 299 * rgba_pixels[i] + 587 * rgba_pixels[i + 1] + 114 * rgba_pixels[i + 2]
        return total / (1000 * patch * patch)

    value = 0
    for index in range(CELLS):
        upper, lower = luma(index, 0), luma(index, 1)
        if abs(upper - lower) < 96:
            return None  # not a cell and its complement
        bit = 1 if upper > lower else 0
        if index == 0 and bit != 1 or index == CELLS - 1 and bit != 0:
            return None  # the markers frame the code
        if 0 < index < CELLS - 1:
            value = value << 1 | bit
    return value * 100


# The same reading in a browser: defines ``window.decodeTimeCode(data, width, height)``
# (``data``: an ImageData's ``data``), answering ms or null. A statement that answers
# nothing, so it can be evaluated as it is or added as an init script.
TIME_CODE_JS = f"""
window.decodeTimeCode = function (data, width, height) {{
  const CELLS = {CELLS};
  const cell = Math.floor(width / CELLS), left = Math.floor((width - cell * CELLS) / 2), top = Math.floor(cell / 2);
  if (cell < 8 || top + 2 * cell > height || data.length < width * height * 4) return null;
  const patch = Math.max(1, Math.floor(cell / 3));
  const luma = (cx, cy) => {{
    const x0 = left + cx * cell + Math.floor((cell - patch) / 2), y0 = top + cy * cell + Math.floor((cell - patch) / 2);
    let total = 0;
    for (let y = y0; y < y0 + patch; y++) {{
      for (let i = (y * width + x0) * 4; i < (y * width + x0 + patch) * 4; i += 4) {{
        total += 299 * data[i] + 587 * data[i + 1] + 114 * data[i + 2];
      }}
    }}
    return total / (1000 * patch * patch);
  }};
  let value = 0;
  for (let index = 0; index < CELLS; index++) {{
    const upper = luma(index, 0), lower = luma(index, 1);
    if (Math.abs(upper - lower) < 96) return null;
    const bit = upper > lower ? 1 : 0;
    if ((index === 0 && bit !== 1) || (index === CELLS - 1 && bit !== 0)) return null;
    if (index > 0 && index < CELLS - 1) value = value * 2 + bit;
  }}
  return value * 100;
}};
undefined;
"""


# -- the call's voice ---------------------------------------------------------

BEEP_MS = 40
BEEP_HZ = 1000
BEEP_LEVEL = 0.7
HUM_HZ = 200
HUM_LEVEL = 0.02


def call_voice(duration_ms: int, sample_rate: int = 16000, silences: Sequence[tuple[int, int]] = ()) -> bytes:
    """A WAV (16-bit PCM, mono) ``duration_ms`` long: a quiet hum and a loud beep of
    ``BEEP_MS`` at the start of every whole second; silent in each (start_ms, end_ms) of ``silences``."""
    # Both tones repeat a whole number of times a second, so one second repeated is the whole.
    beep_samples = sample_rate * BEEP_MS // 1000
    second = bytearray()
    for n in range(sample_rate):
        t = n / sample_rate
        level = BEEP_LEVEL * math.sin(2 * math.pi * BEEP_HZ * t) if n < beep_samples else 0.0
        level += HUM_LEVEL * math.sin(2 * math.pi * HUM_HZ * t)
        second += struct.pack("<h", round(level * 32767))
    total = sample_rate * duration_ms // 1000
    whole, rest = divmod(total, sample_rate)
    pcm = bytearray(bytes(second) * whole + bytes(second[: rest * 2]))
    for start_ms, end_ms in silences:
        a = max(0, sample_rate * start_ms // 1000)
        b = min(total, sample_rate * end_ms // 1000)
        if b > a:
            pcm[a * 2 : b * 2] = bytes((b - a) * 2)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(bytes(pcm))
    return out.getvalue()
