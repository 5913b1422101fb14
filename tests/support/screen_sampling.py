"""The screen-sampling rule as docs/policies.md states it, written here independently of the code."""

from __future__ import annotations

import hashlib


def auditors_draw(interaction_id: str, percent: float) -> bool:
    """Whether a call with this interaction id is screen-recorded under ``percent``, as an auditor would compute it."""
    return int(hashlib.sha256(interaction_id.encode()).hexdigest()[:16], 16) / 2**64 * 100 < percent
