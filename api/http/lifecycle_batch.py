"""Lifecycle ingest in batches: a telephony gateway posts many calls' events in one request.

Each item is judged on its own (an item's refusal never undoes another) and
answered with its own status, as the per-event endpoints would answer it; the
items that pass are handed to the ledger together, so with group commit they
share one transaction. Items stay idempotent on the same natural keys as the
per-event endpoints, so a retried batch doubles nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import methodcaller
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import post
from litestar.params import JSONBody
from msgspec import Meta

from api.http.context import Caller, Services
from api.http.problems import status_of
from api.http.schemas import AcwEnd, CallEnd, LifecycleChange, NewTag, StartCall
from api.services.access import actor, allow, allow_agent
from domain import errors
from domain.identity import RESPONSIBLE_ROLES
from domain.ledger import Change, Start
from domain.permissions import ALLOWED, Action, OrgChart
from domain.recording import Recording

MAX_ITEMS = 1000


class StartItem(StartCall, kw_only=True, tag="start", tag_field="type"):
    pass


class PauseItem(LifecycleChange, kw_only=True, tag="pause", tag_field="type"):
    recording_id: UUID


class ResumeItem(LifecycleChange, kw_only=True, tag="resume", tag_field="type"):
    recording_id: UUID


class EndItem(CallEnd, kw_only=True, tag="end", tag_field="type"):
    recording_id: UUID


class AcwEndItem(AcwEnd, kw_only=True, tag="acw_end", tag_field="type"):
    recording_id: UUID


class TagItem(NewTag, kw_only=True, tag="tag", tag_field="type"):
    recording_id: UUID


ChangeItem = PauseItem | ResumeItem | EndItem | AcwEndItem | TagItem
Item = StartItem | ChangeItem

# Item type -> (the action checked, what builds its Recording command from the item's fields).
COMMAND_OF: dict[type[Any], tuple[Action, Callable[..., Callable[[Recording], Any]]]] = {
    PauseItem: (Action.PAUSE, lambda ledger, **fields: methodcaller("pause", **fields)),
    ResumeItem: (Action.RESUME, lambda ledger, **fields: methodcaller("resume", **fields)),
    EndItem: (Action.END, lambda ledger, **fields: methodcaller("end_call", **fields)),
    AcwEndItem: (Action.ACW_END, lambda ledger, **fields: methodcaller("end_acw", **fields)),
    TagItem: (Action.TAG, lambda ledger, **fields: ledger.tagger(**fields)),  # adds the value's blind index
}


class LifecycleBatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    events: Annotated[list[Item], Meta(min_length=1, max_length=MAX_ITEMS)]


class ItemOutcome(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One item's answer: 200/201 with ``applied`` (False for a retry), or a problem."""

    status: int
    recording_id: UUID | None = None
    applied: bool | None = None
    title: str | None = None
    detail: str | None = None
    error: str | None = None


class BatchOutcome(msgspec.Struct):
    results: list[ItemOutcome]


def action_of(item: Item) -> Action:
    return Action.START if isinstance(item, StartItem) else COMMAND_OF[type(item)][0]


def refused(error: errors.DomainError, recording_id: UUID | None) -> ItemOutcome:
    status, title = status_of(error)
    return ItemOutcome(
        status=status, recording_id=recording_id, title=title, detail=str(error), error=type(error).__name__
    )


@post(
    "/v1/lifecycle-events",
    status_code=200,
    sync_to_thread=True,
    tags=["ingest"],
    summary="Post many lifecycle events at once; each item gets its own status",
)
def post_batch(data: JSONBody[LifecycleBatch], principal: Caller, runtime: Services) -> BatchOutcome:
    actions = [action_of(item) for item in data.events]
    if not any(principal.role in ALLOWED[action] for action in actions):
        allow(runtime, principal, actions[0])  # a role that may post none of these: refused as a whole
    by = actor(principal)
    org = runtime.org() if principal.role in RESPONSIBLE_ROLES else OrgChart()
    agents: dict[UUID, str] = {}  # recordings started earlier in this batch
    outcomes: list[ItemOutcome | None] = []
    commands: list[Start | Change] = []
    recording_ids: list[UUID] = []
    for item in data.events:
        fields = msgspec.structs.asdict(item)
        if isinstance(item, StartItem):
            recording_id = runtime.ledger.recording_id(item.interaction_id)
        else:
            recording_id = fields.pop("recording_id")
        recording_ids.append(recording_id)
        try:
            if isinstance(item, StartItem):
                allow(runtime, principal, Action.START)
                agents[recording_id] = item.agent_id
                commands.append(Start(runtime.ledger.starter(**fields, by=by)))
            else:
                action, command_for = COMMAND_OF[type(item)]
                agent = agents.get(recording_id) or runtime.ledger.agent_of(recording_id)
                allow_agent(runtime, principal, action, recording_id, agent, org)
                commands.append(Change(recording_id, command_for(runtime.ledger, **fields, by=by)))
            outcomes.append(None)
        except errors.DomainError as error:
            outcomes.append(refused(error, recording_id))
    results = iter(runtime.ledger.run_all(commands))
    answered = []
    for item, recording_id, outcome in zip(data.events, recording_ids, outcomes, strict=True):
        if outcome is None:
            result = next(results)
            if isinstance(result, errors.DomainError):
                outcome = refused(result, recording_id)
            elif isinstance(item, StartItem):  # a repeated start answers the same (idempotent)
                outcome = ItemOutcome(status=201, recording_id=result)
            else:
                outcome = ItemOutcome(status=200, recording_id=recording_id, applied=result)
        answered.append(outcome)
    return BatchOutcome(answered)
