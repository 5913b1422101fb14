"""The recording ledger application: one method per command or query.

Persistence is chosen by the environment the adapters hand in (eventsourcing's
infrastructure factories), so this module stays free of any storage detail and
runs in memory in unit tests.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import Any, TypeVar
from uuid import UUID
from weakref import WeakValueDictionary

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError

from domain import errors
from domain.commands import Change, Start
from domain.directory import DirectoryCommands
from domain.recording import Recording, recording_id_for, without_personal
from domain.recording_policy import DEFAULT_TERMS, POLICY_ID, PolicyTerms, RecordingPolicy
from domain.retention import RetentionCommands
from domain.values import Actor, require_tags, require_text

T = TypeVar("T")

# How stale this process's view of the recording policy may get.
POLICY_REFRESH_SECONDS = 2.0

# Attempts before a command that keeps meeting concurrent writers gives up.
CONFLICT_ATTEMPTS = 8


class ConcurrentChange(errors.StateConflict):
    """Other writers kept changing the recording; the command was not applied."""


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


class RecordingLedger(DirectoryCommands, RetentionCommands, Application[UUID]):
    # The cache spares a read per command; a stale entry only costs a conflict,
    # which _change() answers by evicting it and trying again. The cache only ever
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

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self._locks: WeakValueDictionary[UUID, Lock] = WeakValueDictionary()
        self._locks_guard = Lock()
        self._policy: tuple[int, PolicyTerms, float] = (0, DEFAULT_TERMS, float("-inf"))
        self._policy_terms: dict[int, PolicyTerms] = {}

    # -- commands --------------------------------------------------------

    def start_call(
        self,
        *,
        interaction_id: str,
        agent_id: str,
        customer_id: str,
        queue: str,
        direction: str,
        tags: dict[str, str],
        occurred_at: datetime,
        by: Actor,
    ) -> UUID:
        """Idempotent: starting the same interaction again with the same details is a no-op."""
        return self._create(
            self.starter(
                interaction_id=interaction_id,
                agent_id=agent_id,
                customer_id=customer_id,
                queue=queue,
                direction=direction,
                tags=tags,
                occurred_at=occurred_at,
                by=by,
            )
        )

    def starter(self, *, interaction_id: str, queue: str, **call: Any) -> Callable[[], Recording]:
        """Builds a recording under the policy in force: it cites the version and is sampled by it,
        and carries the blind indexes of its customer and tags (checked before they are indexed)."""
        version, terms = self.current_policy()

        def build() -> Recording:
            customer_id = require_text("customer_id", call["customer_id"])
            tags = require_tags(call["tags"])
            return Recording.start(
                interaction_id=interaction_id,
                queue=queue,
                **call,
                policy_version=version,
                screen_selected=terms.selects_screen(interaction_id, queue),
                customer_ref=self.customer_ref_of(customer_id),
                tag_refs={key: self.tag_ref(key, value) for key, value in tags.items()},
            )

        return build

    def set_policy(self, *, terms: PolicyTerms, reason: str, occurred_at: datetime, by: Actor) -> int:
        """A new policy version (or, for terms already in force, the current one); returns the version."""
        try:
            policy = self.repository.get(POLICY_ID)
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

    def add_segment(self, recording_id: UUID, **segment: Any) -> bool:
        return self._change(recording_id, lambda r: r.add_segment(**segment))

    def record_voice(self, recording_id: UUID, **voice: Any) -> bool:
        return self._change(recording_id, lambda r: r.record_voice(**voice))

    def request_snapshot(self, recording_id: UUID, **request: Any) -> bool:
        return self._change(recording_id, lambda r: r.request_snapshot(**request))

    def add_snapshot(self, recording_id: UUID, **snapshot: Any) -> bool:
        return self._change(recording_id, lambda r: r.add_snapshot(**snapshot))

    def report_capture(self, recording_id: UUID, **report: Any) -> bool:
        return self._change(recording_id, lambda r: r.report_capture(**report))

    def pause(self, recording_id: UUID, *, reason: str, occurred_at: datetime, by: Actor) -> bool:
        return self._change(recording_id, lambda r: r.pause(reason=reason, occurred_at=occurred_at, by=by))

    def resume(self, recording_id: UUID, *, reason: str, occurred_at: datetime, by: Actor) -> bool:
        return self._change(recording_id, lambda r: r.resume(reason=reason, occurred_at=occurred_at, by=by))

    def end_call(self, recording_id: UUID, *, reason: str, occurred_at: datetime, by: Actor) -> bool:
        return self._change(recording_id, lambda r: r.end_call(reason=reason, occurred_at=occurred_at, by=by))

    def end_acw(self, recording_id: UUID, *, reason: str, occurred_at: datetime, by: Actor) -> bool:
        return self._change(recording_id, lambda r: r.end_acw(reason=reason, occurred_at=occurred_at, by=by))

    def tag(self, recording_id: UUID, *, key: str, value: str, occurred_at: datetime, by: Actor) -> bool:
        return self._change(recording_id, self.tagger(key=key, value=value, occurred_at=occurred_at, by=by))

    def tagger(self, *, key: str, value: str, **when: Any) -> Callable[[Recording], bool]:
        """The tag command, with the blind index of the value that its event carries."""

        def tag(recording: Recording) -> bool:
            require_tags({key: value})  # before it is indexed
            return recording.tag(key=key, value=value, value_ref=self.tag_ref(key, value), **when)

        return tag

    def annotate(
        self, recording_id: UUID, *, media_offset_ms: int, text: str, occurred_at: datetime, by: Actor
    ) -> None:
        self._change(
            recording_id,
            lambda r: r.annotate(media_offset_ms=media_offset_ms, text=text, occurred_at=occurred_at, by=by),
        )

    def record_playback(
        self, recording_id: UUID, *, reason_code: str, what: str, occurred_at: datetime, by: Actor
    ) -> None:
        self._change(
            recording_id,
            lambda r: r.record_playback(reason_code=reason_code, what=what, occurred_at=occurred_at, by=by),
        )

    def record_export(
        self,
        recording_id: UUID,
        *,
        reason_code: str,
        what: str,
        occurred_at: datetime,
        by: Actor,
        manifest_sha256: str = "",
    ) -> None:
        self._change(
            recording_id,
            lambda r: r.record_export(
                reason_code=reason_code, what=what, occurred_at=occurred_at, by=by, manifest_sha256=manifest_sha256
            ),
        )

    def place_hold(self, recording_id: UUID, *, case_id: str, reason: str, occurred_at: datetime, by: Actor) -> bool:
        return self._change(
            recording_id, lambda r: r.place_hold(case_id=case_id, reason=reason, occurred_at=occurred_at, by=by)
        )

    def release_hold(self, recording_id: UUID, *, case_id: str, reason: str, occurred_at: datetime, by: Actor) -> None:
        self._change(
            recording_id, lambda r: r.release_hold(case_id=case_id, reason=reason, occurred_at=occurred_at, by=by)
        )

    def run_all(self, commands: Sequence[Start | Change]) -> list[Any]:
        """Each command on its own, in order: its result, or the domain error that refused it."""
        outcomes: list[Any] = []
        for command in commands:
            try:
                if isinstance(command, Start):
                    outcomes.append(self._create(command.build))
                else:
                    outcomes.append(self._change(command.recording_id, command.apply))
            except errors.DomainError as refusal:
                outcomes.append(refusal)
        return outcomes

    # -- queries ---------------------------------------------------------

    def current_policy(self) -> tuple[int, PolicyTerms]:
        """The version in force (0: the defaults), re-read at most every POLICY_REFRESH_SECONDS,
        so a change made by another process takes effect here within that time."""
        version, terms, read_at = self._policy
        if time.monotonic() - read_at > POLICY_REFRESH_SECONDS:
            self.forget(POLICY_ID)
            try:
                policy = self.repository.get(POLICY_ID)
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
        return {
            e.originator_version: PolicyHistoryEntry(e.terms, e.occurred_at, e.actor, e.role, e.reason)
            for e in self.events.get(POLICY_ID)
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
            recording = self.repository.get(recording_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            raise errors.RecordingNotFound(f"no recording {recording_id}") from None
        newer = self.events.get(recording_id, gt=recording.version)
        fresh = None
        for domain_event in newer:
            fresh = domain_event.mutate(fresh or copy.deepcopy(recording))
        return fresh or recording

    def agent_of(self, recording_id: UUID) -> str:
        """Whose call it is, for access checks: fixed when the call starts, so the cached
        object answers without the read that get_recording() makes."""
        try:
            return self.repository.get(recording_id, deepcopy_from_cache=False).agent_id
        except AggregateNotFoundError:
            raise errors.RecordingNotFound(f"no recording {recording_id}") from None

    def _working_copy(self, recording_id: UUID) -> Recording:
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
        stored = list(self.events.get(recording_id))
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

    # -- the places that load, change and save ----------------------------

    def _create(self, start: Callable[[], Recording]) -> UUID:
        """``start`` builds the new recording; it may be called again to retry."""
        recording = start()
        try:
            self.save(recording)
        except IntegrityError:
            self.check_restart(self.get_recording(recording.id), recording)
        return recording.id

    @staticmethod
    def check_restart(existing: Recording, again: Recording) -> None:
        """A repeated start is a no-op only if it names the same call."""
        if not existing.matches_start(again.interaction_id, again.agent_id, again.customer_id, again.queue):
            raise errors.RecordingAlreadyStarted(
                f"interaction {again.interaction_id!r} was already started with other details"
            )

    def _change(self, recording_id: UUID, command: Callable[[Recording], T]) -> T:
        """Runs a command against the latest state, retrying on a concurrent write.

        Commands are pure functions of the recording's state, so re-running one on
        fresher state is safe: it either applies or raises the rule it now breaks.
        """
        with self._lock_for(recording_id):
            for _ in range(CONFLICT_ATTEMPTS):
                recording = self._working_copy(recording_id)
                try:
                    result = command(recording)
                    self.save(recording)
                except IntegrityError:
                    self.forget(recording_id)  # another process wrote first
                    continue
                return result
        raise ConcurrentChange(f"recording {recording_id} kept changing; try again")

    def _lock_for(self, recording_id: UUID) -> Lock:
        with self._locks_guard:
            lock = self._locks.get(recording_id)
            if lock is None:
                lock = self._locks[recording_id] = Lock()
            return lock

    def forget(self, recording_id: UUID) -> None:
        """Drops a cached recording, so the next command reads it from the log."""
        if self.repository.cache is not None:
            with suppress(KeyError):
                self.repository.cache.get(recording_id, evict=True)
