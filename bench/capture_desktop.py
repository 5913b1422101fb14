"""The capture benchmark's display: its own Xvfb, and an agent's desktop painted on it.

One module for the one scene (a CRM form, call notes being typed, a queue monitor,
a taskbar clock, a moving pointer): its painter is one class of about 230 lines,
because the scene's geometry and its script of small changes read best together.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import threading
import time
from datetime import datetime, timedelta

WIDTH, HEIGHT = 1920, 1080
FONTS = ("9x15", "9x15bold", "6x13", "7x14")  # X core fonts from xfonts-base


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
        self._fonts = {name: self._open_font(name) for name in FONTS}
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

    def _open_font(self, name: str):
        # A font the server lacks fails only later and obscurely (a struct.error in create_gc).
        if not self._x.list_fonts(name, 1):
            raise SystemExit(f"the X server has no core font {name!r}: install Debian's xfonts-base (see .ci/run)")
        return self._x.open_font(name)

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
