"""Access control in one place: role and team scope checked against the log, every access recorded.

Routes declare the role an action needs (api/http/guards.py); the application services
check the per-recording scope here, so the command line and jobs get the same checks.
Every access, allowed or refused, is evidence: it is recorded in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from uuid import UUID

from api.services.identity import Identity
from domain.access_record import Outcome
from domain.errors import Forbidden
from domain.identity import RESPONSIBLE_ROLES
from domain.ledger import RecordingLedger
from domain.permissions import Action, OrgChart, Principal, require, require_recording
from domain.values import Actor


def actor(principal: Principal) -> Actor:
    return Actor(principal.name, principal.role.value)


class AccessControl:
    def __init__(self, ledger: RecordingLedger, identity: Identity) -> None:
        self._ledger = ledger
        self._identity = identity

    def record(
        self,
        principal: Principal,
        action: Action,
        outcome: Outcome,
        recording_ids: list[UUID],
        detail: dict[str, str] | None = None,
        reason_code: str = "",
    ) -> None:
        self.recording(principal, action, outcome, recording_ids, detail, reason_code).result()

    def recording(
        self,
        principal: Principal,
        action: Action,
        outcome: Outcome,
        recording_ids: list[UUID],
        detail: dict[str, str] | None = None,
        reason_code: str = "",
    ) -> Future[UUID]:
        """``record`` without waiting: the caller prepares its answer meanwhile, and waits
        on the future before it answers (a read's record shares the next group commit)."""
        return self._ledger.record_access(
            action=action.value,
            outcome=outcome,
            recording_ids=recording_ids,
            reason_code=reason_code,
            detail=detail or {},
            occurred_at=datetime.now(UTC),
            by=actor(principal),
        )

    def allow(self, principal: Principal, action: Action, detail: dict[str, str] | None = None) -> None:
        """The role check (routes declare it as a guard); a refusal is recorded."""
        self._judge(principal, action, [], detail, lambda: require(principal, action))

    def allow_recording(
        self, principal: Principal, action: Action, recording_id: UUID, org: OrgChart | None = None
    ) -> None:
        """Role and scope against the recording's agent (from the log, never a lagging view)."""
        self.allow_agent(principal, action, recording_id, self._ledger.agent_of(recording_id), org)

    def allow_agent(
        self, principal: Principal, action: Action, recording_id: UUID, agent_id: str, org: OrgChart | None = None
    ) -> None:
        """Role and scope for a recording whose agent is already known; a refusal is recorded."""
        if org is None:
            org = self.org_for(principal)
        self._judge(
            principal, action, [recording_id], None, lambda: require_recording(principal, action, agent_id, org)
        )

    def org_for(self, principal: Principal) -> OrgChart:
        """The org chart, for the roles scoped by it (others need none: the read is spared)."""
        return self._identity.org() if principal.role in RESPONSIBLE_ROLES else OrgChart()

    def _judge(
        self,
        principal: Principal,
        action: Action,
        recording_ids: list[UUID],
        detail: dict[str, str] | None,
        check: Callable[[], None],
    ) -> None:
        try:
            check()
        except Forbidden as refusal:
            self.record(
                principal, action, Outcome.REFUSED, recording_ids, {**(detail or {}), "why": str(refusal)}, "refused"
            )
            raise
