"""Checks access through the policy and records it: every access, allowed or refused, is evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from api.bootstrap import Runtime
from domain.access_record import Outcome
from domain.errors import Forbidden
from domain.identity import RESPONSIBLE_ROLES
from domain.permissions import Action, OrgChart, Principal, require, require_recording
from domain.values import Actor


def actor(principal: Principal) -> Actor:
    return Actor(principal.name, principal.role.value)


def record(
    runtime: Runtime,
    principal: Principal,
    action: Action,
    outcome: Outcome,
    recording_ids: list[UUID],
    detail: dict[str, str] | None = None,
    reason_code: str = "",
) -> None:
    runtime.ledger.record_access(
        action=action.value,
        outcome=outcome,
        recording_ids=recording_ids,
        reason_code=reason_code,
        detail=detail or {},
        occurred_at=datetime.now(UTC),
        by=actor(principal),
    )


def allow(runtime: Runtime, principal: Principal, action: Action, detail: dict[str, str] | None = None) -> None:
    """A role check for actions not about one recording; a refusal is recorded."""
    try:
        require(principal, action)
    except Forbidden as refusal:
        record(runtime, principal, action, Outcome.REFUSED, [], {**(detail or {}), "why": str(refusal)}, "refused")
        raise


def allow_recording(
    runtime: Runtime, principal: Principal, action: Action, recording_id: UUID, org: OrgChart | None = None
) -> None:
    """Role and scope check against the recording's agent (from the log, never a lagging view)."""
    allow_agent(runtime, principal, action, recording_id, runtime.ledger.agent_of(recording_id), org)


def allow_agent(
    runtime: Runtime,
    principal: Principal,
    action: Action,
    recording_id: UUID,
    agent_id: str,
    org: OrgChart | None = None,
) -> None:
    """Role and scope check for a recording whose agent is already known; a refusal is recorded."""
    if org is None:  # only responsible roles are scoped by the org chart
        org = runtime.org() if principal.role in RESPONSIBLE_ROLES else OrgChart()
    try:
        require_recording(principal, action, agent_id, org)
    except Forbidden as refusal:
        record(runtime, principal, action, Outcome.REFUSED, [recording_id], {"why": str(refusal)}, "refused")
        raise


def asked(arguments: dict[str, object]) -> dict[str, str]:
    """The filters a request gave (a handler's locals), as recorded with its access."""
    return {k: str(v) for k, v in arguments.items() if k not in {"self", "principal", "runtime"} and v is not None}
