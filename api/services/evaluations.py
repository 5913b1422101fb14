"""Evaluations: forms managed by quality managers, calls evaluated against them, the agent's answer.

Forms and evaluations are events (domain/evaluation_form.py, the Recording's quality
section). Writing one checks the role and the recording's team scope (from the log);
reading a recording's evaluations replays it (comments opened for the reader, or
``[redacted]`` after a purge) and is recorded as an access; an agent's evaluations are
listed from the evaluations view, within the caller's reach.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from adapters.view_rows import EvaluationFormRow, EvaluationQuery, EvaluationRow
from adapters.view_store import ViewStore
from api.services.access import AccessControl, actor
from api.services.freshness import ViewFreshness
from domain import commands
from domain.access_record import Outcome
from domain.errors import Forbidden, InvalidCommand
from domain.evaluation_form import FormVersion, Question
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal, visible_agents
from domain.recording import Recording


class FormPublished(msgspec.Struct):
    form_id: str
    version: int  # the latest
    applied: bool  # False: the latest version already said exactly this


class Evaluated(msgspec.Struct):
    applied: bool  # False: a retry of the submission or revision already recorded
    evaluation_id: str
    revision: int
    score_percent: float
    fatal_failed: bool
    state: str


class CommentOut(msgspec.Struct):
    at_ms: int
    text: str


class RevisionOut(msgspec.Struct):
    revision: int
    form_id: str
    form_version: int
    answers: dict[str, str]
    score_percent: float
    fatal_failed: bool
    comments: list[CommentOut]
    by: str
    at: datetime


class ResponseOut(msgspec.Struct):
    revision: int
    kind: str  # "acknowledged" or "disputed"
    comment: str
    by: str
    at: datetime


class EvaluationOut(msgspec.Struct):
    """One evaluation with every revision and every answer of the agent, oldest first."""

    evaluation_id: str
    recording_id: UUID
    agent_id: str
    evaluator: str
    state: str
    revision: int  # the current one, whose score is the evaluation's
    score_percent: float
    fatal_failed: bool
    revisions: list[RevisionOut]
    responses: list[ResponseOut]


class EvaluationPage(msgspec.Struct):
    items: list[EvaluationRow]
    next: str | None  # pass back as `after` for the next page


def evaluations_of(events: list[Any]) -> list[EvaluationOut]:
    """A recording's evaluations, from its events (as replayed for the reader)."""
    found: dict[str, EvaluationOut] = {}
    agent_id = ""
    for event in events:
        match event:
            case Recording.CallStarted():
                agent_id = event.agent_id
            case Recording.EvaluationSubmitted() | Recording.EvaluationRevised():
                submitted = isinstance(event, Recording.EvaluationSubmitted)
                number = event.revision if isinstance(event, Recording.EvaluationRevised) else 1
                revision = RevisionOut(
                    number,
                    event.form_id,
                    event.form_version,
                    dict(event.answers),
                    event.score_percent,
                    event.fatal_failed,
                    [CommentOut(at, text) for at, text in zip(event.comment_offsets_ms, event.comments, strict=True)],
                    event.actor,
                    event.occurred_at,
                )
                if submitted:
                    found[event.evaluation_id] = EvaluationOut(
                        event.evaluation_id, event.originator_id, agent_id, event.actor, "", 0, 0.0, False, [], []
                    )
                evaluation = found[event.evaluation_id]
                evaluation.revisions.append(revision)
                evaluation.state = "submitted" if submitted else "revised"
                evaluation.revision, evaluation.score_percent = number, event.score_percent
                evaluation.fatal_failed = event.fatal_failed
            case Recording.EvaluationAcknowledged() | Recording.EvaluationDisputed():
                kind = "acknowledged" if isinstance(event, Recording.EvaluationAcknowledged) else "disputed"
                evaluation = found[event.evaluation_id]
                evaluation.responses.append(
                    ResponseOut(event.revision, kind, event.comment, event.actor, event.occurred_at)
                )
                evaluation.state = kind
    return list(found.values())


def _cursor(after: str | None) -> tuple[datetime, UUID, str] | None:
    if not after:
        return None
    submitted, _, rest = after.partition("|")
    recording, _, evaluation = rest.partition("|")
    try:
        return datetime.fromisoformat(submitted), UUID(recording), evaluation
    except ValueError:
        raise InvalidCommand("after is not a cursor returned by a previous page") from None


