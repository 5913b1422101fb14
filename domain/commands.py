"""Commands as values, so several can be handed to the ledger at once (see RecordingLedger.run_all)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.recording import Recording


@dataclass(frozen=True, slots=True)
class Start:
    """A command that creates a recording; ``build`` may be called again to retry."""

    build: Callable[[], Recording]


@dataclass(frozen=True, slots=True)
class Change:
    """A command against an existing recording (a pure function of its state)."""

    recording_id: UUID
    apply: Callable[[Recording], Any]
