"""Folds recording events into rows of the ``recordings`` search view."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from adapters.view_rows import RecordingRow
from adapters.view_store import ViewStore
from domain.access_record import AccessRecord, Outcome
from domain.recording import Recording
from domain.values import RecordingStatus
from projections.follower import LoggedEvent


def fold(row: RecordingRow | None, event: Recording.Event) -> RecordingRow:
    """The row after one more event. Pure: same events, same row.

    The customer id and tag values are the customer's: the row keeps the blind indexes
    (to search by) and the sealed texts (to show) the events carry, so it never opens a
    sealed field and a rebuild after a purge gives the same row.
    """
    if isinstance(event, Recording.CallStarted):
        return RecordingRow(
            recording_id=event.originator_id,
            interaction_id=event.interaction_id,
            agent_id=event.agent_id,
            customer_ref=event.customer_ref,
            customer_sealed=event.customer_id,
            tags_sealed={key: ("tags", sealed) for key, sealed in event.tags.items()},
            queue=event.queue,
            direction=event.direction,
            started_at=event.occurred_at,
            status=RecordingStatus.ACTIVE.value,
            screen_selected=event.screen_selected,
            tag_refs=dict(event.tag_refs),
            policy_version=event.policy_version,
            version=event.originator_version,
        )
    if row is None:
        raise LookupError(f"event {type(event).__name__} for unknown recording {event.originator_id}")
    row = msgspec.structs.replace(row, version=event.originator_version)
    match event:
        case Recording.ScreenSampled(sequence_number=number):
            _add_segment(row, number)
        case Recording.CaptureReported(segments=count):
            row.expected_segments = count
            _expect_segments(row, count)
        case Recording.VoiceRecorded():
            row.voice_recorded = True
        case Recording.SnapshotTaken():
            row.snapshots += 1
        case Recording.Paused(occurred_at=paused):
            row.status = RecordingStatus.PAUSED.value
            row.pause_count += 1
            row.paused_since = paused
        case Recording.Resumed(occurred_at=resumed):
            row.status = RecordingStatus.ACTIVE.value
            _end_pause(row, resumed)
        case Recording.CallEnded(occurred_at=ended):
            _end_pause(row, ended)  # hanging up ends any pause
            row.ended_at = ended
            row.duration_ms = int((ended - row.started_at).total_seconds() * 1000)
            row.status = RecordingStatus.ACW.value
        case Recording.AcwEnded(occurred_at=acw_ended, reason=reason):
            row.acw_ended_at = acw_ended
            row.acw_end_reason = reason
            row.status = RecordingStatus.COMPLETE.value
        case Recording.Played() | Recording.Exported():
            row.last_access_at = event.occurred_at
        case Recording.Tagged(key=key, value=value, value_ref=ref):
            row.tag_refs = {**row.tag_refs, key: ref}
            row.tags_sealed = {**row.tags_sealed, key: ("value", value)}
        case Recording.LegalHoldPlaced(case_id=case_id):
            row.hold_cases = sorted({*row.hold_cases, case_id})
            row.legal_hold = True
        case Recording.LegalHoldReleased(case_id=case_id):
            row.hold_cases = [c for c in row.hold_cases if c != case_id]
            row.legal_hold = bool(row.hold_cases)
        case Recording.Archived():
            row.status = RecordingStatus.ARCHIVED.value
        case Recording.Purged():
            row.status = RecordingStatus.PURGED.value
    return row


def _end_pause(row: RecordingRow, at: datetime) -> None:
    if row.paused_since is not None:
        row.pause_ms += (at - row.paused_since) // timedelta(milliseconds=1)
        row.paused_since = None


def _expect_segments(row: RecordingRow, count: int) -> None:
    """Segments the client produced but the server never received count as missing too."""
    if count - 1 > row.highest_segment:
        row.missing_segments = [*row.missing_segments, *range(row.highest_segment + 1, count)]
        row.highest_segment = count - 1
        row.missing_count = len(row.missing_segments)


def _add_segment(row: RecordingRow, number: int) -> None:
    """Keeps the list of segment numbers below the highest that never arrived."""
    row.segments_received += 1
    if number > row.highest_segment:
        row.missing_segments = [*row.missing_segments, *range(row.highest_segment + 1, number)]
        row.highest_segment = number
    else:
        row.missing_segments = [n for n in row.missing_segments if n != number]
    row.missing_count = len(row.missing_segments)


# Accesses that count as looking at a recording (a search hit does not).
_ACCESS_ACTIONS = frozenset({"view", "history"})


def _recordings_changed_by(event: object) -> list[UUID]:
    if isinstance(event, Recording.Event):
        return [event.originator_id]
    if (
        isinstance(event, AccessRecord.Recorded)
        and event.outcome == Outcome.ALLOWED
        and event.action in _ACCESS_ACTIONS
    ):
        return list(event.recording_ids)
    return []


class RecordingsView:
    """Keeps the rows it last committed, so catching up rarely reads the view back."""

    name = "recordings"
    fold_cost = 22.0

    def __init__(self, cache_size: int = 20_000) -> None:
        self._cache: OrderedDict[UUID, RecordingRow] = OrderedDict()
        self._cache_size = cache_size
        self._cached_position: int | None = None

    def apply(self, store: ViewStore, batch: Sequence[LoggedEvent], previous: int, position: int) -> None:
        if previous != self._cached_position:  # someone else moved the view, or we never did
            self._cache.clear()
        self._cached_position = None
        changes = [(rid, e.event) for e in batch for rid in _recordings_changed_by(e.event)]
        touched = {rid for rid, _ in changes}
        rows = {i: self._cache[i] for i in touched if i in self._cache}
        rows.update(store.load(RecordingRow, touched - rows.keys()))
        for recording_id, event in changes:
            row = rows.get(recording_id)
            if isinstance(event, AccessRecord.Recorded):
                if row is not None:  # an access to an unknown id changes no row
                    rows[recording_id] = msgspec.structs.replace(row, last_access_at=event.occurred_at)
            else:
                rows[recording_id] = fold(row, event)
        store.commit(self.name, previous, position, upserts=list(rows.values()))
        self._remember(rows)
        self._cached_position = position

    def _remember(self, rows: dict[UUID, RecordingRow]) -> None:
        self._cache.update(rows)
        for recording_id in rows:
            self._cache.move_to_end(recording_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
