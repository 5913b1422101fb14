"""Personal data in and out of the views: filters become blind indexes, rows get their
customer id and tags back from the sealed events (REDACTED once their key is gone)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple
from uuid import UUID

import msgspec

from adapters.view_rows import AuditRow, RecordingRow
from domain.errors import RecordingNotFound
from domain.ledger import RecordingLedger
from domain.values import REDACTED


class RecordingOut(RecordingRow, kw_only=True):
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


def subjects(ledger: RecordingLedger, recording_ids: Iterable[UUID]) -> dict[UUID, Subject]:
    """Customer id, tags and direction of each recording, opened from its events."""
    found = {}
    for recording_id in set(recording_ids):
        try:
            recording = ledger.get_recording(recording_id)
        except RecordingNotFound:  # an access attempt naming an id that never existed
            found[recording_id] = Subject(REDACTED, {}, None)
        else:
            found[recording_id] = Subject(recording.customer_id, dict(recording.tags), recording.direction)
    return found


def reveal_recordings(ledger: RecordingLedger, rows: list[RecordingRow]) -> list[RecordingOut]:
    known = subjects(ledger, (r.recording_id for r in rows))
    return [
        RecordingOut(
            **msgspec.structs.asdict(r), customer_id=known[r.recording_id].customer_id, tags=known[r.recording_id].tags
        )
        for r in rows
    ]


def reveal_audit(ledger: RecordingLedger, rows: list[AuditRow]) -> list[AuditOut]:
    known = subjects(ledger, (r.recording_id for r in rows if r.recording_id is not None))
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
