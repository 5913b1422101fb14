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

from domain.evaluation_form import Comment
from domain.recording import recording_id_for
from domain.transcript import Utterance
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
    unredacted: bool = False  # card data spoken in the call is heard and seen (legal only)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordExport(RecordingCommand):
    reason_code: str
    what: str  # one of values.EXPORT_PARTS
    manifest_sha256: str = ""  # binds an export bundle's manifest to the log


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordTranscript(RecordingCommand):
    """A transcript of the call (a new version supersedes the one before); ``occurred_at`` is
    when it was produced. Card numbers spoken in it are masked and their spans recorded."""

    source: str  # who produced it: "telephony", a speech service, our transcriber
    utterances: tuple[Utterance, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationContent(RecordingCommand):
    """An evaluation's answers and comments against one version of a form (the ledger reads
    that version from the log and hands it to the Recording, which computes the score)."""

    evaluation_id: str
    form_id: str
    form_version: int
    answers: dict[str, str]  # question id -> the chosen answer's id
    comments: tuple[Comment, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitEvaluation(EvaluationContent):
    """A quality manager's evaluation of a finished call (a retry of the same is a no-op)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviseEvaluation(EvaluationContent):
    """The evaluator's next revision of an evaluation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AcknowledgeEvaluation(RecordingCommand):
    """The call's agent accepts the current revision of an evaluation."""

    evaluation_id: str
    revision: int
    comment: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeEvaluation(RecordingCommand):
    """The call's agent disputes the current revision of an evaluation, saying why."""

    evaluation_id: str
    revision: int
    comment: str


# What the ledger executes; the changes answer True/False (applied, or a retry) or None.
Command = StartCall | RecordingCommand
