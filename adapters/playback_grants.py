"""Signed, short-lived grants to stream one recording's media in one viewing.

A `<video>` element cannot send a bearer header, and a media URL must not work
for whoever it is copied to: the URL carries a grant naming the viewing, the
user and the recording, signed with a key of its own derived from the master
key, and the server also checks that the caller is that user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from uuid import UUID

import msgspec


class Grant(msgspec.Struct, frozen=True):
    viewing_id: UUID
    user_id: UUID
    recording_id: UUID
    parts: str  # "audio", "screen" or "audio,screen", as the Played event names them
    expires: int  # Unix seconds
    unredacted: bool = False  # legal's playback of the spans where card data was spoken


class BadGrant(ValueError):
    """Not a grant this server signed, or altered (its reason says which)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class GrantSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"callvault playback grant\x00" + payload, hashlib.sha256).digest()

    def sign(self, grant: Grant) -> str:
        payload = msgspec.json.encode(grant)
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def read(self, token: str) -> Grant:
        """The grant, if this server signed it (expiry is the caller's to judge: it is evidence too)."""
        try:
            payload_text, mac_text = token.split(".")
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except ValueError:
            raise BadGrant("the grant is malformed") from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise BadGrant("the grant's signature does not match")
        try:
            return msgspec.json.decode(payload, type=Grant)
        except msgspec.MsgspecError:
            raise BadGrant("the grant is malformed") from None

    @staticmethod
    def expired(grant: Grant) -> bool:
        return grant.expires <= time.time()
