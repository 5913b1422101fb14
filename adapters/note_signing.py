"""Ed25519 signing and verification of C2SP signed notes (checkpoints included).

The note and key text formats (those of golang.org/x/mod/sumdb/note) are
domain.transparency.notes; this module holds only the cryptography.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domain.transparency.checkpoints import Checkpoint, parse_checkpoint
from domain.transparency.notes import (
    NoteError,
    NoteSignature,
    ed25519_key_id,
    format_signed_note,
    format_signer_key,
    format_verifier_key,
    parse_signed_note,
    parse_signer_key,
    parse_verifier_key,
)


class SignatureError(ValueError):
    """A note does not verify under the given key (or is not a note at all)."""


def _public_bytes(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class NoteSigner:
    """Signs note bodies with one named Ed25519 key. Its repr holds no secret."""

    __slots__ = ("name", "key_id", "_private", "_public")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self._public = _public_bytes(private_key)
        self.name = name
        self.key_id = ed25519_key_id(name, self._public)

    @classmethod
    def from_text(cls, signer_key_text: str) -> NoteSigner:
        name, kid, seed = parse_signer_key(signer_key_text)
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        if signer.key_id != kid:  # the ID names the public key: derive, then compare
            raise NoteError(f"signer key ID {kid.hex()} does not match its key")
        return signer

    @property
    def verifier_text(self) -> str:
        return format_verifier_key(self.name, self._public)

    def sign(self, body: bytes) -> bytes:
        """The signed note: body, blank line, this key's signature line."""
        signature = self._private.sign(body)
        return format_signed_note(body, [NoteSignature(self.name, self.key_id, signature)])

    def sign_checkpoint(self, checkpoint: Checkpoint) -> bytes:
        return self.sign(checkpoint.body())

    def __repr__(self) -> str:
        return f"NoteSigner({self.name!r}, key_id={self.key_id.hex()})"


def generate_key(name: str) -> tuple[str, str]:
    """A fresh (signer key text, verifier key text) pair for the key name."""
    private = Ed25519PrivateKey.generate()
    public = _public_bytes(private)
    return format_signer_key(name, public, private.private_bytes_raw()), format_verifier_key(name, public)


def verify_note(note: bytes, verifier_key_text: str) -> bytes:
    """The note's body, once a signature by this key verifies over it.

    Lines by other keys (witnesses, rotated keys) are ignored, as the spec
    requires; every line naming this key (name and ID) must verify.
    """
    key = parse_verifier_key(verifier_key_text)
    try:
        body, signatures = parse_signed_note(note)
    except NoteError as exc:
        raise SignatureError(f"malformed note: {exc}") from exc
    ours = [s for s in signatures if s.name == key.name and s.key_id == key.key_id]
    label = f"{key.name}+{key.key_id.hex()}"
    if not ours:
        raise SignatureError(f"note has no signature by key {label}")
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    for sig in ours:
        try:
            public.verify(sig.signature, body)
        except InvalidSignature:
            raise SignatureError(f"invalid signature for key {label}") from None
    return body


def verify_checkpoint(note: bytes, verifier_key_text: str) -> Checkpoint:
    """The checkpoint in a signed note, once its signature by this key verifies."""
    return parse_checkpoint(verify_note(note, verifier_key_text))
