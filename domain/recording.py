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
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import errors
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


def without_personal(event: Any) -> Any:
    """The event with its personal fields read as after a purge (names kept, values REDACTED)."""
    fields = getattr(type(event), "personal", ())
    if not fields:
        return event
    return dataclasses.replace(
        event,
        **{
            name: {key: REDACTED for key in value} if isinstance(value, dict) else REDACTED
            for name in fields
            if (value := getattr(event, name)) is not None
        },
    )
