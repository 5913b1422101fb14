"""Lifecycle ingest in batches: a telephony gateway posts many calls' events in one request.

Each item is judged on its own (an item's refusal never undoes another) and
answered with its own status, as the per-event endpoints would answer it; the
items that pass are handed to the ledger together, so with group commit they
share one transaction. Items stay idempotent on the same natural keys as the
per-event endpoints, so a retried batch doubles nothing.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from msgspec import Meta

from api.http.context import Caller, provide
from api.http.guards import may
from api.http.problems import status_of
from api.http.schemas import AcwEnd, CallEnd, LifecycleChange, NewTag, StartCall
from api.services.access import actor
from api.services.lifecycle import ACTION_OF, Lifecycle
from domain import commands, errors

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


Item = StartItem | PauseItem | ResumeItem | EndItem | AcwEndItem | TagItem

# Each item type and the command it becomes: the item's fields are the command's.
COMMAND_OF: dict[type[Item], type[commands.Command]] = {
    StartItem: commands.StartCall,
    PauseItem: commands.Pause,
    ResumeItem: commands.Resume,
    EndItem: commands.EndCall,
    AcwEndItem: commands.EndAcw,
    TagItem: commands.Tag,
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


def outcome_of(command: commands.Command, result: Any) -> ItemOutcome:
    if isinstance(result, errors.DomainError):
        status, title = status_of(result)
        return ItemOutcome(
            status=status,
            recording_id=command.recording_id,
            title=title,
            detail=str(result),
            error=type(result).__name__,
        )
    if isinstance(command, commands.StartCall):  # a repeated start answers the same (idempotent)
        return ItemOutcome(status=201, recording_id=result)
    return ItemOutcome(status=200, recording_id=command.recording_id, applied=result)


@post(
    "/v1/lifecycle-events",
    status_code=200,
    sync_to_thread=True,
    tags=["ingest"],
    summary="Post many lifecycle events at once; each item gets its own status",
    # The roles that may post at least one kind of item; each item is then judged on its own.
    guards=[may(*(ACTION_OF[command] for command in COMMAND_OF.values()))],
    dependencies=provide("lifecycle"),
)
def post_batch(
    data: JSONBody[LifecycleBatch], principal: Caller, lifecycle: NamedDependency[Lifecycle]
) -> BatchOutcome:
    by = actor(principal)
    batch = [COMMAND_OF[type(item)](**msgspec.structs.asdict(item), by=by) for item in data.events]
    results = lifecycle.batch(principal, batch)
    return BatchOutcome([outcome_of(command, result) for command, result in zip(batch, results, strict=True)])
