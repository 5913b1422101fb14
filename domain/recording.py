"""The Recording aggregate: the whole life of one interaction's recording.

Public methods are commands: they check the rules and raise domain errors.
The private ``@event`` methods only change state, so replaying old events never
re-runs a guard that might since have changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import errors
from domain.values import (
    ACW_END_REASONS,
    DIRECTIONS,
    EXPORT_PARTS,
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

# Fixed forever: recording ids of every deployment derive from it.
RECORDING_NAMESPACE = UUID("5f0c6a52-3b1e-4d0e-9a57-6a1f3c2b7e10")


def recording_id_for(interaction_id: str) -> UUID:
    """Telephony and the capture client address the same recording without a lookup."""
    return uuid5(RECORDING_NAMESPACE, interaction_id)


class Recording(Aggregate):
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

    class VoiceRecorded(Event):
        codec: str
        duration_ms: int
        byte_size: int
        sha256: str
        media_key: str

    class SnapshotRequested(Event):
        personal: ClassVar[tuple[str, ...]] = ("annotation",)
        snapshot_id: str
        annotation: str

    class SnapshotTaken(Event):
        snapshot_id: str
        monitor: int
        width: int
        height: int
        byte_size: int
        sha256: str
        media_key: str

    class CaptureReported(Event):
        """The client's own count of segments it produced, and which never arrived."""

        segments: int
        missing: list[int]

    class Paused(Event):
        reason: str

    class Resumed(Event):
        reason: str

    class CallEnded(Event):
        reason: str

    class AcwEnded(Event):
        reason: str

    class Played(Event):
        reason_code: str
        what: str

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

    class LegalHoldPlaced(Event):
        case_id: str
        reason: str

    class LegalHoldReleased(Event):
        case_id: str
        reason: str

    class Archived(Event):
        reason: str
        archive_location: str  # where the media went ("" if the recording had none)

    class Purged(Event):
        """What was destroyed, by count and hash; never what it said."""

        reason: str
        media_objects: int
        media_sha256: list[str]
        keys_destroyed: list[str]  # which keys went: "recording", and "customer" for an erasure

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
        *,
        interaction_id: str,
        agent_id: str,
        customer_id: str,
        queue: str,
        direction: str,
        tags: dict[str, str],
        screen_selected: bool,
        policy_version: int,
        customer_ref: str,
        tag_refs: dict[str, str],
        occurred_at: datetime,
        by: Actor,
    ) -> Recording:
        if direction not in DIRECTIONS:
            raise errors.InvalidCommand(f"direction must be one of {sorted(DIRECTIONS)}")
        return cls(
            interaction_id=require_text("interaction_id", interaction_id),
            agent_id=require_text("agent_id", agent_id),
            customer_id=require_text("customer_id", customer_id),
            queue=require_text("queue", queue),
            direction=direction,
            tags=require_tags(tags),
            screen_selected=bool(screen_selected),
            policy_version=policy_version,
            customer_ref=require_text("customer_ref", customer_ref),
            tag_refs=require_tag_refs(tags, tag_refs),
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(CallStarted)
    def __init__(
        self,
        interaction_id: str,
        agent_id: str,
        customer_id: str,
        queue: str,
        direction: str,
        tags: dict[str, str],
        screen_selected: bool,
        policy_version: int,
        customer_ref: str,
        tag_refs: dict[str, str],
        occurred_at: datetime,
        actor: str,
        role: str,
    ) -> None:
        self.interaction_id = interaction_id
        self.agent_id = agent_id
        self.customer_id = customer_id
        self.queue = queue
        self.direction = direction
        self.tags = dict(tags)
        self.tag_refs = dict(tag_refs)
        self.screen_selected = screen_selected
        self.policy_version = policy_version
        self.customer_ref = customer_ref
        self.started_at = occurred_at
        self.ended_at: datetime | None = None
        self.acw_ended_at: datetime | None = None
        # Closed and open pause intervals, to judge late-arriving segments by
        # when they were captured rather than when they were uploaded.
        self.pauses: list[tuple[datetime, datetime | None]] = []
        self.resumed_at: set[datetime] = set()
        self.segments: dict[int, str] = {}
        self.holds: set[str] = set()
        self.archived = False
        self.purged = False
        self.voice_sha256: str | None = None
        self.snapshots: dict[str, str | None] = {}  # requested id -> hash once taken
        self.snapshot_requests: dict[str, tuple[str, str, datetime]] = {}  # id -> taker, annotation, when
        self.reported_segments: int | None = None
        self.media: dict[str, str] = {}  # media key -> SHA-256 of every object the recording stored

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

    def matches_start(self, interaction_id: str, agent_id: str, customer_id: str, queue: str) -> bool:
        return (self.interaction_id, self.agent_id, self.customer_id, self.queue) == (
            interaction_id,
            agent_id,
            customer_id,
            queue,
        )

    # -- lifecycle -------------------------------------------------------

    def add_segment(
        self,
        *,
        sequence_number: int,
        start_offset_ms: int,
        duration_ms: int,
        monitor: int,
        width: int,
        height: int,
        codec: str,
        byte_size: int,
        sha256: str,
        media_key: str,
        fps: int,
        occurred_at: datetime,
        by: Actor,
    ) -> bool:
        """Returns False when the same segment was already stored (a retried upload)."""
        self._refuse_if_purged()
        sha256 = require_sha256(sha256)
        if min(sequence_number, start_offset_ms, duration_ms, monitor, width, height, byte_size, fps) < 0:
            raise errors.InvalidSegment("sequence number, offsets, sizes and monitor must not be negative")
        captured_at = require_utc(occurred_at)  # before the retry shortcut: an invalid retry is refused too
        codec, media_key = require_text("codec", codec), require_text("media_key", media_key)
        if sequence_number in self.segments:
            if self.segments[sequence_number] == sha256:
                return False
            raise errors.SegmentConflict(f"segment {sequence_number} is already stored with a different SHA-256")
        if not self.screen_selected:
            raise errors.ScreenNotSelected("this recording's screen was not selected for capture")
        if self.acw_ended_at is not None and captured_at >= self.acw_ended_at:
            raise errors.SegmentAfterAcw("segment captured after after-call work ended")
        if self.was_paused_at(captured_at):
            raise errors.SegmentWhilePaused("segment captured while the recording was paused")
        self._screen_sampled(
            sequence_number=sequence_number,
            start_offset_ms=start_offset_ms,
            duration_ms=duration_ms,
            monitor=monitor,
            width=width,
            height=height,
            codec=codec,
            byte_size=byte_size,
            sha256=sha256,
            media_key=media_key,
            fps=fps,
            occurred_at=captured_at,
            actor=by.name,
            role=by.role,
        )
        return True

    @event(ScreenSampled)
    def _screen_sampled(
        self,
        sequence_number: int,
        start_offset_ms: int,
        duration_ms: int,
        monitor: int,
        width: int,
        height: int,
        codec: str,
        byte_size: int,
        sha256: str,
        media_key: str,
        fps: int,
        occurred_at: datetime,
        actor: str,
        role: str,
    ) -> None:
        self.segments[sequence_number] = sha256
        self.media[media_key] = sha256

    # Lifecycle commands are idempotent on their natural key, the source's
    # occurred_at: telephony retries a request with the same timestamp, and a
    # retry must not double the event nor fail. They return False for a retry.

    def pause(self, *, reason: str, occurred_at: datetime, by: Actor) -> bool:
        self._refuse_if_purged()
        at, reason = require_utc(occurred_at), optional_text("reason", reason)
        if any(start == at for start, _ in self.pauses):
            return False
        if self.status is not RecordingStatus.ACTIVE:
            raise errors.NotRecording(f"cannot pause a recording that is {self.status.value}")
        self._paused(reason=reason, occurred_at=at, actor=by.name, role=by.role)
        return True

    @event(Paused)
    def _paused(self, reason: str, occurred_at: datetime, actor: str, role: str) -> None:
        self.pauses.append((occurred_at, None))

    def resume(self, *, reason: str, occurred_at: datetime, by: Actor) -> bool:
        self._refuse_if_purged()
        at, reason = require_utc(occurred_at), optional_text("reason", reason)
        if at in self.resumed_at:
            return False
        if self.status is not RecordingStatus.PAUSED:
            raise errors.NotPaused(f"cannot resume a recording that is {self.status.value}")
        self._resumed(reason=reason, occurred_at=at, actor=by.name, role=by.role)
        return True

    @event(Resumed)
    def _resumed(self, reason: str, occurred_at: datetime, actor: str, role: str) -> None:
        start, _open = self.pauses[-1]
        self.pauses[-1] = (start, occurred_at)
        self.resumed_at.add(occurred_at)

    def end_call(self, *, reason: str, occurred_at: datetime, by: Actor) -> bool:
        self._refuse_if_purged()
        at, reason = require_utc(occurred_at), optional_text("reason", reason)
        if self.ended_at == at:
            return False
        if self.ended_at is not None:
            raise errors.CallAlreadyEnded("the call has already ended")
        self._call_ended(reason=reason, occurred_at=at, actor=by.name, role=by.role)
        return True

    @event(CallEnded)
    def _call_ended(self, reason: str, occurred_at: datetime, actor: str, role: str) -> None:
        self.ended_at = occurred_at
        if self.paused:  # hanging up ends any pause
            self.pauses[-1] = (self.pauses[-1][0], occurred_at)

    def end_acw(self, *, reason: str, occurred_at: datetime, by: Actor) -> bool:
        self._refuse_if_purged()
        if reason not in ACW_END_REASONS:
            raise errors.InvalidCommand(f"reason must be one of {sorted(ACW_END_REASONS)}")
        at = require_utc(occurred_at)
        if self.acw_ended_at == at:
            return False
        if self.ended_at is None:
            raise errors.CallNotEnded("after-call work cannot end before the call has ended")
        if self.acw_ended_at is not None:
            raise errors.AcwAlreadyEnded("after-call work has already ended")
        self._acw_ended(reason=reason, occurred_at=at, actor=by.name, role=by.role)
        return True

    @event(AcwEnded)
    def _acw_ended(self, reason: str, occurred_at: datetime, actor: str, role: str) -> None:
        self.acw_ended_at = occurred_at

    # -- media beside the screen segments --------------------------------

    def record_voice(
        self,
        *,
        codec: str,
        duration_ms: int,
        byte_size: int,
        sha256: str,
        media_key: str,
        occurred_at: datetime,
        by: Actor,
    ) -> bool:
        """The call's audio, one file per recording; False for a retried upload of it."""
        self._refuse_if_purged()
        sha256, at = require_sha256(sha256), require_utc(occurred_at)
        codec, media_key = require_text("codec", codec), require_text("media_key", media_key)
        if min(duration_ms, byte_size) < 0:
            raise errors.InvalidCommand("duration and size must not be negative")
        if self.voice_sha256 == sha256:
            return False
        if self.voice_sha256 is not None:
            raise errors.MediaConflict("a different voice recording is already stored for this call")
        self._voice_recorded(
            codec=codec,
            duration_ms=duration_ms,
            byte_size=byte_size,
            sha256=sha256,
            media_key=media_key,
            occurred_at=at,
            actor=by.name,
            role=by.role,
        )
        return True

    @event(VoiceRecorded)
    def _voice_recorded(
        self,
        codec: str,
        duration_ms: int,
        byte_size: int,
        sha256: str,
        media_key: str,
        occurred_at: datetime,
        actor: str,
        role: str,
    ) -> None:
        self.voice_sha256 = sha256
        self.media[media_key] = sha256

    def request_snapshot(self, *, snapshot_id: str, annotation: str, occurred_at: datetime, by: Actor) -> bool:
        """Asks the agent's capture client for one still of the screen, with the taker's note."""
        self._refuse_if_purged()
        snapshot_id, annotation = require_id("snapshot_id", snapshot_id), require_text("annotation", annotation)
        at = require_utc(occurred_at)
        if snapshot_id in self.snapshots:
            return False
        if not self.screen_selected:
            raise errors.ScreenNotSelected("this recording's screen is not captured")
        if self.status is not RecordingStatus.ACTIVE:
            raise errors.NotRecording(f"no snapshot of a recording that is {self.status.value}")
        self._snapshot_requested(
            snapshot_id=snapshot_id, annotation=annotation, occurred_at=at, actor=by.name, role=by.role
        )
        return True

    @event(SnapshotRequested)
    def _snapshot_requested(
        self, snapshot_id: str, annotation: str, occurred_at: datetime, actor: str, role: str
    ) -> None:
        self.snapshots[snapshot_id] = None
        self.snapshot_requests[snapshot_id] = (actor, annotation, occurred_at)

    def add_snapshot(
        self,
        *,
        snapshot_id: str,
        monitor: int,
        width: int,
        height: int,
        byte_size: int,
        sha256: str,
        media_key: str,
        occurred_at: datetime,
        by: Actor,
    ) -> bool:
        self._refuse_if_purged()
        snapshot_id, sha256 = require_id("snapshot_id", snapshot_id), require_sha256(sha256)
        media_key, at = require_text("media_key", media_key), require_utc(occurred_at)
        if min(monitor, width, height, byte_size) < 0:
            raise errors.InvalidCommand("monitor and sizes must not be negative")
        if snapshot_id not in self.snapshots:
            raise errors.SnapshotNotRequested(f"no snapshot {snapshot_id!r} was requested for this recording")
        taken = self.snapshots[snapshot_id]
        if taken == sha256:
            return False
        if taken is not None:
            raise errors.MediaConflict(f"snapshot {snapshot_id!r} is already stored with a different SHA-256")
        self._snapshot_taken(
            snapshot_id=snapshot_id,
            monitor=monitor,
            width=width,
            height=height,
            byte_size=byte_size,
            sha256=sha256,
            media_key=media_key,
            occurred_at=at,
            actor=by.name,
            role=by.role,
        )
        return True

    @event(SnapshotTaken)
    def _snapshot_taken(
        self,
        snapshot_id: str,
        monitor: int,
        width: int,
        height: int,
        byte_size: int,
        sha256: str,
        media_key: str,
        occurred_at: datetime,
        actor: str,
        role: str,
    ) -> None:
        self.snapshots[snapshot_id] = sha256
        self.media[media_key] = sha256

    def report_capture(self, *, segments: int, occurred_at: datetime, by: Actor) -> bool:
        """The client's count of segments produced; what never arrived is recorded with it."""
        self._refuse_if_purged()
        if not self.screen_selected:
            raise errors.ScreenNotSelected("this recording's screen was not selected for capture")
        if segments < 0:
            raise errors.InvalidCommand("segments must not be negative")
        at = require_utc(occurred_at)
        if self.reported_segments == segments:
            return False
        if self.reported_segments is not None:
            raise errors.MediaConflict(f"capture was already reported with {self.reported_segments} segments")
        missing = [n for n in range(max(segments, max(self.segments, default=-1) + 1)) if n not in self.segments]
        self._capture_reported(segments=segments, missing=missing, occurred_at=at, actor=by.name, role=by.role)
        return True

    @event(CaptureReported)
    def _capture_reported(
        self, segments: int, missing: list[int], occurred_at: datetime, actor: str, role: str
    ) -> None:
        self.reported_segments = segments

    # -- access and curation --------------------------------------------

    def record_playback(self, *, reason_code: str, what: str, occurred_at: datetime, by: Actor) -> None:
        if self.purged:
            raise errors.MediaPurged("the media of this recording was purged")
        self._played(
            reason_code=require_text("reason_code", reason_code),
            what=require_text("what", what),
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(Played)
    def _played(self, reason_code: str, what: str, occurred_at: datetime, actor: str, role: str) -> None:
        pass

    def check_export(self, what: str) -> None:
        if what not in EXPORT_PARTS:
            raise errors.InvalidCommand(f"what must be one of {sorted(EXPORT_PARTS)}")
        if self.purged and what != "events":
            raise errors.MediaPurged("the media of this recording was purged; only its events can be exported")

    def record_export(
        self, *, reason_code: str, what: str, occurred_at: datetime, by: Actor, manifest_sha256: str = ""
    ) -> None:
        self.check_export(what)
        self._exported(
            reason_code=require_text("reason_code", reason_code),
            what=what,
            manifest_sha256=require_sha256(manifest_sha256) if manifest_sha256 else "",
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(Exported)
    def _exported(
        self, reason_code: str, what: str, manifest_sha256: str, occurred_at: datetime, actor: str, role: str
    ) -> None:
        pass

    def annotate(self, *, media_offset_ms: int, text: str, occurred_at: datetime, by: Actor) -> None:
        self._refuse_if_purged()
        if media_offset_ms < 0:
            raise errors.InvalidCommand("media_offset_ms must not be negative")
        self._annotated(
            media_offset_ms=media_offset_ms,
            text=require_text("text", text),
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(Annotated)
    def _annotated(self, media_offset_ms: int, text: str, occurred_at: datetime, actor: str, role: str) -> None:
        pass

    def tag(self, *, key: str, value: str, value_ref: str, occurred_at: datetime, by: Actor) -> bool:
        """Returns False when the tag already has this value."""
        self._refuse_if_purged()
        require_tags({key: value})
        value_ref, at = require_text("value_ref", value_ref), require_utc(occurred_at)
        if self.tags.get(key) == value:
            return False
        self._tagged(key=key, value=value, value_ref=value_ref, occurred_at=at, actor=by.name, role=by.role)
        return True

    @event(Tagged)
    def _tagged(self, key: str, value: str, value_ref: str, occurred_at: datetime, actor: str, role: str) -> None:
        self.tags[key] = value
        self.tag_refs[key] = value_ref

    # -- retention -------------------------------------------------------

    def place_hold(self, *, case_id: str, reason: str, occurred_at: datetime, by: Actor) -> bool:
        """Returns False when this case already holds the recording."""
        self._refuse_if_purged()
        case_id, reason, at = require_id("case_id", case_id), require_text("reason", reason), require_utc(occurred_at)
        if case_id in self.holds:
            return False
        self._hold_placed(case_id=case_id, reason=reason, occurred_at=at, actor=by.name, role=by.role)
        return True

    @event(LegalHoldPlaced)
    def _hold_placed(self, case_id: str, reason: str, occurred_at: datetime, actor: str, role: str) -> None:
        self.holds.add(case_id)

    def release_hold(self, *, case_id: str, reason: str, occurred_at: datetime, by: Actor) -> None:
        self._refuse_if_purged()
        if case_id not in self.holds:
            raise errors.NoSuchHold(f"case {case_id!r} holds no legal hold on this recording")
        self._hold_released(
            case_id=case_id,
            reason=require_text("reason", reason),
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(LegalHoldReleased)
    def _hold_released(self, case_id: str, reason: str, occurred_at: datetime, actor: str, role: str) -> None:
        self.holds.discard(case_id)

    def archive(
        self, *, reason: str, archive_location: str, occurred_at: datetime, by: Actor, held_by: Iterable[str] = ()
    ) -> None:
        """``held_by``: cases whose query holds cover this recording (they live outside it)."""
        self.check_archive(held_by)
        self._archived(
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

    @event(Archived)
    def _archived(self, reason: str, archive_location: str, occurred_at: datetime, actor: str, role: str) -> None:
        self.archived = True

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
        self._purged(
            reason=require_text("reason", reason),
            media_objects=len(self.media),
            media_sha256=sorted(set(self.media.values())),
            keys_destroyed=keys_destroyed,
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(Purged)
    def _purged(
        self,
        reason: str,
        media_objects: int,
        media_sha256: list[str],
        keys_destroyed: list[str],
        occurred_at: datetime,
        actor: str,
        role: str,
    ) -> None:
        self.purged = True
        # The keys are gone, so what this object still holds in clear must go too:
        # a copy cached by any process reads as the store now does.
        self.customer_id = REDACTED
        self.tags = {key: REDACTED for key in self.tags}
        self.snapshot_requests = {
            snapshot_id: (taker, REDACTED, when) for snapshot_id, (taker, _, when) in self.snapshot_requests.items()
        }

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
