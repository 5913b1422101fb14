"""The recording policy: admins change it, every version stays readable."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from api.services.access import AccessControl, actor
from domain.access_record import Outcome
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal
from domain.recording_policy import PolicyTerms


class PolicyVersion(msgspec.Struct):
    version: int  # 0: the built-in defaults, in force until an admin first sets a policy
    terms: PolicyTerms
    changed_at: datetime | None
    actor: str | None
    reason: str | None


class RecordingPolicies:
    def __init__(self, ledger: RecordingLedger, access: AccessControl) -> None:
        self._ledger = ledger
        self._access = access

    def versions(self, principal: Principal) -> list[PolicyVersion]:
        """Every version, oldest first (the last is in force); reading them is recorded."""
        self._access.allow(principal, Action.POLICY_READ)
        self._access.record(principal, Action.POLICY_READ, Outcome.ALLOWED, [])
        return self._all_versions()

    def change(self, principal: Principal, terms: PolicyTerms, reason: str) -> PolicyVersion:
        """A new version for new recordings (the terms in force already: the current one)."""
        self._access.allow(principal, Action.POLICY_CHANGE)
        version = self._ledger.set_policy(
            terms=terms, reason=reason, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        return self._all_versions()[version]

    def _all_versions(self) -> list[PolicyVersion]:
        versions = [PolicyVersion(0, PolicyTerms(), None, None, None)]
        return versions + [
            PolicyVersion(n, v.terms, v.occurred_at, v.actor, v.reason)
            for n, v in sorted(self._ledger.policy_versions().items())
        ]
