"""Users, teams and who answers for which team: managed by admins only."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody

from api.http.context import Caller, Services
from api.http.schemas import (
    Applied,
    Deactivation,
    NewTeam,
    NewToken,
    NewUser,
    Responsibility,
    TeamOut,
    UserOut,
    UserTeam,
)
from api.services.access import actor, allow
from domain.permissions import Action


class Directory(Controller):
    tags = ["directory"]

    @post("/v1/users", status_code=201, sync_to_thread=True, summary="Create a user; the token is shown once")
    def add_user(self, data: JSONBody[NewUser], principal: Caller, runtime: Services) -> NewToken:
        allow(runtime, principal, Action.MANAGE_DIRECTORY)
        user_id, token = runtime.ledger.register_user(
            name=data.name, role=data.role, team=data.team, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        runtime.directory_changed()
        return NewToken(user_id=user_id, name=data.name, role=data.role, token=token)

    @get("/v1/users", sync_to_thread=True)
    def users(self, principal: Caller, runtime: Services) -> list[UserOut]:
        allow(runtime, principal, Action.MANAGE_DIRECTORY)
        users, teams, _ = runtime.views.directory()
        team_names = {t.team_id: t.name for t in teams}
        return [
            UserOut(
                user_id=u.user_id,
                name=u.name,
                role=u.role,
                team=team_names.get(u.team_id) if u.team_id else None,
                active=u.active,
            )
            for u in users
        ]

    @post(
        "/v1/users/{name:str}/token",
        status_code=201,
        sync_to_thread=True,
        summary="Issue a new token; the old one stops working",
    )
    def new_token(self, name: FromPath[str], principal: Caller, runtime: Services) -> NewToken:
        allow(runtime, principal, Action.MANAGE_DIRECTORY)
        token = runtime.ledger.issue_token(name, occurred_at=datetime.now(UTC), by=actor(principal))
        user = runtime.ledger.get_user(name)
        runtime.directory_changed()
        return NewToken(user_id=user.id, name=name, role=user.user_role.value, token=token)

    @put("/v1/users/{name:str}/team", sync_to_thread=True)
    def move_user(self, name: FromPath[str], data: JSONBody[UserTeam], principal: Caller, runtime: Services) -> Applied:
        allow(runtime, principal, Action.MANAGE_DIRECTORY)
        runtime.ledger.move_user(name, team=data.team, occurred_at=datetime.now(UTC), by=actor(principal))
        runtime.directory_changed()
        return Applied(True)

    @post("/v1/users/{name:str}/deactivate", status_code=200, sync_to_thread=True)
    def deactivate(
        self, name: FromPath[str], data: JSONBody[Deactivation], principal: Caller, runtime: Services
    ) -> Applied:
        allow(runtime, principal, Action.MANAGE_DIRECTORY)
        runtime.ledger.deactivate_user(name, reason=data.reason, occurred_at=datetime.now(UTC), by=actor(principal))
        runtime.directory_changed()
        return Applied(True)

    @post("/v1/teams", status_code=201, sync_to_thread=True)
    def add_team(self, data: JSONBody[NewTeam], principal: Caller, runtime: Services) -> TeamOut:
        allow(runtime, principal, Action.MANAGE_DIRECTORY)
        team_id = runtime.ledger.create_team(
            name=data.name, parent=data.parent, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        runtime.directory_changed()
        return TeamOut(team_id=team_id, name=data.name, parent=data.parent, responsible=[])

    @get("/v1/teams", sync_to_thread=True)
    def teams(self, principal: Caller, runtime: Services) -> list[TeamOut]:
        allow(runtime, principal, Action.MANAGE_DIRECTORY)
        users, teams, responsibilities = runtime.views.directory()
        names = {t.team_id: t.name for t in teams}
        user_names = {u.user_id: u.name for u in users}
        return [
            TeamOut(
                team_id=t.team_id,
                name=t.name,
                parent=names.get(t.parent_id) if t.parent_id else None,
                responsible=sorted(user_names[r.user_id] for r in responsibilities if r.team_id == t.team_id),
            )
            for t in teams
        ]

    @post(
        "/v1/teams/{name:str}/responsible",
        status_code=200,
        sync_to_thread=True,
        summary="Make a supervisor or quality manager answer for this team and those below it",
    )
    def make_responsible(
        self, name: FromPath[str], data: JSONBody[Responsibility], principal: Caller, runtime: Services
    ) -> Applied:
        allow(runtime, principal, Action.MANAGE_DIRECTORY)
        changed = runtime.ledger.make_responsible(
            name, user=data.user, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        runtime.directory_changed()
        return Applied(changed)

    @post("/v1/teams/{name:str}/responsible/{user:str}/remove", status_code=200, sync_to_thread=True)
    def remove_responsible(
        self, name: FromPath[str], user: FromPath[str], principal: Caller, runtime: Services
    ) -> Applied:
        allow(runtime, principal, Action.MANAGE_DIRECTORY)
        runtime.ledger.make_unresponsible(name, user=user, occurred_at=datetime.now(UTC), by=actor(principal))
        runtime.directory_changed()
        return Applied(True)
