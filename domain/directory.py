"""Commands and queries on users, teams and access records, mixed into the ledger."""

from __future__ import annotations

import hashlib
import secrets
from abc import abstractmethod
from concurrent.futures import Future
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain import errors
from domain.access_record import AccessRecord, Outcome
from domain.committer import Committer, Record
from domain.identity import Team, User, team_id_for, user_id_for
from domain.values import Actor


def token_digest(token: str) -> str:
    """Only this is stored: bearer tokens are random, so a fast hash suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    token = "cv_" + secrets.token_urlsafe(32)
    return token, token_digest(token)


class DirectoryCommands(Application[UUID]):
    """Part of the ledger (RecordingLedger mixes it in): the Application gives save() and the repository."""

    if TYPE_CHECKING:
        committer: Committer  # the ledger's

        @abstractmethod
        def forget(self, aggregate_id: UUID) -> None:
            """The ledger's: drops a cached aggregate, so the next read takes it from the log."""

    def _store(self, aggregate: User | Team) -> None:
        try:
            self.save(aggregate)
        except BaseException:
            self.forget(aggregate.id)  # cached object holds unsaved changes
            raise

    def register_user(
        self, *, name: str, role: str, team: str | None, occurred_at: datetime, by: Actor
    ) -> tuple[UUID, str]:
        """Returns the user's id and bearer token; the token is never stored or shown again."""
        team_id = self.get_team(team).id if team else None
        token, digest = new_token()
        user = User.register(
            name=name, user_role=role, team_id=team_id, token_sha256=digest, occurred_at=occurred_at, by=by
        )
        try:
            self.save(user)
        except IntegrityError:
            raise errors.StateConflict(f"a user named {name!r} already exists") from None
        return user.id, token

    def issue_token(self, name: str, *, occurred_at: datetime, by: Actor) -> str:
        user = self.get_user(name)
        token, digest = new_token()
        user.issue_token(token_sha256=digest, occurred_at=occurred_at, by=by)
        self._store(user)
        return token

    def move_user(self, name: str, *, team: str | None, occurred_at: datetime, by: Actor) -> None:
        user = self.get_user(name)
        user.move_to_team(team_id=self.get_team(team).id if team else None, occurred_at=occurred_at, by=by)
        self._store(user)

    def deactivate_user(self, name: str, *, reason: str, occurred_at: datetime, by: Actor) -> None:
        user = self.get_user(name)
        user.deactivate(reason=reason, occurred_at=occurred_at, by=by)
        self._store(user)

    def create_team(self, *, name: str, parent: str | None, occurred_at: datetime, by: Actor) -> UUID:
        parent_id = self.get_team(parent).id if parent else None
        team = Team.create(name=name, parent_id=parent_id, occurred_at=occurred_at, by=by)
        try:
            self.save(team)
        except IntegrityError:
            raise errors.StateConflict(f"a team named {name!r} already exists") from None
        return team.id

    def make_responsible(self, team: str, *, user: str, occurred_at: datetime, by: Actor) -> bool:
        found = self.get_team(team)
        changed = found.assign(self.get_user(user), occurred_at=occurred_at, by=by)
        self._store(found)
        return changed

    def make_unresponsible(self, team: str, *, user: str, occurred_at: datetime, by: Actor) -> None:
        found = self.get_team(team)
        found.unassign(self.get_user(user), occurred_at=occurred_at, by=by)
        self._store(found)

    def record_access(
        self,
        *,
        action: str,
        outcome: Outcome,
        recording_ids: list[UUID],
        reason_code: str = "",
        detail: dict[str, str] | None = None,
        occurred_at: datetime,
        by: Actor,
    ) -> Future[UUID]:
        """The access, recorded once the future is done (its result: the record's id).

        A reader may do its other work meanwhile, but answers only after the future
        is done: no access goes unrecorded."""
        record = AccessRecord.record(
            action=action,
            outcome=outcome,
            recording_ids=recording_ids,
            reason_code=reason_code,
            detail=detail or {},
            occurred_at=occurred_at,
            by=by,
        )
        # Through the committer: a server's reads record their accesses in the same group
        # commits as the writes, instead of a transaction of their own each.
        return self.committer.submit(Record(record))

    def get_user(self, name: str) -> User:
        try:
            return self.repository.get(user_id_for(name))
        except AggregateNotFoundError:
            raise errors.NotFound(f"no user named {name!r}") from None

    def get_team(self, name: str) -> Team:
        try:
            return self.repository.get(team_id_for(name))
        except AggregateNotFoundError:
            raise errors.NotFound(f"no team named {name!r}") from None
