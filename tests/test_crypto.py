"""The ciphers of encryption at rest, without any store."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest

from adapters import crypto

RID = uuid.UUID("0b7e3d4c-1111-4222-8333-944455556666")
AAD = f"{RID}/customer_id".encode()


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def test_wrapped_key_round_trips_and_is_bound_to_its_id() -> None:
    master, key = crypto.new_key(), crypto.new_key()
    wrapped = crypto.wrap_key(master, b"recording:1", key)
    assert key not in wrapped
    assert crypto.unwrap_key(master, b"recording:1", wrapped) == key
    assert crypto.wrap_key(master, b"recording:1", key) != wrapped  # a fresh nonce each time
    with pytest.raises(crypto.CannotOpen):
        crypto.unwrap_key(master, b"recording:2", wrapped)
    with pytest.raises(crypto.CannotOpen):
        crypto.unwrap_key(crypto.new_key(), b"recording:1", wrapped)
    with pytest.raises(crypto.CannotOpen):
        crypto.unwrap_key(master, b"recording:1", _flip_last_byte(wrapped))


def test_keys_must_be_256_bits() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.wrap_key(b"short", b"id", crypto.new_key())


def test_sealed_field_is_a_text_token_that_round_trips() -> None:
    key = crypto.field_key(crypto.new_key(), crypto.new_key(), RID)
    token = crypto.seal_field(key, "cust-secret-123", AAD)
    assert token.startswith("sealed:v1:") and "cust-secret-123" not in token
    assert base64.urlsafe_b64decode(token.removeprefix("sealed:v1:"))  # base64url, nothing else
    assert crypto.open_field(key, token, AAD) == "cust-secret-123"
    assert crypto.open_field(key, crypto.seal_field(key, "", AAD), AAD) == ""
    assert crypto.seal_field(key, "cust-secret-123", AAD) != token


def test_sealed_field_refuses_wrong_key_other_aad_and_tampering() -> None:
    key = crypto.field_key(crypto.new_key(), crypto.new_key(), RID)
    token = crypto.seal_field(key, "secret", AAD)
    with pytest.raises(crypto.CannotOpen):
        crypto.open_field(crypto.new_key(), token, AAD)
    with pytest.raises(crypto.CannotOpen):
        crypto.open_field(key, token, f"{RID}/tags".encode())
    raw = base64.urlsafe_b64decode(token.removeprefix("sealed:v1:"))
    tampered = "sealed:v1:" + base64.urlsafe_b64encode(_flip_last_byte(raw)).decode()
    with pytest.raises(crypto.CannotOpen):
        crypto.open_field(key, tampered, AAD)
    with pytest.raises(crypto.CannotOpen, match="not a sealed field"):
        crypto.open_field(key, "plain text", AAD)


def test_field_key_needs_both_keys_and_the_recording() -> None:
    customer, recording = crypto.new_key(), crypto.new_key()
    key = crypto.field_key(customer, recording, RID)
    assert key == crypto.field_key(customer, recording, RID)
    others = [
        crypto.field_key(crypto.new_key(), recording, RID),  # the customer key was destroyed (erasure)
        crypto.field_key(customer, crypto.new_key(), RID),  # the recording key was destroyed (purge)
        crypto.field_key(customer, recording, uuid.uuid4()),
    ]
    token = crypto.seal_field(key, "secret", AAD)
    for other in others:
        with pytest.raises(crypto.CannotOpen):
            crypto.open_field(other, token, AAD)


def test_customer_ref_is_a_keyed_blind_index() -> None:
    master = crypto.new_key()
    index = crypto.index_key(master)
    assert index != master and index == crypto.index_key(master)
    ref = crypto.customer_ref(index, "cust-42")
    assert ref == crypto.customer_ref(index, "cust-42") and len(ref) == 64 and "cust-42" not in ref
    assert ref != crypto.customer_ref(index, "cust-43")
    assert ref != crypto.customer_ref(crypto.index_key(crypto.new_key()), "cust-42")


def test_media_is_sealed_deterministically_and_bound_to_its_object_key() -> None:
    key, data = crypto.new_key(), b"\x00\x01 segment bytes " * 1000
    sealed = crypto.seal_media(key, "rec/1/segment-0.webm", data)
    assert sealed.startswith(b"CVM1") and data not in sealed
    # A retried upload of the same bytes stores the same bytes: the media store sees a repeat.
    assert crypto.seal_media(key, "rec/1/segment-0.webm", data) == sealed
    assert crypto.seal_media(key, "rec/1/segment-0.webm", data + b"!") != sealed
    assert crypto.open_media(key, "rec/1/segment-0.webm", sealed) == data
    with pytest.raises(crypto.CannotOpen, match="rec/1/segment-1.webm"):
        crypto.open_media(key, "rec/1/segment-1.webm", sealed)  # moved to another key


def test_media_refuses_wrong_key_tampering_and_unsealed_bytes() -> None:
    key = crypto.new_key()
    sealed = crypto.seal_media(key, "k", b"voice")
    with pytest.raises(crypto.CannotOpen, match="wrong key"):
        crypto.open_media(crypto.new_key(), "k", sealed)
    with pytest.raises(crypto.CannotOpen):
        crypto.open_media(key, "k", _flip_last_byte(sealed))
    with pytest.raises(crypto.CannotOpen, match="not a sealed media object"):
        crypto.open_media(key, "k", b"RIFF plain audio")


@pytest.mark.parametrize("size", [0, 1, 65_535, 65_536, 700_001])
def test_media_sealed_piece_by_piece_is_the_same_object(size: int) -> None:
    """An upload sealed as it streams is byte for byte what sealing it whole gives, so a retry of
    the same body is a repeat however it was sealed, and every reader opens it as before."""
    key, data = crypto.new_key(), bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    pieces = [data[at : at + 65_536] for at in range(0, len(data), 65_536)]
    streamed = b"".join(crypto.seal_media_pieces(key, "rec/1/seg", hashlib.sha256(data).digest(), pieces))
    assert streamed == crypto.seal_media(key, "rec/1/seg", data)
    assert crypto.open_media(key, "rec/1/seg", streamed) == data
    with pytest.raises(ValueError, match="32 bytes"):
        list(crypto.seal_media_pieces(b"short", "rec/1/seg", hashlib.sha256(data).digest(), pieces))
