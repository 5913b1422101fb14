"""Who the caller is, the org chart that scopes them, and the directory that admins manage."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import NamedTuple
from uuid import UUID

import msgspec

from adapters.view_store import ViewStore
from domain.directory import token_digest
from domain.identity import Role
from domain.ledger import RecordingLedger
from domain.permissions import OrgChart, Principal
from domain.values import Actor
from projections.runner import Projections

# The org chart is re-read whole at least this often even when the directory view says it has
# not changed: a bound on staleness should a node write the view without marking its changes
# (a node of an older version during a rolling upgrade).
ORG_REREAD_SECONDS = 60.0


class CachedOrg(NamedTuple):
    org: OrgChart
    changed_at: int  # the directory view's last change, read before the chart
    read_at: float
    fresh_until: float


class UserOut(msgspec.Struct):
    user_id: UUID
    name: str
    role: str
    team: str | None
    active: bool


class TeamOut(msgspec.Struct):
    team_id: UUID
    name: str
    parent: str | None
    responsible: list[str]


class Identity:
    def __init__(
        self, ledger: RecordingLedger, views: ViewStore, projections: Projections, token_cache_seconds: float
    ) -> None:
        self._ledger = ledger
        self._views = views
        self._projections = projections
        self._cache_seconds = token_cache_seconds
        self._principals: dict[str, tuple[Principal, float]] = {}
        self._org: CachedOrg | None = None
        self._org_generation = 0  # moved by every change made through this process
        self._guard = threading.Lock()

    # -- who is asking ---------------------------------------------------

    def principal_for(self, token: str) -> Principal | None:
        """The token's user, from a short-lived cache (every request needs it)."""
        if (cached := self.cached_principal(token)) is not None:
            return cached
        digest = token_digest(token)
        principal = self._look_up(digest)
        if principal is not None:
            with self._guard:
                self._principals[digest] = (principal, time.monotonic() + self._cache_seconds)
        return principal

    def cached_principal(self, token: str) -> Principal | None:
        """The token's user if the cache still holds it, else None; never reads the store, so an
        event loop may ask without handing the request to a thread."""
        cached = self._principals.get(token_digest(token))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return None

    def principal_named(self, name: str) -> Principal | None:
        """An active user by name (the command line's ``--as``)."""
        self._projections.catch_up(views=["directory"])
        users, _, _ = self._views.directory()
        for user in users:
            if user.name == name and user.active:
                return Principal(user_id=user.user_id, name=user.name, role=Role(user.role), team_id=user.team_id)
        return None

    def _look_up(self, digest: str) -> Principal | None:
        user = self._views.user_by_token(digest)
        if user is None:
            # Maybe created a moment ago by another process (the CLI): catch up once.
            self._projections.catch_up(views=["directory"])
            user = self._views.user_by_token(digest)
        if user is None:
            return None
        return Principal(user_id=user.user_id, name=user.name, role=Role(user.role), team_id=user.team_id)

    def org(self) -> OrgChart:
        """Teams, who answers for them and their agents, kept as long as a token: every scoped
        read needs it, and at thousands of agents reading it costs more than the search.

        When that time is up, the chart is read again only if the directory view changed
        since (one indexed read): re-reading 5,000 agents took 25 ms every few seconds, on
        whichever request came then.
        """
        cached, generation = self._org, self._org_generation
        now = time.monotonic()
        if cached is not None and now < cached.fresh_until:
            return cached.org
        # Read before the chart, so that a chart is never older than the change it is kept for.
        changed_at = self._views.changed_at("directory")
        if cached is not None and changed_at == cached.changed_at and now < cached.read_at + ORG_REREAD_SECONDS:
            org, kept = cached.org, cached._replace(fresh_until=now + self._cache_seconds)
        else:
            org = self._read_org()
            kept = CachedOrg(org, changed_at, now, now + self._cache_seconds)
        with self._guard:
            if self._org_generation == generation:  # else a change made here meanwhile emptied the cache
                self._org = kept
        return org

    def _read_org(self) -> OrgChart:
        users, teams, responsibilities = self._views.directory()
        org = OrgChart()
        for team in teams:
            org.parents[team.team_id] = team.parent_id
            org.team_names[team.name] = team.team_id
        for r in responsibilities:
            org.responsible_for[r.user_id].add(r.team_id)
        for user in users:
            if user.role == Role.AGENT and user.team_id is not None and user.active:
                org.agents_in[user.team_id].add(user.name)
        return org

    def directory_changed(self) -> None:
        self._projections.catch_up(views=["directory"])
        with self._guard:  # after the catch-up, so that nothing read before it is cached again
            self._principals.clear()  # a rotated or deactivated token stops working at once here
            self._org = None
            self._org_generation += 1

    # -- the directory, as admins manage it --------------------------------

    def register_user(self, *, name: str, role: str, team: str | None, by: Actor) -> tuple[UUID, str]:
        """A new user and their bearer token (shown only this once)."""
        user_id, token = self._ledger.register_user(
            name=name, role=role, team=team, occurred_at=datetime.now(UTC), by=by
        )
        self.directory_changed()
        return user_id, token

    def issue_token(self, name: str, *, by: Actor) -> tuple[UUID, str, str]:
        """A new token for the user (the old one stops working): their id, role and the token."""
        token = self._ledger.issue_token(name, occurred_at=datetime.now(UTC), by=by)
        user = self._ledger.get_user(name)
        self.directory_changed()
        return user.id, user.user_role.value, token

    def move_user(self, name: str, *, team: str | None, by: Actor) -> None:
        self._ledger.move_user(name, team=team, occurred_at=datetime.now(UTC), by=by)
        self.directory_changed()

    def deactivate_user(self, name: str, *, reason: str, by: Actor) -> None:
        self._ledger.deactivate_user(name, reason=reason, occurred_at=datetime.now(UTC), by=by)
        self.directory_changed()

    def create_team(self, *, name: str, parent: str | None, by: Actor) -> UUID:
        team_id = self._ledger.create_team(name=name, parent=parent, occurred_at=datetime.now(UTC), by=by)
        self.directory_changed()
        return team_id

    def make_responsible(self, team: str, *, user: str, by: Actor) -> bool:
        changed = self._ledger.make_responsible(team, user=user, occurred_at=datetime.now(UTC), by=by)
        self.directory_changed()
        return changed

    def make_unresponsible(self, team: str, *, user: str, by: Actor) -> None:
        self._ledger.make_unresponsible(team, user=user, occurred_at=datetime.now(UTC), by=by)
        self.directory_changed()

    def users(self) -> list[UserOut]:
        users, teams, _ = self._views.directory()
        team_names = {t.team_id: t.name for t in teams}
        return [
            UserOut(u.user_id, u.name, u.role, team_names.get(u.team_id) if u.team_id else None, u.active)
            for u in users
        ]

    def teams(self) -> list[TeamOut]:
        users, teams, responsibilities = self._views.directory()
        names = {t.team_id: t.name for t in teams}
        user_names = {u.user_id: u.name for u in users}
        return [
            TeamOut(
                t.team_id,
                t.name,
                names.get(t.parent_id) if t.parent_id else None,
                sorted(user_names[r.user_id] for r in responsibilities if r.team_id == t.team_id),
            )
            for t in teams
        ]
