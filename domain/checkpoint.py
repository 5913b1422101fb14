"""Signed tree heads as C2SP checkpoints: the text formats only, no keys or I/O.

- c2sp.org/tlog-checkpoint: the checkpoint body ``origin\\nsize\\nbase64(root)\\n``
  followed by optional (non-empty) extension lines.
- c2sp.org/signed-note: a note is ``text + "\\n" + signature lines``, each line
  ``— <key name> <base64(key ID || signature)>\\n``; the signed bytes are the
  text, final newline included, up to the last blank line.
- The Ed25519 key ID of the signed-note spec and the verifier key text of
  golang.org/x/mod/sumdb/note (``<name>+<hex key ID>+<base64(0x01 || key)>``).

Parsing is strict on purpose: every encoding is canonical (one byte string per
value), so flipping any byte of a note either breaks its syntax or changes what
the signature must cover. The cryptography lives in adapters.note_signing.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

ROOT_SIZE = 32  # an RFC 9162 SHA-256 tree head, as domain.merkle.HASH_SIZE
MAX_SIZE = 2**64 - 1  # tree sizes are uint64 in every checkpoint implementation
MAX_SIGNATURES = 100  # as sumdb/note; the spec asks verifiers to accept >= 16
KEY_ID_SIZE = 4
ED25519_TYPE = 0x01  # signed-note signature type byte for Ed25519
ED25519_KEY_SIZE = 32

SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_RE = re.compile(r"[0-9a-fA-F]{8}")
# The Unicode White_Space property (PropList.txt), which Go's unicode.IsSpace tests.
_WHITE_SPACE = frozenset(
    [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)


class CheckpointError(ValueError):
    """A checkpoint body is malformed."""


class NoteError(ValueError):
    """A signed note, key name or verifier key text is malformed."""


# --- shared checks ----------------------------------------------------------


def _text(data: bytes, what: str, error: type[ValueError]) -> str:
    """UTF-8 with no ASCII control characters but newline (signed-note §Format)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    for i, ch in enumerate(text):
        if ch < " " and ch != "\n":
            raise error(f"{what} has control character {ch!r} at character {i}")
    return text


