"""msgspec serialization of domain events for eventsourcing's stored events.

Each event class gets a typed decoder, built once from its annotations, so
timestamps and ids come back as datetime and UUID without a hand-written
transcoding per type, and a malformed payload fails loudly instead of
producing a half-typed event. Given a field cipher, the mapper seals the
events' personal fields before encoding and opens them after decoding.
"""

from __future__ import annotations

import typing
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, get_origin
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Cipher, Compressor, Mapper, MapperDeserialisationError, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

from adapters.field_cipher import NO_NEW_KEYS, FieldCipher
from adapters.key_store import SealingKeys

# Stored beside the payload by eventsourcing itself, not in it.
_ENVELOPE = frozenset({"originator_id", "originator_version"})
_encoder = msgspec.json.Encoder()


class _Stamped(msgspec.Struct):
    """Every event's recorded time, alone: msgspec skips the other fields without building them."""

    timestamp: datetime


_stamp_decoder = msgspec.json.Decoder(_Stamped)


@cache
def payload_decoder(event_class: type) -> msgspec.json.Decoder[Any]:
    hints = typing.get_type_hints(event_class)
    fields = [
        (name, hint) for name, hint in hints.items() if name not in _ENVELOPE and get_origin(hint) is not ClassVar
    ]
    payload_type = msgspec.defstruct(f"{event_class.__qualname__}Payload", fields, kw_only=True)
    return msgspec.json.Decoder(payload_type)


class MsgspecMapper(Mapper[Any]):
    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
        fields: FieldCipher | None = None,
    ) -> None:
        super().__init__(transcoder, compressor, cipher)
        self.fields = fields

    def to_stored_event(
        self, domain_event: DomainEventProtocol[Any], sealing: SealingKeys = NO_NEW_KEYS
    ) -> StoredEvent:
        """``sealing``: keys made for new recordings by ``FieldCipher.prepare``, not stored yet."""
        state = {k: v for k, v in vars(domain_event).items() if k not in _ENVELOPE}
        if self.fields:
            state = self.fields.seal(type(domain_event), domain_event.originator_id, state, sealing)
        payload = _encoder.encode(state)
        if self.compressor:
            payload = self.compressor.compress(payload)
        if self.cipher:
            payload = self.cipher.encrypt(payload)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=payload,
        )

    def to_domain_event(self, stored_event: StoredEvent, open_personal: bool = True) -> DomainEventProtocol[Any]:
        """``open_personal=False`` leaves personal fields sealed, for readers that never show them."""
        originator_id = stored_event.originator_id
        assert isinstance(
            originator_id, UUID
        )  # the ledger's ids (Application[UUID]); the recorders return them as such
        return self.decode(
            stored_event.topic, stored_event.state, originator_id, stored_event.originator_version, open_personal
        )

    def timestamp(self, payload: bytes) -> datetime:
        """When a stored event was recorded, without decoding the rest of it (the Merkle leaves need only this)."""
        try:
            return _stamp_decoder.decode(self._plain(payload)).timestamp
        except (msgspec.DecodeError, ValueError) as error:
            raise MapperDeserialisationError(f"cannot read the timestamp of a stored event: {error}") from error

    def _plain(self, payload: bytes) -> bytes:
        """The JSON of a stored payload (decrypted and decompressed if the ledger does either)."""
        if self.cipher:
            payload = self.cipher.decrypt(payload)
        if self.compressor:
            payload = self.compressor.decompress(payload)
        return payload

    def decode(
        self, topic: str, payload: bytes, originator_id: UUID, originator_version: int, open_personal: bool = True
    ) -> DomainEventProtocol[Any]:
        """A stored event's parts back into its domain event (the views' follower reads them as plain tuples)."""
        event_class, decoder = _decoding(topic)
        try:
            decoded = decoder.decode(self._plain(payload))
        except (msgspec.DecodeError, ValueError) as error:
            raise MapperDeserialisationError(
                f"cannot decode {topic} v{originator_version} of {originator_id}: {error}"
            ) from error
        state = msgspec.structs.asdict(decoded)
        if self.fields and open_personal:
            state = self.fields.open(event_class, originator_id, state)
        state["originator_id"] = originator_id
        state["originator_version"] = originator_version
        domain_event: DomainEventProtocol[UUID] = object.__new__(event_class)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event


@cache
def event_class_of(topic: str) -> type:
    return resolve_topic(topic)  # type: ignore[no-any-return]


@cache
def _decoding(topic: str) -> tuple[type, msgspec.json.Decoder[Any]]:
    """One lookup per stored event instead of two (the class, then its decoder)."""
    event_class = event_class_of(topic)
    return event_class, payload_decoder(event_class)
