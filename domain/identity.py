"""Users, their roles and the team tree, kept as events so that who-could-see-what is itself auditable.

Users act in one role; agents belong to a team; teams form a tree, and a
supervisor or quality manager of a team is responsible for every agent in that
team and in all teams below it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import errors
from domain.values import Actor, require_text, require_utc

USER_NAMESPACE = UUID("0b6f2a4e-8d1c-4f57-9a3e-2c5d7e9f1a24")
TEAM_NAMESPACE = UUID("7c1e5b3a-2f4d-4a6b-8e9c-1d3f5a7b9c02")


class Role(StrEnum):
    AGENT = "agent"
    TELEPHONY = "telephony"
    SUPERVISOR = "supervisor"
    QUALITY = "quality"
    LEGAL = "legal"
    AUDITOR = "auditor"
    ADMIN = "admin"


# Roles that can be made responsible for teams.
RESPONSIBLE_ROLES = frozenset({Role.SUPERVISOR, Role.QUALITY})


def user_id_for(name: str) -> UUID:
    return uuid5(USER_NAMESPACE, name)


def team_id_for(name: str) -> UUID:
    return uuid5(TEAM_NAMESPACE, name)


def require_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise errors.InvalidCommand(f"role must be one of {', '.join(r.value for r in Role)}") from None


class User(Aggregate):
    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str
        role: str  # the actor's role, as on every event
        name: str  # the user's, so the audit trail reads without joins

    class Registered(Event, Aggregate.Created):
        user_role: str
        team_id: UUID | None
        token_sha256: str

    class TokenIssued(Event):
        token_sha256: str

    class TeamChanged(Event):
        team_id: UUID | None

    class Deactivated(Event):
        reason: str

    @staticmethod
    def create_id(name: str, **_: object) -> UUID:
        return user_id_for(name)

    @classmethod
    def register(
        cls, *, name: str, user_role: str, team_id: UUID | None, token_sha256: str, occurred_at: datetime, by: Actor
    ) -> User:
        role = require_role(user_role)
        if role is Role.AGENT and team_id is None:
            raise errors.InvalidCommand("an agent must belong to a team")
        return cls(
            name=require_text("name", name),
            user_role=role.value,
            team_id=team_id,
            token_sha256=token_sha256,
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(Registered)
    def __init__(
        self,
        name: str,
        user_role: str,
        team_id: UUID | None,
        token_sha256: str,
        occurred_at: datetime,
        actor: str,
        role: str,
    ) -> None:
        self.name = name
        self.user_role = Role(user_role)
        self.team_id = team_id
        self.token_sha256 = token_sha256
        self.active = True

    def issue_token(self, *, token_sha256: str, occurred_at: datetime, by: Actor) -> None:
        self._require_active()
        self._token_issued(
            token_sha256=token_sha256, occurred_at=require_utc(occurred_at), actor=by.name, role=by.role, name=self.name
        )

    @event(TokenIssued)
    def _token_issued(self, token_sha256: str, occurred_at: datetime, actor: str, role: str, name: str) -> None:
        self.token_sha256 = token_sha256

    def move_to_team(self, *, team_id: UUID | None, occurred_at: datetime, by: Actor) -> None:
        self._require_active()
        if self.user_role is Role.AGENT and team_id is None:
            raise errors.InvalidCommand("an agent must belong to a team")
        self._team_changed(
            team_id=team_id, occurred_at=require_utc(occurred_at), actor=by.name, role=by.role, name=self.name
        )

    @event(TeamChanged)
    def _team_changed(self, team_id: UUID | None, occurred_at: datetime, actor: str, role: str, name: str) -> None:
        self.team_id = team_id

    def deactivate(self, *, reason: str, occurred_at: datetime, by: Actor) -> None:
        self._require_active()
        self._deactivated(
            reason=require_text("reason", reason),
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
            name=self.name,
        )

    @event(Deactivated)
    def _deactivated(self, reason: str, occurred_at: datetime, actor: str, role: str, name: str) -> None:
        self.active = False

    def _require_active(self) -> None:
        if not self.active:
            raise errors.StateConflict(f"user {self.name!r} is deactivated")


class Team(Aggregate):
    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str
        role: str
        name: str  # the team's

    class Created(Event, Aggregate.Created):
        parent_id: UUID | None

    class SupervisorAssigned(Event):
        user_id: UUID
        user_name: str

    class SupervisorRemoved(Event):
        user_id: UUID
        user_name: str

    @staticmethod
    def create_id(name: str, **_: object) -> UUID:
        return team_id_for(name)

    @classmethod
    def create(cls, *, name: str, parent_id: UUID | None, occurred_at: datetime, by: Actor) -> Team:
        return cls(
            name=require_text("name", name),
            parent_id=parent_id,
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
        )

    @event(Created)
    def __init__(self, name: str, parent_id: UUID | None, occurred_at: datetime, actor: str, role: str) -> None:
        self.name = name
        self.parent_id = parent_id
        self.supervisors: set[UUID] = set()

    def assign(self, supervisor: User, *, occurred_at: datetime, by: Actor) -> bool:
        """Makes a supervisor or quality manager responsible for this team and those below it."""
        if supervisor.user_role not in RESPONSIBLE_ROLES:
            raise errors.InvalidCommand(
                f"only {' or '.join(sorted(RESPONSIBLE_ROLES))} users can be responsible for a team"
            )
        if supervisor.id in self.supervisors:
            return False
        self._assigned(
            user_id=supervisor.id,
            user_name=supervisor.name,
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
            name=self.name,
        )
        return True

    @event(SupervisorAssigned)
    def _assigned(self, user_id: UUID, user_name: str, occurred_at: datetime, actor: str, role: str, name: str) -> None:
        self.supervisors.add(user_id)

    def unassign(self, supervisor: User, *, occurred_at: datetime, by: Actor) -> None:
        if supervisor.id not in self.supervisors:
            raise errors.StateConflict(f"{supervisor.name!r} is not responsible for team {self.name!r}")
        self._removed(
            user_id=supervisor.id,
            user_name=supervisor.name,
            occurred_at=require_utc(occurred_at),
            actor=by.name,
            role=by.role,
            name=self.name,
        )

    @event(SupervisorRemoved)
    def _removed(self, user_id: UUID, user_name: str, occurred_at: datetime, actor: str, role: str, name: str) -> None:
        self.supervisors.discard(user_id)
