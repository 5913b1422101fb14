"""Who may do what to which recording: roles, and the org hierarchy for scope.

Separation of duties: admins manage users and teams but see no recordings;
auditors read trails and history but never media; agents act only on their
own calls; supervisors and quality managers see the agents of the teams they
answer for and of every team below those; legal and auditors see everything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from domain.errors import Forbidden
from domain.identity import RESPONSIBLE_ROLES, Role


class Action(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    END = "end"
    ACW_END = "acw_end"
    TAG = "tag"
    ANNOTATE = "annotate"
    HOLD = "hold"
    SEARCH = "search"
    VIEW = "view"
    PLAY = "play"  # watch and listen: the player, and the media it streams
    HISTORY = "history"
    AUDIT_READ = "audit_report"
    MANAGE_DIRECTORY = "manage_directory"
    CAPTURE = "capture"  # screen segments, snapshots and the capture report, from the agent's desktop
    VOICE = "voice"  # the call's audio, from telephony
    REQUEST_SNAPSHOT = "request_snapshot"
    LOG_READ = "log_read"  # checkpoints and proofs of the transparency log
    EXPORT = "export"
    POLICY_READ = "policy_read"
    POLICY_CHANGE = "policy_change"
    ERASE = "erase"  # a data subject's erasure request (GDPR Art. 17)
    RETENTION_RUN = "retention_run"
    TRANSCRIBE = "transcribe"  # a transcript of the call, from telephony, a speech service or our transcriber
    READ_TRANSCRIPT = "read_transcript"
    PLAY_UNREDACTED = "play_unredacted"  # hear and see the spans where card data was spoken
    MANAGE_FORMS = "manage_forms"  # publish versions of evaluation forms
    EVALUATE = "evaluate"  # submit and revise evaluations of calls
    RESPOND_EVALUATION = "respond_evaluation"  # acknowledge or dispute an evaluation of one's own call
    READ_EVALUATIONS = "read_evaluations"  # evaluations of the calls within reach, and the forms they cite
    REPORT_READ = "historical_report"  # the supervisors' and QA leads' reports over a time range


_R = Role
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.START: frozenset({_R.TELEPHONY}),
    Action.END: frozenset({_R.TELEPHONY}),
    Action.PAUSE: frozenset({_R.TELEPHONY, _R.AGENT}),
    Action.RESUME: frozenset({_R.TELEPHONY, _R.AGENT}),
    Action.ACW_END: frozenset({_R.TELEPHONY, _R.AGENT}),
    Action.TAG: frozenset({_R.TELEPHONY, _R.AGENT}),
    # Reviewers of the call: quality managers evaluating it, supervisors coaching their agents.
    Action.ANNOTATE: frozenset({_R.QUALITY, _R.SUPERVISOR}),
    Action.HOLD: frozenset({_R.LEGAL}),
    Action.SEARCH: frozenset({_R.AGENT, _R.SUPERVISOR, _R.QUALITY, _R.LEGAL, _R.AUDITOR}),
    Action.VIEW: frozenset({_R.AGENT, _R.SUPERVISOR, _R.QUALITY, _R.LEGAL, _R.AUDITOR}),
    # Auditors and admins never hear a call; an agent only its own, and only where the policy lets it.
    Action.PLAY: frozenset({_R.AGENT, _R.SUPERVISOR, _R.QUALITY, _R.LEGAL}),
    Action.HISTORY: frozenset({_R.SUPERVISOR, _R.QUALITY, _R.LEGAL, _R.AUDITOR}),
    Action.AUDIT_READ: frozenset({_R.LEGAL, _R.AUDITOR}),
    Action.MANAGE_DIRECTORY: frozenset({_R.ADMIN}),
    Action.CAPTURE: frozenset({_R.AGENT}),
    Action.VOICE: frozenset({_R.TELEPHONY}),
    Action.REQUEST_SNAPSHOT: frozenset({_R.SUPERVISOR, _R.QUALITY}),
    Action.LOG_READ: frozenset({_R.LEGAL, _R.AUDITOR}),
    Action.EXPORT: frozenset({_R.LEGAL}),
    Action.POLICY_READ: frozenset({_R.ADMIN, _R.LEGAL, _R.AUDITOR}),
    Action.POLICY_CHANGE: frozenset({_R.ADMIN}),
    Action.ERASE: frozenset({_R.LEGAL}),
    Action.RETENTION_RUN: frozenset({_R.ADMIN}),
    Action.TRANSCRIBE: frozenset({_R.TELEPHONY}),
    # Whoever may hear the call may read it; an agent its own call.
    Action.READ_TRANSCRIPT: frozenset({_R.AGENT, _R.SUPERVISOR, _R.QUALITY, _R.LEGAL}),
    # Spoken card data is muted and blanked for everyone else (PCI DSS): legal only, and each such playback says so.
    Action.PLAY_UNREDACTED: frozenset({_R.LEGAL}),
    Action.MANAGE_FORMS: frozenset({_R.QUALITY}),
    Action.EVALUATE: frozenset({_R.QUALITY}),
    Action.RESPOND_EVALUATION: frozenset({_R.AGENT}),
    # An agent its own evaluations, supervisors and quality managers their teams', legal and auditors all.
    Action.READ_EVALUATIONS: frozenset({_R.AGENT, _R.SUPERVISOR, _R.QUALITY, _R.LEGAL, _R.AUDITOR}),
    # Figures over a team's calls: supervisors and quality managers for their teams, legal and auditors all.
    Action.REPORT_READ: frozenset({_R.SUPERVISOR, _R.QUALITY, _R.LEGAL, _R.AUDITOR}),
}
# Roles whose reach over recordings has no org limit.
UNSCOPED = frozenset({Role.TELEPHONY, Role.LEGAL, Role.AUDITOR})


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    name: str
    role: Role
    team_id: UUID | None


@dataclass
class OrgChart:
    """Teams as a tree, who answers for which team, and which agents sit where."""

    parents: dict[UUID, UUID | None] = field(default_factory=dict)
    team_names: dict[str, UUID] = field(default_factory=dict)
    responsible_for: dict[UUID, set[UUID]] = field(default_factory=lambda: defaultdict(set))
    agents_in: dict[UUID, set[str]] = field(default_factory=lambda: defaultdict(set))

    def subtree(self, roots: Iterable[UUID]) -> set[UUID]:
        children: defaultdict[UUID | None, set[UUID]] = defaultdict(set)
        for team, parent in self.parents.items():
            children[parent].add(team)
        seen: set[UUID] = set()
        stack = list(roots)
        while stack:
            team = stack.pop()
            if team not in seen:
                seen.add(team)
                stack.extend(children[team])
        return seen

    def agents_of(self, teams: Iterable[UUID]) -> frozenset[str]:
        return frozenset(agent for team in self.subtree(teams) for agent in self.agents_in[team])


def require(principal: Principal, action: Action) -> None:
    if principal.role not in ALLOWED[action]:
        raise Forbidden(f"role {principal.role.value!r} may not {action.value.replace('_', ' ')}")


def visible_agents(principal: Principal, org: OrgChart) -> frozenset[str] | None:
    """The agents whose recordings this principal may see; None means all."""
    if principal.role in UNSCOPED:
        return None
    if principal.role is Role.AGENT:
        return frozenset({principal.name})
    if principal.role in RESPONSIBLE_ROLES:
        return org.agents_of(org.responsible_for[principal.user_id])
    return frozenset()


def require_recording(principal: Principal, action: Action, agent_id: str, org: OrgChart) -> None:
    """Role check, then scope: the recording's agent must be within reach."""
    require(principal, action)
    scope = visible_agents(principal, org)
    if scope is not None and agent_id not in scope:
        raise Forbidden(f"recording of agent {agent_id!r} is outside the teams {principal.name!r} answers for")