def _b64decode(text: str, what: str, error: type[ValueError]) -> bytes:
    """Standard, padded, canonical base64 (RFC 4648 §4); nothing else passes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise error(f"{what} is not standard base64: {text!r}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"{what} is not canonical base64: {text!r}")
    return raw


def is_valid_key_name(name: str) -> bool:
    """Non-empty, with no Unicode white space and no '+' (signed-note §Format)."""
    return bool(name) and "+" not in name and not any(ord(ch) in _WHITE_SPACE or ch < " " for ch in name)


def _require_key_name(name: str) -> None:
    if not isinstance(name, str) or not is_valid_key_name(name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, no spaces, no '+'")


# --- checkpoint body ----------------------------------------------------------


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
        if not isinstance(self.root, bytes) or len(self.root) != ROOT_SIZE:
            raise CheckpointError(f"checkpoint root must be {ROOT_SIZE} bytes")
        for line in self.extensions:
            if not isinstance(line, str) or not line or any(ch < " " for ch in line):
                raise CheckpointError(f"invalid checkpoint extension line {line!r}")

    def body(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return ("\n".join([*lines, *self.extensions]) + "\n").encode("utf-8")


def parse_checkpoint(body: bytes) -> Checkpoint:
    """The checkpoint in a note body (the signed text), validated strictly."""
    text = _text(body, "checkpoint body", CheckpointError)
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
    root = _b64decode(root_text, "checkpoint root hash", CheckpointError)
    if len(root) != ROOT_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(root)} bytes, not {ROOT_SIZE}")
    if any(not line for line in extensions):
        raise CheckpointError("checkpoint extension lines must be non-empty")
    return Checkpoint(origin, size, root, tuple(extensions))


# --- signed notes -----------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name and 4-byte ID, and the raw signature."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _require_key_name(self.name)
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_ID_SIZE:
            raise NoteError(f"key ID must be {KEY_ID_SIZE} bytes")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise NoteError("signature must be non-empty bytes")

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


def parse_signed_note(text: bytes) -> tuple[bytes, list[NoteSignature]]:
    """Split a signed note into its signed body and its parsed signature lines."""
    note = _text(text, "note", NoteError)
    split = note.rfind("\n\n")  # the text ends at the last blank line
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    body, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise NoteError("note has no signature lines")
    if not block.endswith("\n"):
        raise NoteError("note's last signature line must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    signatures = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"signature line {number} does not start with an em dash and space")
        name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not space:
            raise NoteError(f"signature line {number} has no space between name and signature")
        _require_key_name(name)
        raw = _b64decode(encoded, f"signature line {number}", NoteError)
        if len(raw) <= KEY_ID_SIZE:
            raise NoteError(f"signature line {number} is too short ({len(raw)} bytes)")
        signatures.append(NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:]))
    return body.encode("utf-8"), signatures


def checkpoint_of_note(note: bytes) -> Checkpoint:
    """The checkpoint a signed note carries, its signatures not checked: for the log
    reading back its own notes, and for a verifier that only needs a size to ask for
    a proof (which it then checks against signed roots)."""
    return parse_checkpoint(parse_signed_note(note)[0])


def format_signed_note(body: bytes, signatures: Sequence[NoteSignature]) -> bytes:
    """Assemble a signed note; parse_signed_note gives back (body, signatures)."""
    text = _text(body, "note body", NoteError)
    if not text.endswith("\n"):
        raise NoteError("note body must end with a newline")
    if not 1 <= len(signatures) <= MAX_SIGNATURES:
        raise NoteError(f"a note needs 1..{MAX_SIGNATURES} signatures, got {len(signatures)}")
    return (text + "\n" + "".join(sig.line() for sig in signatures)).encode("utf-8")


# --- keys ---------------------------------------------------------------------


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """SHA-256(key name || 0x0A || signature type || public key)[:4] (signed-note)."""
    _require_key_name(name)
    data = name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    return hashlib.sha256(data).digest()[:KEY_ID_SIZE]


def ed25519_key_id(name: str, public_key: bytes) -> bytes:
    if len(public_key) != ED25519_KEY_SIZE:
        raise NoteError(f"Ed25519 public key must be {ED25519_KEY_SIZE} bytes")
    return key_id(name, ED25519_TYPE, public_key)


@dataclass(frozen=True)
class VerifierKey:
    """A named Ed25519 public key, as in a sumdb/note verifier key text."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        if self.key_id != ed25519_key_id(self.name, self.public_key):
            raise NoteError(f"key ID {self.key_id.hex()} does not match key {self.name!r}")

    def text(self) -> str:
        return format_verifier_key(self.name, self.public_key)


def format_verifier_key(name: str, public_key: bytes) -> str:
    """``<name>+<hex key ID>+<base64(0x01 || public key)>`` (sumdb/note NewVerifier)."""
    kid = ed25519_key_id(name, public_key)
    encoded = base64.b64encode(bytes([ED25519_TYPE]) + public_key).decode("ascii")
    return f"{name}+{kid.hex()}+{encoded}"


def split_key_text(text: str, what: str) -> tuple[str, bytes, bytes]:
    """``name+hexid+base64`` -> (name, key ID, decoded key with its type byte)."""
    name, _, rest = text.partition("+")
    hex_id, _, encoded = rest.partition("+")  # base64 may itself contain '+'
    _require_key_name(name)
    if not _KEY_ID_RE.fullmatch(hex_id):
        raise NoteError(f"{what} key ID {hex_id!r} is not 8 hex digits")
    raw = _b64decode(encoded, f"{what} key", NoteError)
    if not raw:
        raise NoteError(f"{what} key is empty")
    return name, bytes.fromhex(hex_id), raw


def parse_verifier_key(text: str) -> VerifierKey:
    name, kid, raw = split_key_text(text, "verifier")
    if raw[0] != ED25519_TYPE:
        raise NoteError(f"verifier key type 0x{raw[0]:02x} is not Ed25519 (0x01)")
    if len(raw) != 1 + ED25519_KEY_SIZE:
        raise NoteError(f"Ed25519 verifier key is {len(raw) - 1} bytes, not 32")
    return VerifierKey(name, kid, raw[1:])
