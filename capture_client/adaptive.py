"""Adaptive quality: keep the client's CPU use and bitrate inside their budgets."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

STEP_UP_MARGIN = 0.8  # step up only if the better level is expected to stay under 80 % of the budget


@dataclass(frozen=True)
class Quality:
    fps: int
    width: int
    height: int

    @property
    def pixel_rate(self) -> int:
        return self.fps * self.width * self.height


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)  # yuv420p needs even sizes


def quality_ladder(fps: int, width: int, height: int) -> list[Quality]:
    """Best first. Frame rate is given up first (halving down to 1 fps), then resolution (3/4, 1/2)."""
    rates = [fps]
    while rates[-1] > 1:
        rates.append(max(1, rates[-1] // 2))
    ladder = [Quality(rate, width, height) for rate in rates]
    for factor in (0.75, 0.5):
        ladder.append(Quality(1, _even(width * factor), _even(height * factor)))
    return ladder


class CpuMeter:
    """Process CPU seconds per wall second since it was made (all threads, x264's too)."""

    def __init__(self) -> None:
        self._cpu, self._wall = time.process_time(), time.monotonic()

    def read(self) -> float:
        return (time.process_time() - self._cpu) / max(time.monotonic() - self._wall, 1e-3)


class QualityController:
    """Moves one step down the ladder per measurement over budget, and one step up when the
    step's cost (assumed proportional to pixels per second) would still fit comfortably."""

    def __init__(self, ladder: list[Quality], cpu_budget: float, kbps_budget: float) -> None:
        self._ladder, self._cpu_budget, self._kbps_budget = ladder, cpu_budget, kbps_budget
        self._level = 0

    @property
    def current(self) -> Quality:
        return self._ladder[self._level]

    def observe(self, cpu_share: float, kbps: float) -> Quality:
        """One measurement taken at the current level (CPU in cores, upload in kbit/s)."""
        if cpu_share > self._cpu_budget or kbps > self._kbps_budget:
            self._move(min(self._level + 1, len(self._ladder) - 1), cpu_share, kbps)
        elif self._level > 0:
            growth = self._ladder[self._level - 1].pixel_rate / self.current.pixel_rate
            if (
                cpu_share * growth < self._cpu_budget * STEP_UP_MARGIN
                and kbps * growth < self._kbps_budget * STEP_UP_MARGIN
            ):
                self._move(self._level - 1, cpu_share, kbps)
        return self.current

    def _move(self, level: int, cpu_share: float, kbps: float) -> None:
        if level != self._level:
            self._level = level
            log.info("quality now %s (cpu %.3f cores, %.0f kbit/s)", self.current, cpu_share, kbps)
