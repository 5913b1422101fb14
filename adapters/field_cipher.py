"""Seals the personal fields of events on their way into the log, opens them on the way out.

An event class names its personal fields in ``personal``. Each is sealed with a
key derived from the recording's and the customer's keys, bound to the
recording and the field's name, so a sealed value cannot be replayed elsewhere.
Once either key is destroyed the field reads ``REDACTED``: the event itself,
its version and its place in the log stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple
from uuid import UUID

import structlog

from adapters import crypto
from adapters.key_store import KeyStore, RecordingKeys, SealingKeys
from domain.values import REDACTED

log = structlog.get_logger(__name__)

NO_NEW_KEYS = SealingKeys({})

# Turns one text of a personal field, with its associated data, into what is stored or read.
TextConverter = Callable[[str, bytes], str]


def personal_fields(event_class: type) -> tuple[str, ...]:
    return getattr(event_class, "personal", ())


def _aad(recording_id: UUID, field: str, tag: str | None = None) -> bytes:
    return f"{recording_id}/{field}".encode() if tag is None else f"{recording_id}/{field}/{tag}".encode()


class FieldCipher:
    def __init__(self, key_store: KeyStore) -> None:
        self.key_store = key_store

    def prepare(self, events: Sequence[Any], *, store_keys_first: bool = False) -> SealingKeys:
        """Readies the keys for events about to be stored together (a group commit): those of
        new recordings are made at once (stored with the events, on PostgreSQL) and the
        others' fetched in one query, rather than one round trip each as the events are sealed."""
        customers = {e.originator_id: e.customer_id for e in events if "customer_id" in personal_fields(type(e))}
        sealing = self.key_store.keys_to_seal(customers, store_first=store_keys_first) if customers else NO_NEW_KEYS
        self.key_store.keys_for_many(
            e.originator_id for e in events if personal_fields(type(e)) and e.originator_id not in customers
        )
        return sealing

    def seal(
        self, event_class: type, recording_id: UUID, state: dict[str, Any], sealing: SealingKeys = NO_NEW_KEYS
    ) -> dict[str, Any]:
        """A copy of the event's state with its personal fields sealed, with the keys ``prepare``
        made for its recording if it is new."""
        fields = personal_fields(event_class)
        if not fields:
            return state
        keys = sealing.keys.get(recording_id)
        if keys is None and "customer_id" in fields:
            # The event that names the customer makes the keys; later ones use them.
            keys = self.key_store.ensure_recording(recording_id, state["customer_id"])
        elif keys is None:
            keys = self.key_store.keys_for(recording_id)
        if keys is None:
            # The keys were destroyed (a purge or an erasure): whatever personal
            # data still arrives for this recording is erased before it is written.
            log.warning(
                "personal fields stored redacted: the recording's keys are destroyed",
                recording_id=str(recording_id),
                event_type=event_class.__name__,
            )
            convert: TextConverter = _redacted
        else:
            convert = partial(crypto.seal_field, _field_key(keys, recording_id))
        return {**state, **{f: _each_text(state[f], recording_id, f, convert) for f in fields}}

    def open(self, event_class: type, recording_id: UUID, state: dict[str, Any]) -> dict[str, Any]:
        """Opens the personal fields in place; any that cannot be opened read REDACTED."""
        fields = personal_fields(event_class)
        if not fields:
            return state
        keys = self.key_store.keys_for(recording_id)
        convert = partial(_open, _field_key(keys, recording_id) if keys is not None else None)
        for field in fields:
            state[field] = _each_text(state[field], recording_id, field, convert)
        return state

    def open_texts(self, texts: Mapping[UUID, Sequence[SealedText]]) -> dict[UUID, list[str]]:
        """Sealed texts of several recordings (as views keep them), opened with one look-up of
        all their keys; any that cannot be opened read REDACTED."""
        keys = self.key_store.keys_for_many(texts)
        opened = {}
        for recording_id, items in texts.items():
            found = keys.get(recording_id)
            key = _field_key(found, recording_id) if found is not None else None
            opened[recording_id] = [_open(key, t.text, _aad(recording_id, t.field, t.tag)) for t in items]
        return opened


class SealedText(NamedTuple):
    """A personal value as an event stored it, and where: the associated data names both."""

    text: str
    field: str  # the event's personal field that held it
    tag: str | None = None  # its key, when the field is a dict


def _field_key(keys: RecordingKeys, recording_id: UUID) -> bytes:
    return crypto.field_key(keys.customer_key, keys.recording_key, recording_id)


def _redacted(_text: str, _aad: bytes) -> str:
    return REDACTED


def _open(key: bytes | None, text: str, aad: bytes) -> str:
    if not crypto.is_sealed(text):
        return text  # written before fields were sealed, or stored redacted
    if key is None:
        return REDACTED
    try:
        return crypto.open_field(key, text, aad)
    except crypto.CannotOpen:
        return REDACTED  # sealed under a key that no longer exists


def _each_text(value: Any, recording_id: UUID, field: str, convert: TextConverter) -> Any:
    """Converts a str field, each value of a dict field (whose keys stay in clear), or each
    item of a list field (bound to its position, so items cannot be reordered unnoticed)."""
    if isinstance(value, str):
        return convert(value, _aad(recording_id, field))
    if isinstance(value, dict):
        return {tag: convert(text, _aad(recording_id, field, tag)) for tag, text in value.items()}
    if isinstance(value, list):
        return [convert(text, _aad(recording_id, field, str(at))) for at, text in enumerate(value)]
    raise TypeError(
        f"personal field {field!r} must be a str, a dict of str or a list of str, not {type(value).__name__}"
    )
