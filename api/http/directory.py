"""Users, teams and who answers for which team: managed by admins only."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.http.context import Caller, provide
from api.http.guards import may
from api.http.schemas import (
    Applied,
    Deactivation,
    NewTeam,
    NewToken,
    NewUser,
    Responsibility,
    UserTeam,
)
from api.services.access import actor
from api.services.identity import Identity, TeamOut, UserOut
from domain.permissions import Action


class Directory(Controller):
    tags = ["directory"]
    guards = [may(Action.MANAGE_DIRECTORY)]
    dependencies = provide("identity")

    @post("/v1/users", status_code=201, sync_to_thread=True, summary="Create a user; the token is shown once")
    def add_user(self, data: JSONBody[NewUser], principal: Caller, identity: NamedDependency[Identity]) -> NewToken:
        user_id, token = identity.register_user(name=data.name, role=data.role, team=data.team, by=actor(principal))
        return NewToken(user_id=user_id, name=data.name, role=data.role, token=token)

    @get("/v1/users", sync_to_thread=True)
    def users(self, identity: NamedDependency[Identity]) -> list[UserOut]:
        return identity.users()

    @post(
        "/v1/users/{name:str}/token",
        status_code=201,
        sync_to_thread=True,
        summary="Issue a new token; the old one stops working",
    )
    def new_token(self, name: FromPath[str], principal: Caller, identity: NamedDependency[Identity]) -> NewToken:
        user_id, role, token = identity.issue_token(name, by=actor(principal))
        return NewToken(user_id=user_id, name=name, role=role, token=token)

    @put("/v1/users/{name:str}/team", sync_to_thread=True)
    def move_user(
        self, name: FromPath[str], data: JSONBody[UserTeam], principal: Caller, identity: NamedDependency[Identity]
    ) -> Applied:
        identity.move_user(name, team=data.team, by=actor(principal))
        return Applied(True)

    @post("/v1/users/{name:str}/deactivate", status_code=200, sync_to_thread=True)
    def deactivate(
        self, name: FromPath[str], data: JSONBody[Deactivation], principal: Caller, identity: NamedDependency[Identity]
    ) -> Applied:
        identity.deactivate_user(name, reason=data.reason, by=actor(principal))
        return Applied(True)

    @post("/v1/teams", status_code=201, sync_to_thread=True)
    def add_team(self, data: JSONBody[NewTeam], principal: Caller, identity: NamedDependency[Identity]) -> TeamOut:
        team_id = identity.create_team(name=data.name, parent=data.parent, by=actor(principal))
        return TeamOut(team_id=team_id, name=data.name, parent=data.parent, responsible=[])

    @get("/v1/teams", sync_to_thread=True)
    def teams(self, identity: NamedDependency[Identity]) -> list[TeamOut]:
        return identity.teams()

    @post(
        "/v1/teams/{name:str}/responsible",
        status_code=200,
        sync_to_thread=True,
        summary="Make a supervisor or quality manager answer for this team and those below it",
    )
    def make_responsible(
        self,
        name: FromPath[str],
        data: JSONBody[Responsibility],
        principal: Caller,
        identity: NamedDependency[Identity],
    ) -> Applied:
        return Applied(identity.make_responsible(name, user=data.user, by=actor(principal)))

    @post("/v1/teams/{name:str}/responsible/{user:str}/remove", status_code=200, sync_to_thread=True)
    def remove_responsible(
        self, name: FromPath[str], user: FromPath[str], principal: Caller, identity: NamedDependency[Identity]
    ) -> Applied:
        identity.make_unresponsible(name, user=user, by=actor(principal))
        return Applied(True)
