"""The recording ledger application: executes the commands of domain/commands.py, answers queries.

A little over our usual module length: it is the one Application, holding the
policy in force, the reads of recordings and their history, and what its
committer needs of the store; the directory and retention parts live beside it.

Persistence is chosen by the environment the adapters hand in (eventsourcing's
infrastructure factories), so this module stays free of any storage detail and
runs in memory in unit tests (given the events' msgspec codec, as tests/unit does:
eventsourcing's default JSON transcoder cannot encode a policy's terms).
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError

from domain import errors
from domain.access_record import AccessRecord
from domain.commands import (
    AcknowledgeEvaluation,
    AddSegment,
    AddSnapshot,
    Annotate,
    Command,
    DisputeEvaluation,
    EndAcw,
    EndCall,
    Pause,
    PlaceHold,
    RecordExport,
    RecordingCommand,
    RecordPlayback,
    RecordTranscript,
    RecordVoice,
    ReleaseHold,
    ReportCapture,
    RequestSnapshot,
    Resume,
    ReviseEvaluation,
    StartCall,
    SubmitEvaluation,
    Tag,
)
from domain.committer import Change, Committer, ConcurrentChange, Create, DirectCommitter, RecordingStore, Work
from domain.directory import DirectoryCommands
from domain.evaluation_form import EvaluationForm, FormNotFound, FormVersion, Question, form_uuid
from domain.recording import Recording, recording_id_for, without_personal
from domain.recording_policy import DEFAULT_TERMS, POLICY_ID, PolicyTerms, RecordingPolicy
from domain.retention import RetentionCommands
from domain.values import Actor, require_tags, require_text

# How stale this process's view of the recording policy may get.
POLICY_REFRESH_SECONDS = 2.0

# Each command against an existing recording, and the Recording method that judges it
# (Tag is not here: the ledger adds the blind index of its value, see _tagger; nor are
# SubmitEvaluation and ReviseEvaluation: the ledger adds the form version they cite, see _evaluator).
RECORDING_METHOD: dict[type[RecordingCommand], Callable[[Recording, Any], Any]] = {
    Pause: Recording.pause,
    Resume: Recording.resume,
    EndCall: Recording.end_call,
    EndAcw: Recording.end_acw,
    Annotate: Recording.annotate,
    PlaceHold: Recording.place_hold,
    ReleaseHold: Recording.release_hold,
    AddSegment: Recording.add_segment,
    RecordVoice: Recording.record_voice,
    AddSnapshot: Recording.add_snapshot,
    RequestSnapshot: Recording.request_snapshot,
    ReportCapture: Recording.report_capture,
    RecordPlayback: Recording.record_playback,
    RecordExport: Recording.record_export,
    RecordTranscript: Recording.record_transcript,
    AcknowledgeEvaluation: Recording.acknowledge_evaluation,
    DisputeEvaluation: Recording.dispute_evaluation,
}


@dataclass(frozen=True, slots=True)
class PolicyHistoryEntry:
    terms: PolicyTerms
    occurred_at: datetime
    actor: str
    role: str
    reason: str


@dataclass(frozen=True, slots=True)
class History:
    """A recording as it stood at some point, with the events that made it so."""

    recording: Recording
    events: list[DomainEventProtocol[UUID]]


def aggregate_kind(event: object) -> str:
    """The aggregate class an event belongs to, by name: "Recording", "User", "AccessRecord" …"""
    return type(event).__qualname__.partition(".")[0]


class RecordingLedger(DirectoryCommands, RetentionCommands, Application[UUID]):
    # The cache spares a read per command; a stale entry only costs a conflict,
    # which the committer answers by evicting it and trying again. The cache only ever
    # holds committed state, shared by every thread: a command changes a copy
    # (Recording.__deepcopy__ is cheap), which replaces the cached one once saved,
    # so no reader ever sees a change that is not (or never will be) committed.
    env = {
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
    }

    # Keyed blind index of personal values, for equality search without the plaintext.
    # Unkeyed here, for in-memory use only: the adapters install the key store's keyed one.
    blind_index: Callable[[str], str] = staticmethod(lambda text: hashlib.sha256(text.encode()).hexdigest())

    def customer_ref_of(self, customer_id: str) -> str:
        return self.blind_index(customer_id)

    def tag_ref(self, key: str, value: str) -> str:
        return self.blind_index(f"tag\x1f{key}\x1f{value}")

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        committer: Callable[[RecordingStore], Committer] = DirectCommitter,
    ) -> None:
        """``committer``: how commands reach the store (adapters.group_commit.GroupCommitter shares transactions)."""
        super().__init__(env)
        self.committer: Committer = committer(self)
        self._policy: tuple[int, PolicyTerms, float] = (0, DEFAULT_TERMS, float("-inf"))
        self._policy_terms: dict[int, PolicyTerms] = {}
        self._logged: dict[str, int] = {}
        self._logged_guard = threading.Lock()

    # -- commands --------------------------------------------------------

    def execute(self, command: Command) -> Any:
        """Applies one command: a start answers the recording's id (idempotent: starting
        the same interaction again with the same details is a no-op), the others what
        their Recording method answers (False for a retry); a refusal is raised."""
        return self.committer.commit(self._work_of(command))

    def execute_all(self, commands: Sequence[Command]) -> list[Any]:
        """Each command on its own, in order: its result, or the domain error that refused it
        (with group commit, they share transactions)."""
        return self.committer.commit_all([self._work_of(command) for command in commands])

    def _work_of(self, command: Command) -> Work:
        if isinstance(command, StartCall):
            return Create(self._builder(command))
        if isinstance(command, Tag):
            return Change(command.recording_id, self._tagger(command))
        if isinstance(command, SubmitEvaluation | ReviseEvaluation):
            return Change(command.recording_id, self._evaluator(command))
        try:
            method = RECORDING_METHOD[type(command)]
        except KeyError:
            raise TypeError(f"the ledger has no handler for {type(command).__name__}") from None
        return Change(command.recording_id, lambda recording: method(recording, command))

    def _builder(self, start: StartCall) -> Callable[[], Recording]:
        """Builds a recording under the policy in force: it cites the version and is sampled by it,
        and carries the blind indexes of its customer and tags (checked before they are indexed)."""
        version, terms = self.current_policy()

        def build() -> Recording:
            customer_id = require_text("customer_id", start.customer_id)
            tags = require_tags(start.tags)
            return Recording.start(
                start,
                policy_version=version,
                screen_selected=terms.selects_screen(start.interaction_id, start.queue),
                customer_ref=self.customer_ref_of(customer_id),
                tag_refs={key: self.tag_ref(key, value) for key, value in tags.items()},
            )

        return build

    def _tagger(self, tag: Tag) -> Callable[[Recording], bool]:
        """The tag command, with the blind index of the value that its event carries."""

        def apply(recording: Recording) -> bool:
            require_tags({tag.key: tag.value})  # before it is indexed
            return recording.tag(tag, self.tag_ref(tag.key, tag.value))

        return apply

    def _evaluator(self, command: SubmitEvaluation | ReviseEvaluation) -> Callable[[Recording], bool]:
        """The evaluation command, with the form version it cites (read here, in the caller's
        thread, not in a group committer's writer; a version never changes once published)."""
        form = self.form_version(command.form_id, command.form_version)
        if isinstance(command, SubmitEvaluation):
            return lambda recording: recording.submit_evaluation(command, form)
        return lambda recording: recording.revise_evaluation(command, form)

    def publish_form(
        self, *, form_id: str, title: str, questions: Sequence[Question], occurred_at: datetime, by: Actor
    ) -> tuple[int, bool]:
        """A new version of the form (the first creates it); answers the latest version and
        whether this publish added it (False: the latest already says exactly this)."""
        try:
            form = self.get_form(form_id)
        except FormNotFound:
            form = EvaluationForm.first(
                form_id=form_id, title=title, questions=questions, occurred_at=occurred_at, by=by
            )
            added = True
        else:
            added = form.publish(title=title, questions=questions, occurred_at=occurred_at, by=by)
        try:
            self.save(form)
        except IntegrityError:
            self.forget(form.id)
            raise ConcurrentChange(f"form {form_id!r} was published at the same moment; try again") from None
        return form.latest.version, added

    def set_policy(self, *, terms: PolicyTerms, reason: str, occurred_at: datetime, by: Actor) -> int:
        """A new policy version (or, for terms already in force, the current one); returns the version."""
        try:
            policy: RecordingPolicy = self.repository.get(POLICY_ID)
        except AggregateNotFoundError:
            policy = RecordingPolicy.first(terms=terms, reason=reason, occurred_at=occurred_at, by=by)
        else:
            policy.change(terms=terms, reason=reason, occurred_at=occurred_at, by=by)
        try:
            self.save(policy)
        except IntegrityError:
            self.forget(POLICY_ID)
            raise ConcurrentChange("the policy was changed at the same moment; read it and try again") from None
        self._policy = (policy.version, policy.terms, time.monotonic())
        return policy.version

    # -- queries ---------------------------------------------------------

    def current_policy(self) -> tuple[int, PolicyTerms]:
        """The version in force (0: the defaults), re-read at most every POLICY_REFRESH_SECONDS,
        so a change made by another process takes effect here within that time."""
        version, terms, read_at = self._policy
        if time.monotonic() - read_at > POLICY_REFRESH_SECONDS:
            self.forget(POLICY_ID)
            try:
                policy: RecordingPolicy = self.repository.get(POLICY_ID)
                version, terms = policy.version, policy.terms
            except AggregateNotFoundError:
                version, terms = 0, DEFAULT_TERMS
            self._policy = (version, terms, time.monotonic())
        return version, terms

    def policy_terms(self, version: int) -> PolicyTerms:
        """The terms a recording cites (0: the defaults); a version never changes once written."""
        if version == 0:
            return DEFAULT_TERMS
        if version not in self._policy_terms:
            self._policy_terms = {n: v.terms for n, v in self.policy_versions().items()}
        try:
            return self._policy_terms[version]
        except KeyError:
            raise errors.PolicyNotFound(f"no recording policy version {version}") from None

    def policy_versions(self) -> dict[int, PolicyHistoryEntry]:
        """Every version ever in force, with when, by whom and why."""
        versions: Iterable[Any] = self.events.get(POLICY_ID)  # RecordingPolicy's events
        return {
            e.originator_version: PolicyHistoryEntry(e.terms, e.occurred_at, e.actor, e.role, e.reason)
            for e in versions
        }

    @staticmethod
    def recording_id(interaction_id: str) -> UUID:
        return recording_id_for(interaction_id)

    def get_recording(self, recording_id: UUID) -> Recording:
        """The recording as committed, for reading only (other threads share the object).

        Brought up to the log on every read, so what another process wrote shows at
        once: above all a purge, after which no copy anywhere shows personal fields.
        """
        try:
            recording: Recording = self.repository.get(recording_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            raise errors.RecordingNotFound(f"no recording {recording_id}") from None
        newer: Iterable[Any] = self.events.get(recording_id, gt=recording.version)
        fresh: Recording | None = None
        for domain_event in newer:
            fresh = domain_event.mutate(fresh or copy.deepcopy(recording))
        return fresh or recording

    def get_form(self, form_id: str) -> EvaluationForm:
        """The form with every version published so far, by any process (a copy: the caller may change it)."""
        try:
            form: EvaluationForm = self.repository.get(form_uuid(form_id))
        except AggregateNotFoundError:
            raise FormNotFound(f"no evaluation form {form_id!r}") from None
        newer: Iterable[Any] = self.events.get(form.id, gt=form.version)
        for domain_event in newer:
            domain_event.mutate(form)
        return form

    def form_version(self, form_id: str, version: int | None = None) -> FormVersion:
        """One version of a form (None: the latest)."""
        return self.get_form(form_id).version_of(version)

    def agent_of(self, recording_id: UUID) -> str:
        """Whose call it is, for access checks: fixed when the call starts, so the cached
        object answers without the read that get_recording() makes."""
        try:
            return self.repository.get(recording_id, deepcopy_from_cache=False).agent_id
        except AggregateNotFoundError:
            raise errors.RecordingNotFound(f"no recording {recording_id}") from None

    def working_copy(self, recording_id: UUID) -> Recording:
        """The recording for a command to change: a copy of the committed state."""
        try:
            return self.repository.get(recording_id)
        except AggregateNotFoundError:
            raise errors.RecordingNotFound(f"no recording {recording_id}") from None

    def history(self, recording_id: UUID, *, as_of: datetime | None = None, version: int | None = None) -> History:
        """The recording replayed from its events up to a stored time and/or version.

        Once the recording is purged, every version of it reads as purged data does
        (whatever this process's key cache still holds), the events before the purge too.
        """
        stored: list[Any] = list(self.events.get(recording_id))
        events = [
            e
            for e in stored
            if (version is None or e.originator_version <= version) and (as_of is None or e.timestamp <= as_of)
        ]
        if not events:
            raise errors.RecordingNotFound(f"no recording {recording_id} at that point in its history")
        if any(isinstance(e, Recording.Purged) for e in stored):
            events = [without_personal(e) for e in events]
        recording: Any = None
        for domain_event in events:
            recording = domain_event.mutate(recording)
        return History(recording=recording, events=events)

    # -- what the committer needs (RecordingStore) --------------------------

    def cached(self, recording_id: UUID) -> Recording | None:
        """The committed recording if this process holds it, without a read (None if not)."""
        try:
            cached = self.repository.cache.get(recording_id) if self.repository.cache is not None else None
        except KeyError:
            return None
        return cached if isinstance(cached, Recording) else None

    # -- what this process wrote, for read-your-writes ----------------------

    def _record(self, processing_event: Any) -> Any:
        recordings = super()._record(processing_event)
        self._uncache_written_once(processing_event.aggregates)
        with self._logged_guard:
            for recording in recordings:
                kind = aggregate_kind(recording.domain_event)
                self._logged[kind] = max(self._logged.get(kind, 0), recording.notification.id)
        return recordings

    def _uncache_written_once(self, aggregates: Mapping[UUID, Any]) -> None:
        """An access record is never commanded again: kept in the aggregate cache (every search
        saves one) it only pushed recordings out, and gave each full garbage collection its 50
        recording ids and more to walk."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id, aggregate in aggregates.items():
            if isinstance(aggregate, AccessRecord):
                with suppress(KeyError):
                    cache.get(aggregate_id, evict=True)

    def logged_up_to(self, kinds: Iterable[str] | None = None) -> int:
        """The log position of the last event of these aggregates (``aggregate_kind``; None: of
        any) that this process stored: a view that reached it shows all this process wrote of them."""
        with self._logged_guard:
            logged = dict(self._logged)
        return max((logged.get(kind, 0) for kind in (logged if kinds is None else kinds)), default=0)

    def close(self) -> None:
        self.committer.close()  # first: a group committer's writer still stores what it holds
        super().close()

    def forget(self, recording_id: UUID) -> None:
        """Drops a cached recording, so the next command reads it from the log."""
        if self.repository.cache is not None:
            with suppress(KeyError):
                self.repository.cache.get(recording_id, evict=True)
