"""Signed tree heads as C2SP checkpoints (c2sp.org/tlog-checkpoint): the body format.

A checkpoint body is ``origin\\nsize\\nbase64(root)\\n`` followed by optional
(non-empty) extension lines; it is the text of a signed note (notes.py).
Parsing is strict: every encoding is canonical (canonical.py).
"""

import base64
import re
from dataclasses import dataclass

from domain.transparency.canonical import canonical_b64decode, note_text
from domain.transparency.merkle import HASH_SIZE
from domain.transparency.notes import parse_signed_note

MAX_SIZE = 2**64 - 1  # tree sizes are uint64 in every checkpoint implementation
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(ValueError):
    """A checkpoint body is malformed."""


@dataclass(frozen=True)
class Checkpoint:
    """A log's Merkle tree head at one size, as a c2sp.org/tlog-checkpoint body."""

    origin: str
    size: int
    root: bytes
    # Opaque extension lines; accepted when parsing so body() reproduces the
    # signed bytes, never produced by this ledger.
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("checkpoint origin must be a non-empty string")
        if "\n" in self.origin or any(ch < " " for ch in self.origin):
            raise CheckpointError(f"checkpoint origin {self.origin!r} has a control character")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError(f"checkpoint size must be an int, not {self.size!r}")
        if not 0 <= self.size <= MAX_SIZE:
            raise CheckpointError(f"checkpoint size {self.size} outside 0..2**64-1")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise CheckpointError(f"checkpoint root must be {HASH_SIZE} bytes")
        for line in self.extensions:
            if not isinstance(line, str) or not line or any(ch < " " for ch in line):
                raise CheckpointError(f"invalid checkpoint extension line {line!r}")

    def body(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return ("\n".join([*lines, *self.extensions]) + "\n").encode("utf-8")


def parse_checkpoint(body: bytes) -> Checkpoint:
    """The checkpoint in a note body (the signed text), validated strictly."""
    text = note_text(body, "checkpoint body", CheckpointError)
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint body must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint body has {len(lines)} lines, needs at least 3")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin line is empty")
    if not _SIZE_RE.fullmatch(size_text):
        raise CheckpointError(f"checkpoint size {size_text!r} is not a decimal without leading zeros")
    size = int(size_text)
    if size > MAX_SIZE:
        raise CheckpointError(f"checkpoint size {size_text} exceeds 2**64-1")
    root = canonical_b64decode(root_text, "checkpoint root hash", CheckpointError)
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(root)} bytes, not {HASH_SIZE}")
    if any(not line for line in extensions):
        raise CheckpointError("checkpoint extension lines must be non-empty")
    return Checkpoint(origin, size, root, tuple(extensions))


def checkpoint_of_note(note: bytes) -> Checkpoint:
    """The checkpoint a signed note carries, its signatures not checked: for the log
    reading back its own notes, and for a verifier that only needs a size to ask for
    a proof (which it then checks against signed roots)."""
    return parse_checkpoint(parse_signed_note(note)[0])
