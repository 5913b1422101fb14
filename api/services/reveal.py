"""Personal data in and out of the views: filters become blind indexes, rows get their
customer id and tags opened from the sealed copies the view keeps (REDACTED once their key is gone)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple
from uuid import UUID

import msgspec

from adapters.event_codec import MsgspecMapper
from adapters.field_cipher import SealedText
from adapters.view_rows import AuditRow, RecordingFields, RecordingRow
from adapters.view_store import ViewStore
from domain.errors import RecordingNotFound
from domain.ledger import RecordingLedger
from domain.values import REDACTED


class RecordingOut(RecordingFields, kw_only=True):
    customer_id: str
    tags: dict[str, str]


class AuditOut(AuditRow, kw_only=True):
    """A trail entry as compliance reports need it: with the customer, the interaction type and metadata."""

    customer_id: str | None
    interaction_type: str | None  # the call's direction
    metadata: dict[str, str] | None  # the recording's tags


def personal_filters(ledger: RecordingLedger, customer: str | None, tags: dict[str, str]) -> dict[str, object]:
    """RecordingQuery arguments for a customer and tag filter, as the views hold them."""
    return {
        "customer_ref": ledger.customer_ref_of(customer) if customer is not None else None,
        "tag_refs": {key: ledger.tag_ref(key, value) for key, value in tags.items()},
    }


class Subject(NamedTuple):
    customer_id: str
    tags: dict[str, str]
    direction: str | None


def subjects(ledger: RecordingLedger, views: ViewStore, recording_ids: Iterable[UUID]) -> dict[UUID, Subject]:
    """Customer id, tags and direction of each recording: opened from the search view's
    sealed copies with one key look-up for all, or replayed from the log for a recording
    the view does not hold (not caught up yet, or an id that never existed)."""
    wanted = set(recording_ids)
    rows = views.load(RecordingRow, wanted)
    found = _opened(ledger, rows.values())
    for recording_id in wanted - rows.keys():
        try:
            recording = ledger.get_recording(recording_id)
        except RecordingNotFound:  # an access attempt naming an id that never existed
            found[recording_id] = Subject(REDACTED, {}, None)
        else:
            found[recording_id] = Subject(recording.customer_id, dict(recording.tags), recording.direction)
    return found


def _opened(ledger: RecordingLedger, rows: Iterable[RecordingRow]) -> dict[UUID, Subject]:
    texts = {row.recording_id: _sealed_texts(row) for row in rows}
    mapper = ledger.mapper
    cipher = mapper.fields if isinstance(mapper, MsgspecMapper) else None
    # Without a field cipher (the in-memory store of the unit tests) nothing was sealed.
    opened = cipher.open_texts(texts) if cipher else {i: [t.text for t in items] for i, items in texts.items()}
    found = {}
    for row in rows:
        customer_id, *tag_values = opened[row.recording_id]
        found[row.recording_id] = Subject(
            customer_id, dict(zip(sorted(row.tags_sealed), tag_values, strict=True)), row.direction
        )
    return found


def _sealed_texts(row: RecordingRow) -> list[SealedText]:
    """The row's customer id, then its tag values in key order, with what sealed each."""
    return [
        SealedText(row.customer_sealed, "customer_id"),
        *(
            SealedText(text, field, key if field == "tags" else None)
            for key, (field, text) in sorted(row.tags_sealed.items())
        ),
    ]


def reveal_recordings(ledger: RecordingLedger, rows: list[RecordingRow]) -> list[RecordingOut]:
    """Rows of the search view as shown: their personal fields opened, nothing replayed."""
    known = _opened(ledger, rows)
    return [
        RecordingOut(
            **{name: getattr(r, name) for name in RecordingFields.__struct_fields__},
            customer_id=known[r.recording_id].customer_id,
            tags=known[r.recording_id].tags,
        )
        for r in rows
    ]


def reveal_audit(ledger: RecordingLedger, views: ViewStore, rows: list[AuditRow]) -> list[AuditOut]:
    known = subjects(ledger, views, (r.recording_id for r in rows if r.recording_id is not None))
    revealed = []
    for row in rows:
        subject = known.get(row.recording_id) if row.recording_id is not None else None  # None: users, teams
        revealed.append(
            AuditOut(
                **msgspec.structs.asdict(row),
                customer_id=subject and subject.customer_id,
                interaction_type=subject and subject.direction,
                metadata=subject and subject.tags,
            )
        )
    return revealed
