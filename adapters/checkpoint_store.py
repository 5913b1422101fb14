"""Signed checkpoints: kept append-only beside the log, copied to a mirror, and the
key that signs them, which lives in settings or a file, never in the database."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.media_store import MediaStore
from adapters.note_signing import NoteSigner, generate_key
from adapters.settings import Settings
from adapters.sql_dialect import Dialect


def load_signer(settings: Settings) -> NoteSigner:
    """The log's signing key; a deployment without one gets a new key file once."""
    if settings.signing_key:
        return NoteSigner.from_text(settings.signing_key)
    path = Path(settings.signing_key_file)
    if not path.exists():
        write_key_pair(path, settings.log_origin)
    return NoteSigner.from_text(path.read_text().strip())


def write_key_pair(path: Path, name: str) -> str:
    """Writes PATH (private, mode 0600) and PATH.pub (the verifier key); returns the latter."""
    signer, verifier = generate_key(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as private:
        private.write(signer + "\n")
    Path(f"{path}.pub").write_text(verifier + "\n")
    return verifier


class CheckpointStore:
    def __init__(self, datastore: Any, dialect: Dialect, mirror: MediaStore | None) -> None:
        self._datastore = datastore
        self._dialect = dialect
        self._mirror = mirror

    def add(self, size: int, root: bytes, note: bytes, signed_at: datetime) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._dialect.sql("INSERT INTO checkpoints (tree_size, root, note, signed_at) VALUES (?, ?, ?, ?)"),
                [size, root, note.decode(), self._dialect.value(signed_at)],
            )
        if self._mirror is not None:
            self._mirror.put_new(f"checkpoints/{size:020d}.txt", note)

    def latest(self) -> tuple[int, bytes] | None:
        rows = self._rows("SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1", [])
        return rows[0] if rows else None

    def at(self, size: int) -> bytes | None:
        rows = self._rows("SELECT tree_size, note FROM checkpoints WHERE tree_size = ?", [size])
        return rows[0][1] if rows else None

    def before(self, size: int, limit: int) -> list[tuple[int, bytes]]:
        """Earlier checkpoints, newest first: what an older verifier may have kept."""
        return self._rows(
            "SELECT tree_size, note FROM checkpoints WHERE tree_size < ? ORDER BY tree_size DESC LIMIT ?", [size, limit]
        )

    def _rows(self, sql: str, params: list[Any]) -> list[tuple[int, bytes]]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(self._dialect.sql(sql), params)
            return [(int(dict(r)["tree_size"]), dict(r)["note"].encode()) for r in cursor.fetchall()]
