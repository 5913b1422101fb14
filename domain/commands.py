"""The recording's commands, one type per action, as plain data.

Every adapter that causes a lifecycle event (the per-event and batch HTTP
endpoints, the command line, the simulator, the scheduled jobs) builds one of
these and hands it to ``RecordingLedger.execute`` (or ``execute_all``); the
Recording aggregate method of the same name judges it and builds its event.
Each carries who caused it (``by``) and when the source says it happened
(``occurred_at``), which is also the natural key that makes a retry a no-op.

A command's fields, but ``recording_id`` and ``by``, are its event's fields of
the same names (Recording's ``recorded``): a field added to an event is added
here, where it is carried, and to the event, where it is stored.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from uuid import UUID

from domain.recording import recording_id_for
from domain.values import Actor


@dataclass(frozen=True, slots=True)
class StartCall:
    """Starts a call's recording; idempotent on the interaction (same details: a no-op)."""

    _: KW_ONLY
    interaction_id: str
    agent_id: str
    customer_id: str
    queue: str
    direction: str
    tags: dict[str, str]
    occurred_at: datetime
    by: Actor

    @property
    def recording_id(self) -> UUID:
        return recording_id_for(self.interaction_id)


@dataclass(frozen=True, slots=True)
class RecordingCommand:
    """A command against an existing recording: ``Pause(recording_id, reason=..., occurred_at=..., by=...)``."""

    recording_id: UUID
    _: KW_ONLY
    occurred_at: datetime
    by: Actor


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause(RecordingCommand):
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume(RecordingCommand):
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EndCall(RecordingCommand):
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EndAcw(RecordingCommand):
    reason: str  # one of values.ACW_END_REASONS


@dataclass(frozen=True, slots=True, kw_only=True)
class Tag(RecordingCommand):
    key: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Annotate(RecordingCommand):
    media_offset_ms: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceHold(RecordingCommand):
    case_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseHold(RecordingCommand):
    case_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AddSegment(RecordingCommand):
    """One screen segment; ``occurred_at`` is when it was captured (judged against pauses)."""

    sequence_number: int
    start_offset_ms: int
    duration_ms: int
    monitor: int
    width: int
    height: int
    codec: str
    byte_size: int
    sha256: str
    media_key: str
    fps: int  # chosen by the client's adaptive quality


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordVoice(RecordingCommand):
    codec: str
    duration_ms: int
    byte_size: int
    sha256: str
    media_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSnapshot(RecordingCommand):
    snapshot_id: str
    annotation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AddSnapshot(RecordingCommand):
    snapshot_id: str
    monitor: int
    width: int
    height: int
    byte_size: int
    sha256: str
    media_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportCapture(RecordingCommand):
    """The capture client's own count of the segments it produced."""

    segments: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordPlayback(RecordingCommand):
    reason_code: str
    what: str  # comma-separated values.PLAY_PARTS
    viewing_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordExport(RecordingCommand):
    reason_code: str
    what: str  # one of values.EXPORT_PARTS
    manifest_sha256: str = ""  # binds an export bundle's manifest to the log


# What the ledger executes; the changes answer True/False (applied, or a retry) or None.
Command = StartCall | RecordingCommand
