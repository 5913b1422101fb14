"""Screen grabs of the monitor under the pointer."""

from __future__ import annotations

from dataclasses import dataclass

import mss

from capture_client.pointer import pointer_position


@dataclass(frozen=True)
class Shot:
    """One grab: BGRA pixels, row after row without padding (a new buffer per grab)."""

    bgra: bytearray
    width: int
    height: int
    monitor: int  # mss numbering, 1-based


class Grabber:
    """Grabs the active monitor. Lives in the thread that uses it (mss holds an X connection)."""

    def __init__(self) -> None:
        self._mss = mss.MSS(with_cursor=True)
        self._monitor = 1

    def active_monitor(self) -> int:
        """The monitor under the pointer; the previous one while the pointer is in a gap of the layout."""
        x, y = pointer_position()
        for index, area in enumerate(self._mss.monitors[1:], start=1):
            if area["left"] <= x < area["left"] + area["width"] and area["top"] <= y < area["top"] + area["height"]:
                self._monitor = index
                break
        return self._monitor

    def grab_active(self) -> Shot:
        index = self.active_monitor()
        image = self._mss.grab(self._mss.monitors[index])
        return Shot(image.raw, image.width, image.height, index)

    def close(self) -> None:
        self._mss.close()
