"""A real X display with two monitors (Xvfb split by RandR), each painted its own colour, for the capture tests.

Without Xvfb, xdotool, ffmpeg, ffprobe or python-xlib the tests that need the
display skip locally and fail in CI (CI=true), so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

RED, BLUE = (255, 0, 0), (0, 0, 255)
# The virtual desktop: monitor 1 (1280x720, red) and monitor 2 (1024x768, blue) side by side.
MONITORS = [((0, 0, 1280, 720), RED), ((1280, 0, 1024, 768), BLUE)]
POINT_ON = {1: (300, 300), 2: (1280 + 300, 300)}


def _require(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the capture tests need {reason} in CI")
        pytest.skip(f"needs {reason}")


@pytest.fixture(scope="module")
def two_monitors() -> Iterator[str]:
    """Xvfb with one 2304x768 screen split into two RandR monitors, each painted its colour."""
    for tool in ("Xvfb", "xdotool", "ffmpeg", "ffprobe"):
        _require(shutil.which(tool) is not None, tool)
    try:
        from Xlib import display as xlib
    except ImportError:
        _require(False, "python-xlib")
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "2304x768x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as chosen:  # Xvfb picks a free display number and writes it once ready
        display_name = f":{chosen.readline().strip()}"
    x = xlib.Display(display_name)
    previous = os.environ.get("DISPLAY")
    try:
        _split_into_monitors(x)
        screen = x.screen()
        for (left, top, width, height), (r, g, b) in MONITORS:
            window = screen.root.create_window(
                left,
                top,
                width,
                height,
                0,
                screen.root_depth,
                background_pixel=(r << 16) | (g << 8) | b,
                override_redirect=True,
            )
            window.map()
        x.sync()
        os.environ["DISPLAY"] = display_name
        import mss

        with mss.MSS() as grabber:
            assert len(grabber.monitors) == 3, grabber.monitors  # the union, then two monitors
        yield display_name
    finally:
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
        x.close()
        xvfb.terminate()
        xvfb.wait(10)


def _split_into_monitors(x: Any) -> None:
    """RandR 1.5 SetMonitor, what `xrandr --setmonitor` does. python-xlib's own
    set_monitor cannot pack its request, hence this spelled-out copy of the request."""
    from Xlib.protocol import rq

    class SetMonitor(rq.Request):
        _request = rq.Struct(
            rq.Card8("opcode"),
            rq.Opcode(43),
            rq.RequestLength(),
            rq.Window("window"),
            rq.Card32("name"),
            rq.Bool("primary"),
            rq.Bool("automatic"),
            rq.LengthOf("outputs", 2),
            rq.Int16("x"),
            rq.Int16("y"),
            rq.Card16("width"),
            rq.Card16("height"),
            rq.Card32("width_mm"),
            rq.Card32("height_mm"),
            rq.List("outputs", rq.Card32Obj),
        )

    root = x.screen().root
    screen_output = root.xrandr_get_screen_resources().outputs[0]
    for number, ((left, top, width, height), _) in enumerate(MONITORS, start=1):
        SetMonitor(
            display=x.display,
            opcode=x.display.get_extension_major("RANDR"),
            window=root,
            name=x.intern_atom(f"MONITOR-{number}"),
            primary=number == 1,
            automatic=False,
            x=left,
            y=top,
            width=width,
            height=height,
            width_mm=width // 4,
            height_mm=height // 4,
            # Xvfb's one output goes to monitor 1 so that it no longer spans the whole screen itself.
            outputs=[screen_output] if number == 1 else [],
        )
    x.sync()


def point_at(monitor: int) -> None:
    x, y = POINT_ON[monitor]
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)
