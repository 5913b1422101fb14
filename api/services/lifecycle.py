"""Lifecycle ingest: telephony's (and the agent desktop's) call events, one at a time or in batches.

Every adapter builds the commands of domain/commands.py; this checks who may
apply each to which recording (the team scope comes from the log, never a
lagging view), then has the ledger apply it. Commands are idempotent on their
natural keys, so a retried request doubles nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from api.services.access import AccessControl
from domain import commands, errors
from domain.ledger import RecordingLedger
from domain.permissions import ALLOWED, Action, Principal

# The action each command needs (a start is about no recording yet: a role check only).
ACTION_OF: dict[type[commands.Command], Action] = {
    commands.StartCall: Action.START,
    commands.Pause: Action.PAUSE,
    commands.Resume: Action.RESUME,
    commands.EndCall: Action.END,
    commands.EndAcw: Action.ACW_END,
    commands.Tag: Action.TAG,
    commands.Annotate: Action.ANNOTATE,
    commands.PlaceHold: Action.HOLD,
    commands.ReleaseHold: Action.HOLD,
}


class Lifecycle:
    def __init__(self, ledger: RecordingLedger, access: AccessControl) -> None:
        self._ledger = ledger
        self._access = access

    def start(self, principal: Principal, start: commands.StartCall) -> UUID:
        """The recording's id; starting the same interaction again with the same details is a no-op."""
        self._access.allow(principal, Action.START)
        recording_id: UUID = self._ledger.execute(start)
        return recording_id

    def change(self, principal: Principal, command: commands.RecordingCommand) -> bool:
        """Applies a command to a recording the caller may act on; False for a retry of one applied."""
        self._access.allow_recording(principal, ACTION_OF[type(command)], command.recording_id)
        return self._ledger.execute(command) is not False  # commands that answer None always apply

    def batch(self, principal: Principal, batch: Sequence[commands.Command]) -> list[Any]:
        """Each command judged on its own, in order: its result (a start's recording id, or
        whether a change applied) or the domain error that refused it; one refusal never
        undoes another. The commands that pass reach the ledger together, so with group
        commit they share one transaction."""
        actions = [ACTION_OF[type(command)] for command in batch]
        if not any(principal.role in ALLOWED[action] for action in actions):
            self._access.allow(principal, actions[0])  # a role that may post none of these: refused as a whole
        org = self._access.org_for(principal)
        agents: dict[UUID, str] = {}  # recordings started earlier in this batch
        outcomes: list[Any] = []
        passed: list[commands.Command] = []
        for command, action in zip(batch, actions, strict=True):
            try:
                if isinstance(command, commands.StartCall):
                    self._access.allow(principal, action)
                    agents[command.recording_id] = command.agent_id
                else:
                    agent = agents.get(command.recording_id) or self._ledger.agent_of(command.recording_id)
                    self._access.allow_agent(principal, action, command.recording_id, agent, org)
                passed.append(command)
                outcomes.append(None)
            except errors.DomainError as refusal:
                outcomes.append(refusal)
        results = iter(self._ledger.execute_all(passed))
        return [next(results) if outcome is None else outcome for outcome in outcomes]
