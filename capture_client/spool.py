"""The local spool: everything meant for the server is made durable here before it is sent.

Layout: items/ holds pending deliveries (a body and its JSON sidecar describing the
request), rejected/ what the server refused (kept as evidence), recordings/ each
recording's durable state (next sequence number, clock origin).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpoolItem:
    name: str
    request: dict[str, Any]  # method, path, params, content_type
    body_path: Path


class Spool:
    def __init__(self, root: Path) -> None:
        self.items_dir = root / "items"
        self.rejected_dir = root / "rejected"
        self.recordings_dir = root / "recordings"
        for folder in (self.items_dir, self.rejected_dir, self.recordings_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.changed = threading.Event()  # set whenever an item is added: wakes the uploader
        self._lock = threading.Lock()
        self._clean_up_interrupted_writes()
        spooled = sorted(self.items_dir.glob("*.json"))
        self._last_key = int(spooled[-1].name.split("-", 1)[0]) if spooled else 0

    def put(self, label: str, body: bytes, request: dict[str, Any]) -> None:
        """Adds a delivery. The sidecar is written last: an item exists once its sidecar does."""
        with self._lock:  # keys order the uploads: a wall clock stepping back must not reorder them
            self._last_key = max(time.time_ns(), self._last_key + 1)
            name = f"{self._last_key:020d}-{label}"
        write_durably(self.items_dir / f"{name}.body", body)
        write_durably(self.items_dir / f"{name}.json", json.dumps(request).encode())
        self.changed.set()

    def oldest(self) -> SpoolItem | None:
        """The next delivery due, if any."""
        for sidecar in sorted(self.items_dir.glob("*.json")):
            body = sidecar.with_suffix(".body")
            if not body.exists():  # delivered, but the removal was interrupted
                sidecar.unlink(missing_ok=True)
                continue
            return SpoolItem(sidecar.stem, json.loads(sidecar.read_bytes()), body)
        return None

    def depth(self) -> int:
        return sum(1 for _ in self.items_dir.glob("*.json"))

    def remove(self, item: SpoolItem) -> None:
        """After the server acknowledged the item. Body first: a lone sidecar means 'delivered'."""
        item.body_path.unlink(missing_ok=True)
        (self.items_dir / f"{item.name}.json").unlink(missing_ok=True)

    def reject(self, item: SpoolItem, answer: dict[str, Any]) -> None:
        """Moves a refused item to rejected/ with the server's answer; evidence is never deleted."""
        write_durably(self.rejected_dir / f"{item.name}.answer.json", json.dumps(answer).encode())
        # Sidecar first: interrupted here, the lone body is moved to rejected/ at the next start.
        os.replace(self.items_dir / f"{item.name}.json", self.rejected_dir / f"{item.name}.json")
        os.replace(item.body_path, self.rejected_dir / item.body_path.name)
        fsync_directory(self.rejected_dir)
        fsync_directory(self.items_dir)

    def load_recording(self, recording_id: str) -> dict[str, Any] | None:
        path = self.recordings_dir / f"{file_label(recording_id)}.json"
        return json.loads(path.read_bytes()) if path.exists() else None

    def save_recording(self, recording_id: str, state: dict[str, Any]) -> None:
        write_durably(self.recordings_dir / f"{file_label(recording_id)}.json", json.dumps(state).encode())

    def _clean_up_interrupted_writes(self) -> None:
        for partial in self.items_dir.glob("*.tmp"):
            partial.unlink()
        for body in self.items_dir.glob("*.body"):
            if not body.with_suffix(".json").exists():  # complete media whose request was never written
                log.warning("spool item %s has no request (interrupted); kept in rejected/", body.name)
                shutil.move(body, self.rejected_dir / body.name)


def file_label(text: str) -> str:
    """Server-given identifiers made safe as parts of file names."""
    return quote(text, safe="-_")


def write_durably(path: Path, data: bytes) -> None:
    """Write to a temporary file, fsync, rename over the target, fsync the directory."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