class Evaluations:
    def __init__(
        self, ledger: RecordingLedger, views: ViewStore, freshness: ViewFreshness, access: AccessControl
    ) -> None:
        self._ledger = ledger
        self._views = views
        self._freshness = freshness
        self._access = access

    # -- forms -----------------------------------------------------------

    def publish_form(self, principal: Principal, form_id: str, title: str, questions: list[Question]) -> FormPublished:
        self._access.allow(principal, Action.MANAGE_FORMS, {"form_id": form_id})
        version, applied = self._ledger.publish_form(
            form_id=form_id, title=title, questions=questions, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        return FormPublished(form_id, version, applied)

    def forms(self, principal: Principal) -> list[EvaluationFormRow]:
        """Every form's latest version (title and number of questions)."""
        self._access.allow(principal, Action.READ_EVALUATIONS)
        self._freshness.ensure("evaluations")
        return self._views.evaluation_forms()

    def form(self, principal: Principal, form_id: str, version: int | None = None) -> FormVersion:
        """A form's questions as published in one version (None: the latest)."""
        self._access.allow(principal, Action.READ_EVALUATIONS, {"form_id": form_id})
        return self._ledger.form_version(form_id, version)

    # -- evaluating and answering -----------------------------------------

    def evaluate(
        self, principal: Principal, command: commands.SubmitEvaluation | commands.ReviseEvaluation
    ) -> Evaluated:
        """Submits or revises an evaluation of a call within the caller's teams."""
        self._access.allow_recording(principal, Action.EVALUATE, command.recording_id)
        applied = self._ledger.execute(command) is not False
        state = self._ledger.get_recording(command.recording_id).evaluations[command.evaluation_id]
        return Evaluated(
            applied, command.evaluation_id, state.revision, state.score_percent, state.fatal_failed, state.state
        )

    def respond(
        self, principal: Principal, command: commands.AcknowledgeEvaluation | commands.DisputeEvaluation
    ) -> bool:
        """The agent acknowledges or disputes an evaluation of its own call; False for a retry."""
        self._access.allow_recording(principal, Action.RESPOND_EVALUATION, command.recording_id)
        return self._ledger.execute(command) is not False

    # -- reading ---------------------------------------------------------

    def of_recording(self, principal: Principal, recording_id: UUID) -> list[EvaluationOut]:
        """Every evaluation of the call, with its revisions and responses; the read is recorded."""
        replay = self._ledger.history(recording_id)
        self._access.allow_agent(principal, Action.READ_EVALUATIONS, recording_id, replay.recording.agent_id)
        self._access.record(principal, Action.READ_EVALUATIONS, Outcome.ALLOWED, [recording_id])
        return evaluations_of(replay.events)

    def of_agents(
        self, principal: Principal, agent: str | None = None, *, limit: int = 50, after: str | None = None
    ) -> EvaluationPage:
        """Evaluations newest first: of one agent, or of every agent within the caller's reach
        (an agent: its own). The page's recordings are recorded as accessed."""
        detail = {name: value for name, value in (("agent", agent), ("after", after)) if value is not None}
        self._access.allow(principal, Action.READ_EVALUATIONS, detail)
        scope = visible_agents(principal, self._access.org_for(principal))
        if agent is not None:
            if scope is not None and agent not in scope:
                refusal = Forbidden(f"agent {agent!r} is outside the teams {principal.name!r} answers for")
                why = {**detail, "why": str(refusal)}
                self._access.record(principal, Action.READ_EVALUATIONS, Outcome.REFUSED, [], why, "refused")
                raise refusal
            scope = frozenset({agent})
        self._freshness.ensure("evaluations")
        rows = self._views.evaluations(EvaluationQuery(agent_ids=scope, after=_cursor(after), limit=limit))
        if rows:
            recording_ids = sorted({row.recording_id for row in rows})
            self._access.record(principal, Action.READ_EVALUATIONS, Outcome.ALLOWED, recording_ids, detail)
        last = rows[-1] if len(rows) == limit else None
        cursor = f"{last.submitted_at.isoformat()}|{last.recording_id}|{last.evaluation_id}" if last else None
        return EvaluationPage(rows, cursor)
