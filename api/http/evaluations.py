"""Evaluation forms and evaluations over HTTP: quality managers publish forms and evaluate
calls, the agent acknowledges or disputes, everyone within reach reads them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import Meta

from adapters.view_rows import EvaluationFormRow
from api.http.context import Caller, provide
from api.http.guards import may
from api.http.schemas import Applied, Body, Id, LongText, PathId, Text
from api.services.access import actor
from api.services.evaluations import Evaluated, EvaluationOut, EvaluationPage, Evaluations, FormPublished
from domain import commands
from domain.evaluation_form import MAX_ANSWERS, MAX_QUESTIONS, MAX_WEIGHT, Answer, Comment, FormVersion, Question
from domain.permissions import Action, Principal
from domain.recording import MAX_EVALUATION_COMMENTS

Offset = Annotated[int, Meta(ge=0, le=7 * 24 * 3600 * 1000)]  # ms on the call's clock, a week at most


class AnswerIn(Body, kw_only=True):
    id: Id
    label: Text
    points: Annotated[int, Meta(ge=0, le=100)] | None  # null: "not applicable", left out of the score


class QuestionIn(Body, kw_only=True):
    id: Id
    text: LongText
    weight: Annotated[int, Meta(ge=1, le=MAX_WEIGHT)] = 1
    fatal: bool = False
    answers: Annotated[list[AnswerIn], Meta(min_length=1, max_length=MAX_ANSWERS)]


class FormIn(Body, kw_only=True):
    title: Text
    questions: Annotated[list[QuestionIn], Meta(min_length=1, max_length=MAX_QUESTIONS)]


class CommentIn(Body, kw_only=True):
    at_ms: Offset
    text: LongText


class RevisionIn(Body, kw_only=True):
    form_id: Id
    form_version: Annotated[int, Meta(ge=1)]
    answers: Annotated[dict[Id, Id], Meta(max_length=MAX_QUESTIONS)]  # question id -> answer id
    comments: Annotated[list[CommentIn], Meta(max_length=MAX_EVALUATION_COMMENTS)] = []


class EvaluationIn(RevisionIn, kw_only=True):
    # Given by the client, a retried request is recognised (answered applied: false); else one is made.
    evaluation_id: Id | None = None


class AcknowledgementIn(Body, kw_only=True):
    revision: Annotated[int, Meta(ge=1)]
    comment: Annotated[str, Meta(max_length=4096)] = ""


class DisputeIn(Body, kw_only=True):
    revision: Annotated[int, Meta(ge=1)]
    comment: LongText  # why


def _content(data: RevisionIn, principal: Principal) -> dict[str, Any]:
    """What a submission and a revision both carry (commands.EvaluationContent), from the body."""
    return {
        "form_id": data.form_id,
        "form_version": data.form_version,
        "answers": dict(data.answers),
        "comments": tuple(Comment(c.at_ms, c.text) for c in data.comments),
        "occurred_at": datetime.now(UTC),
        "by": actor(principal),
    }


class EvaluationRoutes(Controller):
    path = "/v1"
    tags = ["quality"]
    dependencies = provide("evaluations")

    # -- forms -----------------------------------------------------------

    @post(
        "/evaluation-forms/{form_id:str}/versions",
        guards=[may(Action.MANAGE_FORMS)],
        status_code=201,
        sync_to_thread=True,
        summary="Publish a new version of an evaluation form (the first version creates it)",
    )
    def publish_form(
        self, form_id: PathId, data: JSONBody[FormIn], principal: Caller, evaluations: NamedDependency[Evaluations]
    ) -> FormPublished:
        questions = [
            Question(q.id, q.text, q.weight, q.fatal, tuple(Answer(a.id, a.label, a.points) for a in q.answers))
            for q in data.questions
        ]
        return evaluations.publish_form(principal, form_id, data.title, questions)

    @get(
        "/evaluation-forms",
        guards=[may(Action.READ_EVALUATIONS)],
        sync_to_thread=True,
        summary="Every evaluation form, as its latest version",
    )
    def list_forms(self, principal: Caller, evaluations: NamedDependency[Evaluations]) -> list[EvaluationFormRow]:
        return evaluations.forms(principal)

    @get(
        "/evaluation-forms/{form_id:str}",
        guards=[may(Action.READ_EVALUATIONS)],
        sync_to_thread=True,
        summary="An evaluation form's questions: the latest version, or ?version=N",
    )
    def read_form(
        self,
        form_id: PathId,
        principal: Caller,
        evaluations: NamedDependency[Evaluations],
        version: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    ) -> FormVersion:
        return evaluations.form(principal, form_id, version)

    # -- evaluations of a recording -----------------------------------------

    @post(
        "/recordings/{recording_id:uuid}/evaluations",
        guards=[may(Action.EVALUATE)],
        status_code=201,
        sync_to_thread=True,
        summary="Evaluate an ended call against a form version (comments pinned at offsets of the call)",
    )
    def submit(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[EvaluationIn],
        principal: Caller,
        evaluations: NamedDependency[Evaluations],
    ) -> Evaluated:
        command = commands.SubmitEvaluation(
            recording_id, evaluation_id=data.evaluation_id or str(uuid.uuid4()), **_content(data, principal)
        )
        return evaluations.evaluate(principal, command)

    @post(
        "/recordings/{recording_id:uuid}/evaluations/{evaluation_id:str}/revisions",
        guards=[may(Action.EVALUATE)],
        status_code=201,
        sync_to_thread=True,
        summary="Revise an evaluation (its evaluator only); every revision stays in the history",
    )
    def revise(
        self,
        recording_id: FromPath[UUID],
        evaluation_id: PathId,
        data: JSONBody[RevisionIn],
        principal: Caller,
        evaluations: NamedDependency[Evaluations],
    ) -> Evaluated:
        command = commands.ReviseEvaluation(recording_id, evaluation_id=evaluation_id, **_content(data, principal))
        return evaluations.evaluate(principal, command)

    @post(
        "/recordings/{recording_id:uuid}/evaluations/{evaluation_id:str}/acknowledgement",
        guards=[may(Action.RESPOND_EVALUATION)],
        status_code=200,
        sync_to_thread=True,
        summary="The call's agent accepts the current revision of an evaluation",
    )
    def acknowledge(
        self,
        recording_id: FromPath[UUID],
        evaluation_id: PathId,
        data: JSONBody[AcknowledgementIn],
        principal: Caller,
        evaluations: NamedDependency[Evaluations],
    ) -> Applied:
        command = commands.AcknowledgeEvaluation(
            recording_id,
            evaluation_id=evaluation_id,
            revision=data.revision,
            comment=data.comment,
            occurred_at=datetime.now(UTC),
            by=actor(principal),
        )
        return Applied(evaluations.respond(principal, command))

    @post(
        "/recordings/{recording_id:uuid}/evaluations/{evaluation_id:str}/dispute",
        guards=[may(Action.RESPOND_EVALUATION)],
        status_code=200,
        sync_to_thread=True,
        summary="The call's agent disputes the current revision of an evaluation, saying why",
    )
    def dispute(
        self,
        recording_id: FromPath[UUID],
        evaluation_id: PathId,
        data: JSONBody[DisputeIn],
        principal: Caller,
        evaluations: NamedDependency[Evaluations],
    ) -> Applied:
        command = commands.DisputeEvaluation(
            recording_id,
            evaluation_id=evaluation_id,
            revision=data.revision,
            comment=data.comment,
            occurred_at=datetime.now(UTC),
            by=actor(principal),
        )
        return Applied(evaluations.respond(principal, command))

    @get(
        "/recordings/{recording_id:uuid}/evaluations",
        guards=[may(Action.READ_EVALUATIONS)],
        sync_to_thread=True,
        summary="A call's evaluations, each with its revisions and the agent's responses; the read is recorded",
    )
    def of_recording(
        self, recording_id: FromPath[UUID], principal: Caller, evaluations: NamedDependency[Evaluations]
    ) -> list[EvaluationOut]:
        return evaluations.of_recording(principal, recording_id)

    # -- across recordings ------------------------------------------------

    @get(
        "/evaluations",
        guards=[may(Action.READ_EVALUATIONS)],
        sync_to_thread=True,
        summary="Evaluations newest first, of one agent or of every agent within reach (an agent: its own)",
    )
    def of_agents(
        self,
        principal: Caller,
        evaluations: NamedDependency[Evaluations],
        agent: Annotated[str | None, QueryParameter(min_length=1, max_length=256)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 50,
        after: Annotated[str | None, QueryParameter(description="the `next` cursor of the previous page")] = None,
    ) -> EvaluationPage:
        return evaluations.of_agents(principal, agent, limit=limit, after=after)
