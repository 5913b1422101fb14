"""Retry delays for the uploader and the command stream."""

from __future__ import annotations

import random


class Backoff:
    """Doubling delays up to a cap, with jitter so many desktops don't retry in step after an outage."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self._first, self._cap = first, cap
        self._next = first

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._cap)
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self._next = self._first
