"""The Recording aggregate: the whole life of one interaction's recording.

Longer than our other modules, on purpose: the stored events' topics are
``domain.recording:Recording.<Event>``, so the event classes must stay nested in
this class in this module, each with its ``apply`` (its one effect on the state)
beside its fields; and the rules stay beside the events they guard (moved to a
mixin, every attribute of the state would have to be declared twice).

The methods named after a command of domain/commands.py check the rules, raise
domain errors and trigger the event, whose fields come from the command
(``recorded``); ``apply`` only changes state, so replaying old events never
re-runs a guard that might since have changed. The ``check_*`` methods answer,
before any media is written, whether an upload's event may be added.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import errors
from domain.card_data import scan_for_cards
from domain.evaluation_form import (
    Comment,
    EvaluationConflict,
    EvaluationState,
    EvaluationUnknown,
    FormVersion,
    NotTheEvaluator,
    score,
)
from domain.transcript import Span, Utterance, Word, require_utterances
from domain.values import (
    ACW_END_REASONS,
    DIRECTIONS,
    EXPORT_PARTS,
    PLAY_PARTS,
    REDACTED,
    Actor,
    RecordingStatus,
    optional_text,
    require_id,
    require_sha256,
    require_tag_refs,
    require_tags,
    require_text,
    require_utc,
)

if TYPE_CHECKING:
    from domain import commands

# Fixed forever: recording ids of every deployment derive from it.
RECORDING_NAMESPACE = UUID("5f0c6a52-3b1e-4d0e-9a57-6a1f3c2b7e10")
MAX_EVALUATION_COMMENTS = 200


def recording_id_for(interaction_id: str) -> UUID:
    """Telephony and the capture client address the same recording without a lookup."""
    return uuid5(RECORDING_NAMESPACE, interaction_id)


def recorded(command: commands.RecordingCommand | commands.StartCall, **checked: Any) -> dict[str, Any]:
    """The fields of the command's event: the command's own (by name), the values the rules
    checked or normalised, and who caused it. So an event's field is written in the event
    and in the command that carries it, and nowhere else."""
    fields = {field.name: getattr(command, field.name) for field in dataclasses.fields(command)}
    del fields["by"]
    fields.pop("recording_id", None)  # the event's originator
    return {**fields, **checked, "actor": command.by.name, "role": command.by.role}


class Recording(Aggregate):
    if TYPE_CHECKING:  # set by CallStarted.apply (declared here for the type checker only)
        interaction_id: str
        agent_id: str
        customer_id: str
        queue: str
        direction: str
        tags: dict[str, str]
        tag_refs: dict[str, str]
        screen_selected: bool
        policy_version: int
        customer_ref: str
        started_at: datetime
        ended_at: datetime | None
        acw_ended_at: datetime | None
        # Closed and open pause intervals, to judge late-arriving segments by
        # when they were captured rather than when they were uploaded.
        pauses: list[tuple[datetime, datetime | None]]
        resumed_at: set[datetime]
        segments: dict[int, str]
        holds: set[str]
        archived: bool
        purged: bool
        voice_sha256: str | None
        snapshots: dict[str, str | None]  # requested id -> hash once taken
        snapshot_requests: dict[str, tuple[str, str, datetime]]  # id -> taker, annotation, when
        reported_segments: int | None
        media: dict[str, str]  # media key -> SHA-256 of every object the recording stored
        transcript_version: int  # 0: none yet
        transcript_digest: str  # of the current version: a retry of it is a no-op
        card_spans: set[tuple[int, int]]  # where card data was spoken, ms on the call's clock
        evaluations: dict[str, EvaluationState]  # by evaluation id

    class Event(Aggregate.Event):
        occurred_at: datetime  # when the source says it happened
        actor: str
        role: str

    # Fields named in ``personal`` hold the customer's data: the store seals them
    # with keys that a purge or an erasure destroys, after which they read REDACTED.

    class CallStarted(Event, Aggregate.Created):
        personal: ClassVar[tuple[str, ...]] = ("customer_id", "tags")
        interaction_id: str
        agent_id: str
        customer_id: str
        queue: str
        direction: str
        tags: dict[str, str]
        screen_selected: bool
        policy_version: int  # the recording policy it was started under (0: the defaults)
        customer_ref: str  # keyed blind index of the customer: holds and erasure find them without the id
        tag_refs: dict[str, str]  # tag key -> keyed blind index of its value: views index tags without opening them

        def apply(self, recording: Recording) -> None:
            recording.interaction_id, recording.agent_id = self.interaction_id, self.agent_id
            recording.customer_id, recording.queue, recording.direction = self.customer_id, self.queue, self.direction
            recording.tags, recording.tag_refs = dict(self.tags), dict(self.tag_refs)
            recording.screen_selected, recording.policy_version = self.screen_selected, self.policy_version
            recording.customer_ref, recording.started_at = self.customer_ref, self.occurred_at
            recording.ended_at = recording.acw_ended_at = None
            recording.pauses, recording.resumed_at, recording.segments, recording.holds = [], set(), {}, set()
            recording.archived = recording.purged = False
            recording.voice_sha256, recording.reported_segments = None, None
            recording.snapshots, recording.snapshot_requests, recording.media = {}, {}, {}
            recording.transcript_version, recording.transcript_digest = 0, ""
            recording.card_spans, recording.evaluations = set(), {}

    class ScreenSampled(Event):
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

        def apply(self, recording: Recording) -> None:
            recording.segments[self.sequence_number] = self.sha256
            recording.media[self.media_key] = self.sha256

    class VoiceRecorded(Event):
        codec: str
        duration_ms: int
        byte_size: int
        sha256: str
        media_key: str

        def apply(self, recording: Recording) -> None:
            recording.voice_sha256 = self.sha256
            recording.media[self.media_key] = self.sha256

    class SnapshotRequested(Event):
        personal: ClassVar[tuple[str, ...]] = ("annotation",)
        snapshot_id: str
        annotation: str

        def apply(self, recording: Recording) -> None:
            recording.snapshots[self.snapshot_id] = None
            recording.snapshot_requests[self.snapshot_id] = (self.actor, self.annotation, self.occurred_at)

    class SnapshotTaken(Event):
        snapshot_id: str
        monitor: int
        width: int
        height: int
        byte_size: int
        sha256: str
        media_key: str

        def apply(self, recording: Recording) -> None:
            recording.snapshots[self.snapshot_id] = self.sha256
            recording.media[self.media_key] = self.sha256

    class CaptureReported(Event):
        """The client's own count of segments it produced, and which never arrived."""

        segments: int
        missing: list[int]

        def apply(self, recording: Recording) -> None:
            recording.reported_segments = self.segments

    class Paused(Event):
        reason: str

        def apply(self, recording: Recording) -> None:
            recording.pauses.append((self.occurred_at, None))

    class Resumed(Event):
        reason: str

        def apply(self, recording: Recording) -> None:
            recording.pauses[-1] = (recording.pauses[-1][0], self.occurred_at)
            recording.resumed_at.add(self.occurred_at)

    class CallEnded(Event):
        reason: str

        def apply(self, recording: Recording) -> None:
            recording.ended_at = self.occurred_at
            if recording.paused:  # hanging up ends any pause
                recording.pauses[-1] = (recording.pauses[-1][0], self.occurred_at)

    class AcwEnded(Event):
        reason: str

        def apply(self, recording: Recording) -> None:
            recording.acw_ended_at = self.occurred_at

    class Played(Event):
        """One opening of the player (not one per byte range it streams)."""

        reason_code: str
        what: str  # the parts it may play: "audio", "screen" or "audio,screen"
        viewing_id: str = ""  # the grant's viewing; empty in events from before grants
        unredacted: bool = False  # spans of card data spoken played too (legal); False in older events

    class Exported(Event):
        reason_code: str
        what: str
        manifest_sha256: str  # binds an export bundle's manifest to the log ("" if none)

    class Annotated(Event):
        personal: ClassVar[tuple[str, ...]] = ("text",)
        media_offset_ms: int
        text: str

    class Tagged(Event):
        personal: ClassVar[tuple[str, ...]] = ("value",)
        key: str
        value: str
        value_ref: str  # keyed blind index of the value, as in CallStarted.tag_refs

        def apply(self, recording: Recording) -> None:
            recording.tags[self.key] = self.value
            recording.tag_refs[self.key] = self.value_ref

    # -- quality management: transcripts, card data spoken, evaluations ----------

    class TranscriptRecorded(Event):
        """One version of the call's transcript; a later version supersedes it (both stay
        in the history). Utterances by column; the words of utterance i are ``texts[i].split()``,
        timed by ``word_starts_ms[i]``/``word_ends_ms[i]`` when the source gave timings (else empty)."""

        personal: ClassVar[tuple[str, ...]] = ("texts",)
        version: int
        source: str  # who produced it: "telephony", a speech service, "pocketsphinx 5.1.1", ...
        speakers: list[str]
        starts_ms: list[int]
        ends_ms: list[int]
        word_starts_ms: list[list[int]]
        word_ends_ms: list[list[int]]
        texts: list[str]  # card numbers found in them are masked before they are stored

        def apply(self, recording: Recording) -> None:
            recording.transcript_version = self.version
            recording.transcript_digest = _digest(self.source, _transcript_columns_of(self))

    class CardDataDetected(Event):
        """Card data was spoken outside a pause: where on the call's clock, never what."""

        start_ms: int
        end_ms: int
        transcript_version: int  # the transcript it was found in

        def apply(self, recording: Recording) -> None:
            recording.card_spans.add((self.start_ms, self.end_ms))

    class EvaluationSubmitted(Event):
        """A quality manager's evaluation of the call against one version of a form."""

        personal: ClassVar[tuple[str, ...]] = ("comments",)
        evaluation_id: str
        agent_id: str  # the call's, so the evaluations view needs no other event to list it
        form_id: str
        form_version: int
        answers: dict[str, str]  # question id -> the chosen answer's id
        score_percent: float  # computed from the form's weights (0 when a fatal question failed)
        fatal_failed: bool
        comment_offsets_ms: list[int]  # each comment pinned to a moment of the call
        comments: list[str]

        def apply(self, recording: Recording) -> None:
            recording.evaluations[self.evaluation_id] = EvaluationState(
                evaluator=self.actor,
                form_id=self.form_id,
                revision=1,
                state="submitted",
                digest=_evaluation_digest(self),
                score_percent=self.score_percent,
                fatal_failed=self.fatal_failed,
            )

    class EvaluationRevised(Event):
        """The evaluator's new answers and comments; every revision stays in the history."""

        personal: ClassVar[tuple[str, ...]] = ("comments",)
        evaluation_id: str
        revision: int  # 2, 3, ...
        form_id: str
        form_version: int
        answers: dict[str, str]
        score_percent: float
        fatal_failed: bool
        comment_offsets_ms: list[int]
        comments: list[str]

        def apply(self, recording: Recording) -> None:
            recording.evaluations[self.evaluation_id] = dataclasses.replace(
                recording.evaluations[self.evaluation_id],
                form_id=self.form_id,
                revision=self.revision,
                state="revised",
                digest=_evaluation_digest(self),
                score_percent=self.score_percent,
                fatal_failed=self.fatal_failed,
            )

    class EvaluationAcknowledged(Event):
        """The evaluated agent has read this revision and accepts it."""

        personal: ClassVar[tuple[str, ...]] = ("comment",)
        evaluation_id: str
        revision: int
        comment: str

        def apply(self, recording: Recording) -> None:
            recording.evaluations[self.evaluation_id] = dataclasses.replace(
                recording.evaluations[self.evaluation_id], revision=self.revision, state="acknowledged"
            )

    class EvaluationDisputed(Event):
        """The evaluated agent disputes this revision, saying why."""

        personal: ClassVar[tuple[str, ...]] = ("comment",)
        evaluation_id: str
        revision: int
        comment: str

        def apply(self, recording: Recording) -> None:
            recording.evaluations[self.evaluation_id] = dataclasses.replace(
                recording.evaluations[self.evaluation_id], revision=self.revision, state="disputed"
            )

    class LegalHoldPlaced(Event):
        case_id: str
        reason: str

        def apply(self, recording: Recording) -> None:
            recording.holds.add(self.case_id)

    class LegalHoldReleased(Event):
        case_id: str
        reason: str

        def apply(self, recording: Recording) -> None:
            recording.holds.discard(self.case_id)

    class Archived(Event):
        reason: str
        archive_location: str  # where the media went ("" if the recording had none)

        def apply(self, recording: Recording) -> None:
            recording.archived = True

    class Purged(Event):
        """What was destroyed, by count and hash; never what it said."""

        reason: str
        media_objects: int
        media_sha256: list[str]
        keys_destroyed: list[str]  # which keys went: "recording", and "customer" for an erasure

        def apply(self, recording: Recording) -> None:
            recording.purged = True
            # The keys are gone, so what this object still holds in clear must go too:
            # a copy cached by any process reads as the store now does.
            recording.customer_id = REDACTED
            recording.tags = {key: REDACTED for key in recording.tags}
            recording.snapshot_requests = {
                snapshot_id: (taker, REDACTED, when)
                for snapshot_id, (taker, _, when) in recording.snapshot_requests.items()
            }

    def __deepcopy__(self, memo: dict[int, Any]) -> Recording:
        """A command's working copy (the committed object may be read by other threads meanwhile).

        Every container in the state holds only immutable values (strings, numbers,
        datetimes, tuples, frozen events), so copying each container one level deep
        copies all of it, at a fraction of a generic deep copy's cost on a long call.
        """
        twin = object.__new__(type(self))
        twin.__dict__.update(
            {
                name: value.copy() if isinstance(value, dict | list | set) else value
                for name, value in vars(self).items()
            }
        )
        return twin

    @staticmethod
    def create_id(interaction_id: str, **_: Any) -> UUID:
        return recording_id_for(interaction_id)

    @classmethod
    def start(
        cls,
        command: commands.StartCall,
        *,
        screen_selected: bool,
        policy_version: int,
        customer_ref: str,
        tag_refs: dict[str, str],
    ) -> Recording:
        """``command`` with what the ledger adds: the policy's verdict and the blind indexes."""
        if command.direction not in DIRECTIONS:
            raise errors.InvalidCommand(f"direction must be one of {sorted(DIRECTIONS)}")
        for name in ("interaction_id", "agent_id", "customer_id", "queue"):
            require_text(name, getattr(command, name))
        return cls._create(
            cls.CallStarted,
            **recorded(
                command,
                tags=require_tags(command.tags),
                screen_selected=bool(screen_selected),
                policy_version=policy_version,
                customer_ref=require_text("customer_ref", customer_ref),
                tag_refs=require_tag_refs(command.tags, tag_refs),
                occurred_at=require_utc(command.occurred_at),
            ),
        )

    # -- queries ---------------------------------------------------------

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None

    @property
    def status(self) -> RecordingStatus:
        if self.purged:
            return RecordingStatus.PURGED
        if self.archived:
            return RecordingStatus.ARCHIVED
        if self.acw_ended_at is not None:
            return RecordingStatus.COMPLETE
        if self.ended_at is not None:
            return RecordingStatus.ACW
        return RecordingStatus.PAUSED if self.paused else RecordingStatus.ACTIVE

    def pending_snapshots(self) -> dict[str, tuple[str, str, datetime]]:
        return {i: self.snapshot_requests[i] for i, taken in self.snapshots.items() if taken is None}

    def was_paused_at(self, moment: datetime) -> bool:
        return any(start <= moment and (end is None or moment < end) for start, end in self.pauses)

    def matches_start(self, again: Recording) -> bool:
        """A repeated start is a no-op only if it names the same call."""
        return (self.interaction_id, self.agent_id, self.customer_id, self.queue) == (
            again.interaction_id,
            again.agent_id,
            again.customer_id,
            again.queue,
        )

    # -- media: checked before the object is written, then evented --------

    def check_segment(self, segment: commands.AddSegment) -> bool:
        """May this segment be added? False: it is already stored (a retried upload); else the rule it breaks."""
        self._refuse_if_purged()
        sha256 = require_sha256(segment.sha256)
        numbers = (segment.start_offset_ms, segment.duration_ms, segment.monitor, segment.width, segment.height)
        if min(segment.sequence_number, *numbers, segment.byte_size, segment.fps) < 0:
            raise errors.InvalidSegment("sequence number, offsets, sizes and monitor must not be negative")
        captured_at = require_utc(segment.occurred_at)  # before the retry shortcut: an invalid retry is refused too
        require_text("codec", segment.codec)
        require_text("media_key", segment.media_key)
        if segment.sequence_number in self.segments:
            if self.segments[segment.sequence_number] == sha256:
                return False
            raise errors.SegmentConflict(
                f"segment {segment.sequence_number} is already stored with a different SHA-256"
            )
        if not self.screen_selected:
            raise errors.ScreenNotSelected("this recording's screen was not selected for capture")
        if self.acw_ended_at is not None and captured_at >= self.acw_ended_at:
            raise errors.SegmentAfterAcw("segment captured after after-call work ended")
        if self.was_paused_at(captured_at):
            raise errors.SegmentWhilePaused("segment captured while the recording was paused")
        return True

    def add_segment(self, segment: commands.AddSegment) -> bool:
        """Returns False when the same segment was already stored (a retried upload)."""
        if not self.check_segment(segment):
            return False
        self.trigger_event(
            self.ScreenSampled,
            **recorded(segment, sha256=require_sha256(segment.sha256), occurred_at=require_utc(segment.occurred_at)),
        )
        return True

    def check_voice(self, voice: commands.RecordVoice) -> bool:
        """The call's audio, one file per recording: False for a retried upload of it, else may it be added."""
        self._refuse_if_purged()
        sha256 = require_sha256(voice.sha256)
        require_utc(voice.occurred_at)
        require_text("codec", voice.codec)
        require_text("media_key", voice.media_key)
        if min(voice.duration_ms, voice.byte_size) < 0:
            raise errors.InvalidCommand("duration and size must not be negative")
        if self.voice_sha256 == sha256:
            return False
        if self.voice_sha256 is not None:
            raise errors.MediaConflict("a different voice recording is already stored for this call")
        return True

    def record_voice(self, voice: commands.RecordVoice) -> bool:
        if not self.check_voice(voice):
            return False
        self.trigger_event(
            self.VoiceRecorded,
            **recorded(voice, sha256=require_sha256(voice.sha256), occurred_at=require_utc(voice.occurred_at)),
        )
        return True

    def check_snapshot(self, snapshot: commands.AddSnapshot) -> bool:
        """False for a retried upload of a requested snapshot, else may it be added."""
        self._refuse_if_purged()
        snapshot_id, sha256 = require_id("snapshot_id", snapshot.snapshot_id), require_sha256(snapshot.sha256)
        require_text("media_key", snapshot.media_key)
        require_utc(snapshot.occurred_at)
        if min(snapshot.monitor, snapshot.width, snapshot.height, snapshot.byte_size) < 0:
            raise errors.InvalidCommand("monitor and sizes must not be negative")
        if snapshot_id not in self.snapshots:
            raise errors.SnapshotNotRequested(f"no snapshot {snapshot_id!r} was requested for this recording")
        taken = self.snapshots[snapshot_id]
        if taken == sha256:
            return False
        if taken is not None:
            raise errors.MediaConflict(f"snapshot {snapshot_id!r} is already stored with a different SHA-256")
        return True

    def add_snapshot(self, snapshot: commands.AddSnapshot) -> bool:
        if not self.check_snapshot(snapshot):
            return False
        self.trigger_event(
            self.SnapshotTaken,
            **recorded(snapshot, sha256=require_sha256(snapshot.sha256), occurred_at=require_utc(snapshot.occurred_at)),
        )
        return True

    def request_snapshot(self, request: commands.RequestSnapshot) -> bool:
        """Asks the agent's capture client for one still of the screen, with the taker's note."""
        self._refuse_if_purged()
        snapshot_id = require_id("snapshot_id", request.snapshot_id)
        annotation, at = require_text("annotation", request.annotation), require_utc(request.occurred_at)
        if snapshot_id in self.snapshots:
            return False
        if not self.screen_selected:
            raise errors.ScreenNotSelected("this recording's screen is not captured")
        if self.status is not RecordingStatus.ACTIVE:
            raise errors.NotRecording(f"no snapshot of a recording that is {self.status.value}")
        self.trigger_event(self.SnapshotRequested, **recorded(request, annotation=annotation, occurred_at=at))
        return True

    def report_capture(self, report: commands.ReportCapture) -> bool:
        """The client's count of segments produced; what never arrived is recorded with it."""
        self._refuse_if_purged()
        if not self.screen_selected:
            raise errors.ScreenNotSelected("this recording's screen was not selected for capture")
        if report.segments < 0:
            raise errors.InvalidCommand("segments must not be negative")
        at, segments = require_utc(report.occurred_at), report.segments
        if self.reported_segments == segments:
            return False
        if self.reported_segments is not None:
            raise errors.MediaConflict(f"capture was already reported with {self.reported_segments} segments")
        missing = [n for n in range(max(segments, max(self.segments, default=-1) + 1)) if n not in self.segments]
        self.trigger_event(self.CaptureReported, **recorded(report, missing=missing, occurred_at=at))
        return True

    # -- lifecycle -------------------------------------------------------
    # Idempotent on their natural key, the source's occurred_at: telephony retries
    # a request with the same timestamp, and a retry must not double the event
    # nor fail. They return False for a retry.

    def pause(self, pause: commands.Pause) -> bool:
        self._refuse_if_purged()
        at, reason = require_utc(pause.occurred_at), optional_text("reason", pause.reason)
        if any(start == at for start, _ in self.pauses):
            return False
        if self.status is not RecordingStatus.ACTIVE:
            raise errors.NotRecording(f"cannot pause a recording that is {self.status.value}")
        self.trigger_event(self.Paused, **recorded(pause, reason=reason, occurred_at=at))
        return True

    def resume(self, resume: commands.Resume) -> bool:
        self._refuse_if_purged()
        at, reason = require_utc(resume.occurred_at), optional_text("reason", resume.reason)
        if at in self.resumed_at:
            return False
        if self.status is not RecordingStatus.PAUSED:
            raise errors.NotPaused(f"cannot resume a recording that is {self.status.value}")
        self.trigger_event(self.Resumed, **recorded(resume, reason=reason, occurred_at=at))
        return True

    def end_call(self, end: commands.EndCall) -> bool:
        self._refuse_if_purged()
        at, reason = require_utc(end.occurred_at), optional_text("reason", end.reason)
        if self.ended_at == at:
            return False
        if self.ended_at is not None:
            raise errors.CallAlreadyEnded("the call has already ended")
        self.trigger_event(self.CallEnded, **recorded(end, reason=reason, occurred_at=at))
        return True

    def end_acw(self, end: commands.EndAcw) -> bool:
        self._refuse_if_purged()
        if end.reason not in ACW_END_REASONS:
            raise errors.InvalidCommand(f"reason must be one of {sorted(ACW_END_REASONS)}")
        at = require_utc(end.occurred_at)
        if self.acw_ended_at == at:
            return False
        if self.ended_at is None:
            raise errors.CallNotEnded("after-call work cannot end before the call has ended")
        if self.acw_ended_at is not None:
            raise errors.AcwAlreadyEnded("after-call work has already ended")
        self.trigger_event(self.AcwEnded, **recorded(end, occurred_at=at))
        return True

    # -- access and curation --------------------------------------------

    def record_playback(self, playback: commands.RecordPlayback) -> None:
        if self.purged:
            raise errors.MediaPurged("the media of this recording was purged")
        require_text("reason_code", playback.reason_code)
        parts = playback.what.split(",")
        if not parts or any(part not in PLAY_PARTS for part in parts) or len(set(parts)) != len(parts):
            raise errors.InvalidCommand(f"what must name parts among {', '.join(PLAY_PARTS)}, comma-separated")
        if "screen" in parts and not self.segments:
            raise errors.InvalidCommand("this recording has no screen to play")
        if "audio" in parts and self.voice_sha256 is None:
            raise errors.InvalidCommand("this recording has no audio to play")
        self.trigger_event(self.Played, **recorded(playback, occurred_at=require_utc(playback.occurred_at)))

    def check_export(self, what: str) -> None:
        if what not in EXPORT_PARTS:
            raise errors.InvalidCommand(f"what must be one of {sorted(EXPORT_PARTS)}")
        if self.purged and what != "events":
            raise errors.MediaPurged("the media of this recording was purged; only its events can be exported")

    def record_export(self, export: commands.RecordExport) -> None:
        self.check_export(export.what)
        require_text("reason_code", export.reason_code)
        self.trigger_event(
            self.Exported,
            **recorded(
                export,
                manifest_sha256=require_sha256(export.manifest_sha256) if export.manifest_sha256 else "",
                occurred_at=require_utc(export.occurred_at),
            ),
        )

    def annotate(self, annotation: commands.Annotate) -> None:
        self._refuse_if_purged()
        if annotation.media_offset_ms < 0:
            raise errors.InvalidCommand("media_offset_ms must not be negative")
        require_text("text", annotation.text)
        self.trigger_event(self.Annotated, **recorded(annotation, occurred_at=require_utc(annotation.occurred_at)))

    def tag(self, tag: commands.Tag, value_ref: str) -> bool:
        """False when the tag already has this value; ``value_ref`` is its blind index (the ledger holds the key)."""
        self._refuse_if_purged()
        require_tags({tag.key: tag.value})
        value_ref, at = require_text("value_ref", value_ref), require_utc(tag.occurred_at)
        if self.tags.get(tag.key) == tag.value:
            return False
        self.trigger_event(self.Tagged, **recorded(tag, value_ref=value_ref, occurred_at=at))
        return True

    # -- quality management ----------------------------------------------

    def record_transcript(self, transcript: commands.RecordTranscript) -> bool:
        """Stores a new version of the transcript with every card number spoken in it masked,
        and records where each was spoken outside a pause (never the number). False when
        the same transcript is already the current version (a retried request)."""
        self._refuse_if_purged()
        source, at = require_text("source", transcript.source), require_utc(transcript.occurred_at)
        scan = scan_for_cards(require_utterances(transcript.utterances))
        columns = _transcript_columns(scan.utterances)
        if self.transcript_version and _digest(source, columns) == self.transcript_digest:
            return False
        version = self.transcript_version + 1
        fields = {"actor": transcript.by.name, "role": transcript.by.role, "occurred_at": at}
        self.trigger_event(self.TranscriptRecorded, version=version, source=source, **columns, **fields)
        for span in scan.spans:
            if (span.start_ms, span.end_ms) not in self.card_spans and not self._paused_over(span):
                self.trigger_event(
                    self.CardDataDetected,
                    start_ms=span.start_ms,
                    end_ms=span.end_ms,
                    transcript_version=version,
                    **fields,
                )
        return True

    def _paused_over(self, span: Span) -> bool:
        """Was recording paused for the whole span (then nothing of it was recorded)?"""
        start = self.started_at + timedelta(milliseconds=span.start_ms)
        end = self.started_at + timedelta(milliseconds=span.end_ms)
        return any(paused <= start and (resumed is None or end <= resumed) for paused, resumed in self.pauses)

    # Evaluations: judged against the form version the ledger read for the command.

    def submit_evaluation(self, submission: commands.SubmitEvaluation, form: FormVersion) -> bool:
        """A quality manager's evaluation of the ended call; False for a retry of the same submission."""
        self._refuse_if_purged()
        fields = self._evaluation_fields(submission, form)
        if (known := self.evaluations.get(fields["evaluation_id"])) is not None:
            if known.evaluator == submission.by.name and known.digest == _evaluation_digest(fields):
                return False
            raise EvaluationConflict(f"evaluation {submission.evaluation_id!r} was already submitted")
        self.trigger_event(self.EvaluationSubmitted, agent_id=self.agent_id, **fields)
        return True

    def revise_evaluation(self, revision: commands.ReviseEvaluation, form: FormVersion) -> bool:
        """The evaluator's next revision; False when it says what the current one says (a retry)."""
        self._refuse_if_purged()
        known = self._evaluation(revision.evaluation_id)
        if revision.by.name != known.evaluator:
            raise NotTheEvaluator(f"only {known.evaluator} may revise evaluation {revision.evaluation_id!r}")
        if revision.form_id != known.form_id:
            raise errors.InvalidCommand(f"a revision answers the evaluation's own form, {known.form_id!r}")
        fields = self._evaluation_fields(revision, form)
        if _evaluation_digest(fields) == known.digest:
            return False
        self.trigger_event(self.EvaluationRevised, revision=known.revision + 1, **fields)
        return True

    def acknowledge_evaluation(self, ack: commands.AcknowledgeEvaluation) -> bool:
        comment = optional_text("comment", ack.comment)
        return self._respond(ack, self.EvaluationAcknowledged, "acknowledged", comment)

    def dispute_evaluation(self, dispute: commands.DisputeEvaluation) -> bool:
        comment = require_text("comment", dispute.comment)  # a dispute says why
        return self._respond(dispute, self.EvaluationDisputed, "disputed", comment)

    def _respond(
        self,
        response: commands.AcknowledgeEvaluation | commands.DisputeEvaluation,
        event_class: type[Recording.Event],
        outcome: str,
        comment: str,
    ) -> bool:
        """The agent's answer to the current revision, once (the same answer again is a no-op)."""
        self._refuse_if_purged()
        at = require_utc(response.occurred_at)
        known = self._evaluation(response.evaluation_id)
        if response.by.name != self.agent_id:
            raise NotTheEvaluator("only the call's agent acknowledges or disputes its evaluation")
        if response.revision != known.revision:
            raise EvaluationConflict(f"revision {response.revision} is not the current one ({known.revision})")
        if known.state == outcome:
            return False
        if known.state in ("acknowledged", "disputed"):
            raise EvaluationConflict(f"revision {known.revision} was already {known.state}")
        self.trigger_event(event_class, **recorded(response, comment=comment, occurred_at=at))
        return True

    def _evaluation(self, evaluation_id: str) -> EvaluationState:
        try:
            return self.evaluations[evaluation_id]
        except KeyError:
            raise EvaluationUnknown(f"this recording has no evaluation {evaluation_id!r}") from None

    def _evaluation_fields(self, content: commands.EvaluationContent, form: FormVersion) -> dict[str, Any]:
        """The checked fields of a submission or revision, with its score."""
        evaluation_id, at = require_id("evaluation_id", content.evaluation_id), require_utc(content.occurred_at)
        if (form.form_id, form.version) != (content.form_id, content.form_version):
            raise errors.InvalidCommand("the form version given is not the one the evaluation cites")
        if self.ended_at is None:
            raise errors.CallNotEnded("a call is evaluated once it has ended")
        scored = score(form, content.answers)
        offsets, texts = self._pinned(content.comments)
        return {
            "evaluation_id": evaluation_id,
            "form_id": form.form_id,
            "form_version": form.version,
            "answers": dict(content.answers),
            "score_percent": scored.percent,
            "fatal_failed": scored.fatal_failed,
            "comment_offsets_ms": offsets,
            "comments": texts,
            "occurred_at": at,
            "actor": content.by.name,
            "role": content.by.role,
        }

    def _pinned(self, comments: Iterable[Comment]) -> tuple[list[int], list[str]]:
        """Comments as the events store them, each pinned within the call (after-call work included)."""
        assert self.ended_at is not None
        end = self.acw_ended_at or self.ended_at
        duration_ms = int((end - self.started_at).total_seconds() * 1000)
        listed = list(comments)
        if len(listed) > MAX_EVALUATION_COMMENTS:
            raise errors.InvalidCommand(f"an evaluation holds at most {MAX_EVALUATION_COMMENTS} comments")
        for comment in listed:
            if isinstance(comment.at_ms, bool) or not isinstance(comment.at_ms, int):
                raise errors.InvalidCommand("a comment's at_ms must be a whole number of milliseconds")
            if not 0 <= comment.at_ms <= duration_ms:
                raise errors.InvalidCommand(f"a comment must be pinned within the call: 0 to {duration_ms} ms")
        return [c.at_ms for c in listed], [require_text("comment", c.text) for c in listed]

    # -- retention -------------------------------------------------------

    def place_hold(self, hold: commands.PlaceHold) -> bool:
        """Returns False when this case already holds the recording."""
        self._refuse_if_purged()
        case_id, reason = require_id("case_id", hold.case_id), require_text("reason", hold.reason)
        at = require_utc(hold.occurred_at)
        if case_id in self.holds:
            return False
        self.trigger_event(self.LegalHoldPlaced, **recorded(hold, reason=reason, occurred_at=at))
        return True

    def release_hold(self, release: commands.ReleaseHold) -> None:
        self._refuse_if_purged()
        if release.case_id not in self.holds:
            raise errors.NoSuchHold(f"case {release.case_id!r} holds no legal hold on this recording")
        require_text("reason", release.reason)
        self.trigger_event(self.LegalHoldReleased, **recorded(release, occurred_at=require_utc(release.occurred_at)))

    def archive(
        self, *, reason: str, archive_location: str, occurred_at: datetime, by: Actor, held_by: Iterable[str] = ()
    ) -> None:
        """``held_by``: cases whose query holds cover this recording (they live outside it)."""
        self.check_archive(held_by)
        self.trigger_event(
            self.Archived,
            reason=optional_text("reason", reason),
            archive_location=archive_location,
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    def check_archive(self, held_by: Iterable[str] = ()) -> None:
        self._refuse_if_purged()
        self._require_complete_and_unheld("archive", held_by)
        if self.archived:
            raise errors.AlreadyArchived("the recording is already archived")

    def purge(
        self,
        *,
        reason: str,
        keys_destroyed: list[str],
        occurred_at: datetime,
        by: Actor,
        held_by: Iterable[str] = (),
    ) -> None:
        self._refuse_if_purged()
        self._require_complete_and_unheld("purge", held_by)
        self.trigger_event(
            self.Purged,
            reason=require_text("reason", reason),
            media_objects=len(self.media),
            media_sha256=sorted(set(self.media.values())),
            keys_destroyed=keys_destroyed,
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    # -- shared guards ---------------------------------------------------

    def _refuse_if_purged(self) -> None:
        if self.purged:
            raise errors.RecordingPurged("the recording was purged; only access records are accepted")

    def _require_complete_and_unheld(self, action: str, held_by: Iterable[str]) -> None:
        if self.acw_ended_at is None:
            raise errors.RecordingNotComplete(f"cannot {action} a recording before after-call work has ended")
        if self.holds or held_by:
            cases = ", ".join([*sorted(self.holds), *(f"{case} (query hold)" for case in sorted(held_by))])
            raise errors.LegalHoldActive(f"cannot {action}: legal hold by case(s) {cases}")


def _transcript_columns(utterances: Iterable[Utterance]) -> dict[str, list[Any]]:
    """Utterances as TranscriptRecorded stores them: one list per field."""
    listed = list(utterances)
    return {
        "speakers": [u.speaker for u in listed],
        "starts_ms": [u.start_ms for u in listed],
        "ends_ms": [u.end_ms for u in listed],
        "word_starts_ms": [[w.start_ms for w in u.words] for u in listed],
        "word_ends_ms": [[w.end_ms for w in u.words] for u in listed],
        "texts": [u.text for u in listed],
    }


def _transcript_columns_of(event: Recording.TranscriptRecorded) -> dict[str, list[Any]]:
    names = ("speakers", "starts_ms", "ends_ms", "word_starts_ms", "word_ends_ms", "texts")
    return {name: getattr(event, name) for name in names}


def utterances_of(event: Recording.TranscriptRecorded) -> list[Utterance]:
    """The stored transcript back as utterances (texts as the reader's keys open them)."""
    return [
        Utterance(
            speaker,
            start,
            end,
            text,
            tuple(Word(*timed) for timed in zip(text.split(), word_starts, word_ends, strict=False)),
        )
        for speaker, start, end, text, word_starts, word_ends in zip(
            event.speakers,
            event.starts_ms,
            event.ends_ms,
            event.texts,
            event.word_starts_ms,
            event.word_ends_ms,
            strict=True,
        )
    ]


def _digest(source: str, columns: dict[str, list[Any]]) -> str:
    return hashlib.sha256(json.dumps([source, columns], sort_keys=True).encode()).hexdigest()


def _evaluation_digest(content: Any) -> str:
    """Of a revision's content (an event, or the fields of one): a retry is recognised by it."""
    names = ("form_id", "form_version", "answers", "comment_offsets_ms", "comments")
    fields = content if isinstance(content, dict) else vars(content)
    return _digest("evaluation", {name: fields[name] for name in names})


def without_personal(event: Any) -> Any:
    """The event with its personal fields read as after a purge (names kept, values REDACTED)."""
    fields = getattr(type(event), "personal", ())
    if not fields:
        return event
    return dataclasses.replace(
        event,
        **{name: _redacted(value) for name in fields if (value := getattr(event, name)) is not None},
    )


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: REDACTED for key in value}
    if isinstance(value, list):
        return [REDACTED for _ in value]
    return REDACTED
