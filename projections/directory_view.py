"""Folds user and team events into the ``users``, ``teams`` and ``responsibilities``
tables that authentication and scoping read."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import msgspec

from adapters.view_rows import ResponsibilityRow, TeamRow, UserRow, ViewRow
from adapters.view_store import ViewStore
from domain.identity import Team, User
from projections.follower import LoggedEvent


class DirectoryView:
    name = "directory"
    fold_cost = 1.0

    def apply(self, store: ViewStore, batch: Sequence[LoggedEvent], previous: int, position: int) -> None:
        events = [
            e.event for e in batch if issubclass(e.event_class, (User.Event, Team.Event))
        ]  # no decoding of others
        users = store.load(UserRow, {e.originator_id for e in events if isinstance(e, User.Event)})
        teams = store.load(TeamRow, {e.originator_id for e in events if isinstance(e, Team.Event)})
        responsibilities: dict[tuple[UUID, UUID], ResponsibilityRow] = {}
        for event in events:
            match event:
                case User.Registered():
                    users[event.originator_id] = UserRow(
                        user_id=event.originator_id,
                        name=event.name,
                        role=event.user_role,
                        team_id=event.team_id,
                        token_sha256=event.token_sha256,
                        active=True,
                        version=event.originator_version,
                    )
                case User.TokenIssued(token_sha256=digest):
                    users[event.originator_id] = _next(users[event.originator_id], event, token_sha256=digest)
                case User.TeamChanged(team_id=team_id):
                    users[event.originator_id] = _next(users[event.originator_id], event, team_id=team_id)
                case User.Deactivated():
                    users[event.originator_id] = _next(users[event.originator_id], event, active=False)
                case Team.Created(parent_id=parent_id):
                    teams[event.originator_id] = TeamRow(
                        team_id=event.originator_id,
                        name=event.name,
                        parent_id=parent_id,
                        version=event.originator_version,
                    )
                case Team.SupervisorAssigned(user_id=user_id) | Team.SupervisorRemoved(user_id=user_id):
                    active = isinstance(event, Team.SupervisorAssigned)
                    key = (event.originator_id, user_id)
                    responsibilities[key] = ResponsibilityRow(team_id=key[0], user_id=user_id, active=active)
        changed: list[ViewRow] = [*users.values(), *teams.values(), *responsibilities.values()]
        # Servers keep the org chart whole and re-read it only when a batch changed it.
        store.commit(self.name, previous, position, upserts=changed, marks_change=True)


def _next(row: UserRow, event: User.Event, **changes: object) -> UserRow:
    return msgspec.structs.replace(row, version=event.originator_version, **changes)
