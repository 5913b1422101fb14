"""The recording's one clock: monotonic offsets from its start, kept across client restarts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str | None:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return None


@dataclass(frozen=True)
class RecordingClock:
    """Offsets come from time.monotonic() only, so pauses stay gaps and wall-clock jumps
    cannot reorder frames; the wall origin only bridges a reboot."""

    origin_monotonic: float
    origin_wall: float

    @classmethod
    def starting_now(cls) -> RecordingClock:
        return cls(time.monotonic(), time.time())

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RecordingClock:
        # CLOCK_MONOTONIC counts from boot, so a client restarted on the same boot continues
        # the same timeline (its downtime becomes a gap); after a reboot the wall clock bridges.
        boot = _boot_id()
        if boot is not None and state["boot_id"] == boot:
            return cls(state["origin_monotonic"], state["origin_wall"])
        return cls(time.monotonic() - (time.time() - state["origin_wall"]), state["origin_wall"])

    def to_state(self) -> dict[str, Any]:
        return {"origin_monotonic": self.origin_monotonic, "origin_wall": self.origin_wall, "boot_id": _boot_id()}

    def offset(self, monotonic: float | None = None) -> float:
        """Seconds from the recording start to `monotonic` (default: now)."""
        return (time.monotonic() if monotonic is None else monotonic) - self.origin_monotonic

    def offset_at_wall(self, wall: float) -> float:
        """Where a wall-clock moment (seconds since the epoch) falls on this timeline."""
        return self.offset() - (time.time() - wall)

    def wall_time(self, offset_ms: int) -> str:
        """ISO 8601 (UTC) wall time of a recent point on this recording's timeline, counted back
        from the wall clock now: hours of recording do not accumulate drift between the clocks."""
        seconds_ago = self.offset() - offset_ms / 1000
        return datetime.fromtimestamp(time.time() - seconds_ago, UTC).isoformat()


def wall_now() -> str:
    return datetime.now(UTC).isoformat()
