"""The master key that wraps every data key: from the settings, else from its file.

It lives outside the database (a copy of the database alone opens nothing); a
deployment that names neither gets a new key file once, created atomically.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from pathlib import Path

import structlog

from adapters import crypto
from adapters.settings import Settings

log = structlog.get_logger(__name__)


def load_master_key(settings: Settings) -> bytes:
    """The master key from settings, else its file; a deployment without one gets a new file once."""
    if settings.master_key:
        return _decode_master_key(settings.master_key, "CALLVAULT_MASTER_KEY")
    path = Path(settings.master_key_file)
    if not path.exists():
        _create_key_file(path)
    return _decode_master_key(path.read_text().strip(), str(path))


def _decode_master_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        key = b""
    if len(key) != crypto.KEY_BYTES:
        raise ValueError(f"the master key in {source} must be base64 of {crypto.KEY_BYTES} bytes")
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: a racing process either wins or
    # reads a complete file, never half of one.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(base64.b64encode(crypto.new_key()).decode() + "\n")
    try:
        os.link(draft, path)
        log.warning("created a new master key: back it up, without it no personal data can be read", path=str(path))
    except FileExistsError:
        pass
    finally:
        draft.unlink()
