"""Where the mouse pointer is: the only platform-specific piece of the client (X11)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from Xlib.xobject.drawable import Window


@cache
def _root_window() -> Window:
    # Imported on first use, so the rest of the client loads without an X library.
    from Xlib import display

    return display.Display().screen().root  # one connection; python-xlib serialises its requests


def pointer_position() -> tuple[int, int]:
    """The pointer's position on the virtual desktop that spans all monitors."""
    reply = _root_window().query_pointer()
    return reply.root_x, reply.root_y
