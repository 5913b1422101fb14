"""Converting only the rows that changed gives the same frame, byte for byte, as converting
the whole grab, wherever the change falls (tile edges, the screen's edges) and whatever it is."""

from __future__ import annotations

import random

import av
from av.video.reformatter import VideoReformatter

from capture_client.changed_rows import INTERPOLATION, TILE_ROWS, ChangedRowsConverter
from capture_client.grabber import Shot
from capture_client.scaler import FrameScaler, bgra_frame

WIDTH, HEIGHT = 640, 360  # 360 rows: the last tile is a short one
ROW = WIDTH * 4


def whole_conversion(shot: Shot) -> list[bytes]:
    frame = VideoReformatter().reformat(bgra_frame(shot), format="yuv420p", interpolation=INTERPOLATION, threads=1)
    return [bytes(plane) for plane in frame.planes]


def planes(frame: av.VideoFrame) -> list[bytes]:
    return [bytes(plane) for plane in frame.planes]


def paint(pixels: bytearray, rng: random.Random, x: int, y: int, w: int, h: int) -> bytearray:
    """A copy with the rectangle filled with noise: the hardest case for a filter's edges."""
    changed = bytearray(pixels)
    for row in range(y, y + h):
        changed[row * ROW + x * 4 : row * ROW + (x + w) * 4] = rng.randbytes(w * 4)
    return changed


def test_a_frame_converted_piecewise_equals_the_whole_conversion_of_each_grab() -> None:
    rng = random.Random(14)
    screen = bytearray(rng.randbytes(ROW * HEIGHT))
    edits = [
        (300, 170, 9, 15),  # a typed character mid-screen
        (0, 0, WIDTH, 2),  # the top rows
        (0, HEIGHT - 1, WIDTH, 1),  # the last row, in the short last tile
        (5, TILE_ROWS - 1, 1, 1),  # one pixel just above a tile edge
        (5, TILE_ROWS, 1, 1),  # one pixel just below it
        None,  # nothing changed
        (10, 40, 4, 4),  # two changes far apart
        (0, 0, WIDTH, HEIGHT),  # everything: another window, another monitor
        (600, 3 * TILE_ROWS - 3, 40, 6),  # across a tile edge, at the right border
    ]
    converter = ChangedRowsConverter(WIDTH, HEIGHT)
    shot = Shot(screen, WIDTH, HEIGHT, 1)
    assert planes(converter.convert(shot)) == whole_conversion(shot)
    for edit in edits:
        if edit is not None:
            screen = paint(screen, rng, *edit)
        if edit == (10, 40, 4, 4):
            screen = paint(screen, rng, 200, 300, 30, 2)
        shot = Shot(screen, WIDTH, HEIGHT, 1)
        assert planes(converter.convert(shot)) == whole_conversion(shot), edit


def test_grabs_of_the_output_size_skip_the_scaler_and_other_sizes_are_letterboxed() -> None:
    scaler = FrameScaler(WIDTH, HEIGHT)
    same = Shot(bytearray(random.Random(1).randbytes(ROW * HEIGHT)), WIDTH, HEIGHT, 1)
    assert planes(scaler.convert(same)) == whole_conversion(same)

    white_square = Shot(bytearray(b"\xff" * (200 * 200 * 4)), 200, 200, 2)  # 1:1 into 16:9
    frame = scaler.convert(white_square)
    assert (frame.width, frame.height, frame.format.name) == (WIDTH, HEIGHT, "yuv420p")
    luma = memoryview(frame.planes[0])
    middle = HEIGHT // 2 * frame.planes[0].line_size
    assert luma[middle + WIDTH // 2] == 235  # white, in limited range
    assert luma[middle + 10] == 16  # black bars left and right
    wide = Shot(bytearray(b"\xff" * (1280 * 720 * 4)), 1280, 720, 2)  # 16:9 into 16:9: no bars
    luma = memoryview(scaler.convert(wide).planes[0])
    assert luma[middle + 10] == 235
