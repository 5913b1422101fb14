"""Which transaction blocks a datastore opens, for tests of what runs as one statement instead."""

from __future__ import annotations

from typing import Any

import pytest


def transaction_blocks(monkeypatch: pytest.MonkeyPatch, datastore: Any) -> list[bool]:
    """From now on, each transaction block the datastore opens, as its ``commit`` flag."""
    blocks: list[bool] = []
    transaction = datastore.transaction

    def counted(*, commit: bool = False) -> Any:
        blocks.append(commit)
        return transaction(commit=commit)

    monkeypatch.setattr(datastore, "transaction", counted)
    return blocks
