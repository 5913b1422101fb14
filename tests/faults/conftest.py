"""Prints every fault scenario's figures at the end of the run, so CI's log keeps them (docs/reliability.md)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.service import REPORTED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORTED:
        return
    terminalreporter.section("fault figures")
    for test, figures in REPORTED:
        terminalreporter.write_line(f"{test}: {json.dumps(figures, default=str, sort_keys=True)}")
