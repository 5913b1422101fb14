"""C2SP signed notes and their key texts: the text formats only, no keys or I/O.

- c2sp.org/signed-note: a note is ``text + "\\n" + signature lines``, each line
  ``— <key name> <base64(key ID || signature)>\\n``; the signed bytes are the
  text, final newline included, up to the last blank line.
- The Ed25519 key ID of the signed-note spec and the key texts of
  golang.org/x/mod/sumdb/note, so its tools read our keys and we read theirs:
  verifier ``<name>+<hex key ID>+<base64(0x01 || public key)>``, signer
  ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``.

Parsing is strict on purpose (see canonical.py). The cryptography lives in
adapters.note_signing; the offline verifier is handed it (verifier.py).
"""

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from domain.transparency.canonical import canonical_b64decode, note_text

MAX_SIGNATURES = 100  # as sumdb/note; the spec asks verifiers to accept >= 16
KEY_ID_SIZE = 4
ED25519_TYPE = 0x01  # signed-note signature type byte for Ed25519
ED25519_KEY_SIZE = 32
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
SIGNER_KEY_PREFIX = "PRIVATE+KEY+"

_KEY_ID_RE = re.compile(r"[0-9a-fA-F]{8}")
# The Unicode White_Space property (PropList.txt), which Go's unicode.IsSpace tests.
_WHITE_SPACE = frozenset(
    [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)


class NoteError(ValueError):
    """A signed note, key name or key text is malformed."""


def _require_key_name(name: str) -> None:
    """Non-empty, with no Unicode white space and no '+' (signed-note §Format)."""
    valid = isinstance(name, str) and bool(name) and "+" not in name
    if not valid or any(ord(ch) in _WHITE_SPACE or ch < " " for ch in name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, no spaces, no '+'")


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --- notes ----------------------------------------------------------------------


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
        return f"{SIGNATURE_PREFIX}{self.name} {_b64encode(self.key_id + self.signature)}\n"


def parse_signed_note(text: bytes) -> tuple[bytes, list[NoteSignature]]:
    """Split a signed note into its signed body and its parsed signature lines."""
    note = note_text(text, "note", NoteError)
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
        raw = canonical_b64decode(encoded, f"signature line {number}", NoteError)
        if len(raw) <= KEY_ID_SIZE:
            raise NoteError(f"signature line {number} is too short ({len(raw)} bytes)")
        signatures.append(NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:]))
    return body.encode("utf-8"), signatures


def format_signed_note(body: bytes, signatures: Sequence[NoteSignature]) -> bytes:
    """Assemble a signed note; parse_signed_note gives back (body, signatures)."""
    text = note_text(body, "note body", NoteError)
    if not text.endswith("\n"):
        raise NoteError("note body must end with a newline")
    if not 1 <= len(signatures) <= MAX_SIGNATURES:
        raise NoteError(f"a note needs 1..{MAX_SIGNATURES} signatures, got {len(signatures)}")
    return (text + "\n" + "".join(sig.line() for sig in signatures)).encode("utf-8")


# --- keys -------------------------------------------------------------------------


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


def format_verifier_key(name: str, public_key: bytes) -> str:
    """``<name>+<hex key ID>+<base64(0x01 || public key)>`` (sumdb/note NewVerifier)."""
    kid = ed25519_key_id(name, public_key)
    return f"{name}+{kid.hex()}+{_b64encode(bytes([ED25519_TYPE]) + public_key)}"


def parse_verifier_key(text: str) -> VerifierKey:
    name, kid, public_key = _split_key_text(text, "verifier")
    return VerifierKey(name, kid, public_key)


def format_signer_key(name: str, public_key: bytes, seed: bytes) -> str:
    """``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`` (sumdb/note NewSigner);
    the key ID names the public key, which only the caller's cryptography derives."""
    kid = ed25519_key_id(name, public_key)
    return f"{SIGNER_KEY_PREFIX}{name}+{kid.hex()}+{_b64encode(bytes([ED25519_TYPE]) + seed)}"


def parse_signer_key(text: str) -> tuple[str, bytes, bytes]:
    """(name, key ID, 32-byte Ed25519 seed); the caller derives the public key and
    checks that the ID names it."""
    if not text.startswith(SIGNER_KEY_PREFIX):
        raise NoteError(f"signer key text must start with {SIGNER_KEY_PREFIX!r}")
    return _split_key_text(text[len(SIGNER_KEY_PREFIX) :], "signer")


def _split_key_text(text: str, what: str) -> tuple[str, bytes, bytes]:
    """``name+hexid+base64(0x01 || key)`` -> (name, key ID, the 32-byte Ed25519 key)."""
    name, _, rest = text.partition("+")
    hex_id, _, encoded = rest.partition("+")  # base64 may itself contain '+'
    _require_key_name(name)
    if not _KEY_ID_RE.fullmatch(hex_id):
        raise NoteError(f"{what} key ID {hex_id!r} is not 8 hex digits")
    raw = canonical_b64decode(encoded, f"{what} key", NoteError)
    if not raw:
        raise NoteError(f"{what} key is empty")
    if raw[0] != ED25519_TYPE:
        raise NoteError(f"{what} key type 0x{raw[0]:02x} is not Ed25519 (0x01)")
    if len(raw) != 1 + ED25519_KEY_SIZE:
        raise NoteError(f"Ed25519 {what} key is {len(raw) - 1} bytes, not {ED25519_KEY_SIZE}")
    return name, bytes.fromhex(hex_id), raw[1:]
