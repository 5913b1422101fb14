"""Signed checkpoints: kept append-only beside the log, copied to a mirror, and the
key that signs them, which lives in settings or a file, never in the database."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from adapters.media_store import MediaStore
from adapters.note_signing import NoteSigner, generate_key
from adapters.read_cursor import read_cursor
from adapters.settings import Settings
from adapters.sql_dialect import Dialect
from adapters.view_rows import LeafRow


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
    """The transparency log's tables: signed checkpoints, its tamper alarms, and the
    leaves read by index range for the self-audit."""

    def __init__(self, datastore: Any, dialect: Dialect, mirror: MediaStore | None) -> None:
        self._datastore = datastore
        self._dialect = dialect
        self._mirror = mirror

    def add(self, size: int, root: bytes, note: bytes, signed_at: datetime) -> bool:
        """Keeps a signed checkpoint; False if one of that size was already kept (another
        process signed it first), and then this one is neither kept nor mirrored."""
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._dialect.sql(
                    "INSERT INTO checkpoints (tree_size, root, note, signed_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (tree_size) DO NOTHING RETURNING tree_size"
                ),
                [size, root, note.decode(), self._dialect.value(signed_at)],
            )
            if cursor.fetchone() is None:
                return False
        if self._mirror is not None:
            self._mirror.put_new(f"checkpoints/{size:020d}.txt", note)
        return True

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

    def first_of_each_month(self, size: int) -> list[tuple[int, bytes]]:
        """The first checkpoint signed in each UTC month, of those smaller than ``size``.

        One indexed look-up per month of the log's life, from its first checkpoint on
        (checkpoints are signed in size order, so the first in time is the smallest).
        """
        first = self._rows(
            "SELECT tree_size, note FROM checkpoints WHERE tree_size < ? ORDER BY tree_size LIMIT 1", [size]
        )
        if not first:
            return []
        chosen = dict(first)
        month, last = _month_start(self._signed_at(first[0][0])), self._signed_at(self.before(size, 1)[0][0])
        while (month := _next_month(month)) <= last:
            chosen.update(
                self._rows(
                    "SELECT tree_size, note FROM checkpoints WHERE signed_at >= ? AND tree_size < ? "
                    "ORDER BY signed_at, tree_size LIMIT 1",
                    [self._dialect.value(month), size],
                )
            )
        return sorted(chosen.items())

    def _signed_at(self, size: int) -> datetime:
        with read_cursor(self._datastore) as cursor:
            cursor.execute(self._dialect.sql("SELECT signed_at FROM checkpoints WHERE tree_size = ?"), [size])
            value = dict(cursor.fetchone())["signed_at"]
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)

    # -- the tamper alarm --------------------------------------------------

    def raise_alarm(self, reason: str, found_by: str, raised_at: datetime) -> bool:
        """Records a finding once; False when the same reason was already recorded."""
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self._dialect.sql(
                    "INSERT INTO log_alarms (reason, found_by, raised_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (reason) DO NOTHING RETURNING reason"
                ),
                [reason, found_by, self._dialect.value(raised_at)],
            )
            return cursor.fetchone() is not None

    def alarm(self) -> str | None:
        """The first finding still recorded, or None when the log is not known tampered."""
        with read_cursor(self._datastore) as cursor:
            cursor.execute("SELECT reason FROM log_alarms ORDER BY raised_at, reason LIMIT 1")
            row = cursor.fetchone()
        return dict(row)["reason"] if row else None

    # -- leaves, for the self-audit ---------------------------------------

    def leaves(self, start: int, limit: int) -> list[LeafRow]:
        """Up to ``limit`` leaves from index ``start`` on, in index order."""
        with read_cursor(self._datastore) as cursor:
            cursor.execute(
                # Columns by name, as the view store reads rows (adapters/view_store.py, _by_name).
                self._dialect.sql(
                    f"SELECT {', '.join(LeafRow.__struct_fields__)} FROM log_leaves "
                    "WHERE leaf_index >= ? ORDER BY leaf_index LIMIT ?"
                ),
                [start, limit],
            )
            return [msgspec.convert(dict(r), LeafRow, strict=False) for r in cursor.fetchall()]

    def _rows(self, sql: str, params: list[Any]) -> list[tuple[int, bytes]]:
        with read_cursor(self._datastore) as cursor:
            cursor.execute(self._dialect.sql(sql), params)
            return [(int(dict(r)["tree_size"]), dict(r)["note"].encode()) for r in cursor.fetchall()]


def _month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)
