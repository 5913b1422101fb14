"""Strict decoding shared by the log's text formats: one byte string per value.

Notes, checkpoints and bundle members accept only canonical encodings, so that
flipping any byte of them either fails to decode or changes a decoded value.
Each caller names its own error type (``error``): a note's, a checkpoint's, or
a bundle member's.
"""

import base64
import binascii
from collections.abc import Callable

ErrorOf = Callable[[str], ValueError]  # the caller's error, from a message


def note_text(data: bytes, what: str, error: ErrorOf) -> str:
    """UTF-8 with no ASCII control characters but newline (signed-note §Format)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    for i, ch in enumerate(text):
        if ch < " " and ch != "\n":
            raise error(f"{what} has control character {ch!r} at character {i}")
    return text


def canonical_b64decode(text: str, what: str, error: ErrorOf) -> bytes:
    """Standard, padded, canonical base64 (RFC 4648 §4); nothing else passes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise error(f"{what} is not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"{what} is not canonical base64")
    return raw
