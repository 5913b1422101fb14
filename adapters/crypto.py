"""The ciphers behind encryption at rest: pure functions, no I/O.

Keys are 256-bit. Data keys are wrapped by the master key (AES-256-GCM, bound
to their id so a wrapped key cannot be moved to another row); personal fields
of events are sealed with a key derived from both the customer's and the
recording's key, so destroying either one makes them unreadable for good.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable, Iterator
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
SEALED_PREFIX = "sealed:v1:"
MEDIA_MAGIC = b"CVM1"


class CannotOpen(ValueError):
    """Wrong key, tampered bytes, or not something this module sealed."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _aead(key: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise ValueError(f"keys are {KEY_BYTES} bytes, not {len(key)}")
    return AESGCM(key)


def _open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, what: str) -> bytes:
    try:
        return _aead(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise CannotOpen(f"{what} does not open with this key (wrong key, or altered)") from None


def _hkdf(secret: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(secret)


# -- keys under the master key --------------------------------------------


def wrap_key(master: bytes, key_id: bytes, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _aead(master).encrypt(nonce, key, key_id)


def unwrap_key(master: bytes, key_id: bytes, wrapped: bytes) -> bytes:
    return _open(master, wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id, "wrapped key")


def index_key(master: bytes) -> bytes:
    """A key for the blind index only, so index values reveal nothing of the master key."""
    return _hkdf(master, None, b"callvault/v1/customer-index")


def customer_ref(index_key: bytes, customer_id: str) -> str:
    """The same customer always gets the same ref; without the key it cannot be reversed or guessed."""
    return hmac.new(index_key, customer_id.encode(), hashlib.sha256).hexdigest()


# -- personal fields of events --------------------------------------------


def field_key(customer_key: bytes, recording_key: bytes, recording_id: UUID) -> bytes:
    return _hkdf(customer_key + recording_key, recording_id.bytes, b"callvault/v1/fields")


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


def seal_field(field_key: bytes, plaintext: str, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + _aead(field_key).encrypt(nonce, plaintext.encode(), aad)
    return SEALED_PREFIX + base64.urlsafe_b64encode(sealed).decode()


def open_field(field_key: bytes, token: str, aad: bytes) -> str:
    if not is_sealed(token):
        raise CannotOpen("not a sealed field")
    try:
        sealed = base64.urlsafe_b64decode(token[len(SEALED_PREFIX) :])
    except ValueError:
        raise CannotOpen("sealed field is not valid base64") from None
    return _open(field_key, sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad, "sealed field").decode()


# -- media objects ---------------------------------------------------------


def _media_nonce(recording_key: bytes, object_key: str, digest: bytes) -> bytes:
    # Deterministic, so a retried upload encrypts to the same bytes and the
    # create-only media store sees a repeat rather than a conflict. The object
    # key is mixed in as well: under one key, a nonce must never serve two
    # different (AAD, plaintext) pairs, or GCM's authentication key leaks.
    material = b"nonce" + digest + object_key.encode()
    return hmac.new(recording_key, material, hashlib.sha256).digest()[:NONCE_BYTES]


def seal_media(recording_key: bytes, object_key: str, data: bytes) -> bytes:
    nonce = _media_nonce(recording_key, object_key, hashlib.sha256(data).digest())
    return MEDIA_MAGIC + nonce + _aead(recording_key).encrypt(nonce, data, object_key.encode())


def seal_media_pieces(recording_key: bytes, object_key: str, digest: bytes, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``seal_media``'s very bytes, given piece by piece, for a body that is not held whole.
    ``digest`` must be the SHA-256 of all the pieces together: the nonce is made from it."""
    _aead(recording_key)  # the same check of the key's length
    nonce = _media_nonce(recording_key, object_key, digest)
    encryptor = Cipher(algorithms.AES(recording_key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(object_key.encode())
    yield MEDIA_MAGIC + nonce
    for piece in pieces:
        yield encryptor.update(piece)
    yield encryptor.finalize() + encryptor.tag


def open_media(recording_key: bytes, object_key: str, sealed: bytes) -> bytes:
    if not sealed.startswith(MEDIA_MAGIC):
        raise CannotOpen(f"{object_key} is not a sealed media object")
    body = sealed[len(MEDIA_MAGIC) :]
    return _open(recording_key, body[:NONCE_BYTES], body[NONCE_BYTES:], object_key.encode(), f"media {object_key}")


# -- derived media, sealed in chunks -------------------------------------------
#
# A playable file is read by byte ranges (a player seeks), so it is sealed in
# independent chunks: a range is served by opening only the chunks it touches.
# Each chunk's AAD binds its object, its index and the number of chunks, so
# chunks cannot be reordered, moved to another object or cut off at the end.

# Small enough that a seek (a player asks for a few tens of KiB) opens little; large enough
# that a store's request per chunk stays cheap when the whole file is streamed.
CHUNK_BYTES = 256 * 1024
SEALED_CHUNK_BYTES = NONCE_BYTES + CHUNK_BYTES + 16  # nonce, ciphertext, GCM tag


def chunk_count(sealed_size: int) -> int:
    return -(-sealed_size // SEALED_CHUNK_BYTES)


def plain_size(sealed_size: int) -> int:
    return sealed_size - chunk_count(sealed_size) * (NONCE_BYTES + 16)


def _chunk_aad(object_key: str, index: int, count: int) -> bytes:
    return f"{object_key}\x1f{index}/{count}".encode()


def seal_chunks(recording_key: bytes, object_key: str, data: bytes) -> bytes:
    count = max(1, -(-len(data) // CHUNK_BYTES))
    aead, sealed = _aead(recording_key), bytearray()
    for index in range(count):
        chunk = data[index * CHUNK_BYTES : (index + 1) * CHUNK_BYTES]
        # Deterministic like _media_nonce: the same build seals to the same bytes.
        material = b"chunk" + hashlib.sha256(chunk).digest() + _chunk_aad(object_key, index, count)
        nonce = hmac.new(recording_key, material, hashlib.sha256).digest()[:NONCE_BYTES]
        sealed += nonce + aead.encrypt(nonce, chunk, _chunk_aad(object_key, index, count))
    return bytes(sealed)


def open_chunk(recording_key: bytes, object_key: str, index: int, count: int, sealed: bytes) -> bytes:
    aad = _chunk_aad(object_key, index, count)
    return _open(recording_key, sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad, f"{object_key} chunk {index}")


def purpose_key(master: bytes, purpose: str) -> bytes:
    """A key of its own for one use of the master key (signing grants, console sessions)."""
    return _hkdf(master, None, f"callvault/v1/{purpose}".encode())
