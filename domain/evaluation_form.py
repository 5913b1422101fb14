"""Evaluation forms: the questions a quality manager answers about a call, versioned as events.

Each ``publish`` adds a version (its number: the event's ``originator_version``); an
evaluation cites the form and the version it answered, and every version stays
readable, so a score is always recomputable from the log. A question's answers carry
points from 0 to 100 (a yes/no: 100/0; a 1-5 scale: 0/25/50/75/100); an answer
without points is "not applicable" and leaves the question out of the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import errors
from domain.values import Actor, require_id, require_text, require_utc

# Fixed forever: form aggregate ids of every deployment derive from it.
FORM_NAMESPACE = UUID("2d7f4c1a-9b3e-4f6d-8a2c-5e1b7d9f3a64")
MAX_QUESTIONS = 200
MAX_ANSWERS = 20
MAX_WEIGHT = 1000
MAX_TITLE = 256


class FormNotFound(errors.NotFound):
    pass


class EvaluationUnknown(errors.NotFound):
    """No evaluation of that id on this recording."""


class NotTheEvaluator(errors.Forbidden):
    """Only the evaluator revises an evaluation; only the call's agent answers it."""


class EvaluationConflict(errors.StateConflict):
    """An evaluation id reused for another submission, a superseded revision answered,
    or a revision answered twice in different ways."""


def form_uuid(form_id: str) -> UUID:
    """The aggregate id of a form named by its id ("inbound-sales")."""
    return uuid5(FORM_NAMESPACE, form_id)


@dataclass(frozen=True, slots=True)
class Answer:
    id: str
    label: str
    points: int | None  # 0..100; None: "not applicable", left out of the score


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    weight: int  # > 0: its share of the score, relative to the other questions answered
    fatal: bool  # answered with 0 points, the whole evaluation scores 0
    answers: tuple[Answer, ...]


@dataclass(frozen=True, slots=True)
class FormVersion:
    form_id: str
    version: int
    title: str
    questions: tuple[Question, ...]
    published_at: datetime
    published_by: str


@dataclass(frozen=True, slots=True)
class Score:
    percent: float  # weighted, over the questions not answered "not applicable"; 100 if none is left
    fatal_failed: bool


def require_questions(questions: Sequence[Question]) -> tuple[Question, ...]:
    """The questions as published, or the rule they break."""
    if not isinstance(questions, Sequence) or not 1 <= len(questions) <= MAX_QUESTIONS:
        raise errors.InvalidCommand(f"a form needs 1 to {MAX_QUESTIONS} questions")
    seen: set[str] = set()
    for question in questions:
        where = f"question {question.id!r}"
        require_id("question id", question.id)
        if question.id in seen:
            raise errors.InvalidCommand(f"{where} appears twice: question ids must be unique")
        seen.add(question.id)
        require_text(f"{where} text", question.text)
        if isinstance(question.weight, bool) or not isinstance(question.weight, int):
            raise errors.InvalidCommand(f"{where}: weight must be a whole number")
        if not 1 <= question.weight <= MAX_WEIGHT:
            raise errors.InvalidCommand(f"{where}: weight must be between 1 and {MAX_WEIGHT}")
        if not isinstance(question.fatal, bool):
            raise errors.InvalidCommand(f"{where}: fatal must be true or false")
        _require_answers(where, question.answers)
    return tuple(questions)


def _require_answers(where: str, answers: Sequence[Answer]) -> None:
    if not 1 <= len(answers) <= MAX_ANSWERS:
        raise errors.InvalidCommand(f"{where} needs 1 to {MAX_ANSWERS} answers")
    if len({answer.id for answer in answers}) != len(answers):
        raise errors.InvalidCommand(f"{where}: answer ids must be unique")
    for answer in answers:
        require_id(f"{where} answer id", answer.id)
        require_text(f"{where} answer label", answer.label)
        points = answer.points
        if points is not None and (isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= 100):
            raise errors.InvalidCommand(f"{where}: answer {answer.id!r} points must be 0 to 100, or null for n/a")
    if all(answer.points is None for answer in answers):
        raise errors.InvalidCommand(f"{where} needs at least one answer with points")


def score(form: FormVersion, answers: Mapping[str, str]) -> Score:
    """Every question answered with one of its answers, or the rule broken; then the
    weighted percent of points over the questions not answered "not applicable"."""
    if not isinstance(answers, Mapping):
        raise errors.InvalidCommand("answers must map question ids to answer ids")
    questions = {question.id: question for question in form.questions}
    unknown = sorted(set(answers) - questions.keys())
    if unknown:
        raise errors.InvalidCommand(f"form {form.form_id!r} v{form.version} has no question {', '.join(unknown)}")
    missing = [question_id for question_id in questions if question_id not in answers]
    if missing:
        raise errors.InvalidCommand(f"every question must be answered; missing: {', '.join(missing)}")
    earned = possible = 0
    fatal_failed = False
    for question_id, answer_id in answers.items():
        question = questions[question_id]
        chosen = next((answer for answer in question.answers if answer.id == answer_id), None)
        if chosen is None:
            raise errors.InvalidCommand(f"question {question_id!r} has no answer {answer_id!r}")
        if chosen.points is None:
            continue
        earned += question.weight * chosen.points
        possible += question.weight * 100
        fatal_failed = fatal_failed or (question.fatal and chosen.points == 0)
    if fatal_failed:
        return Score(0.0, True)
    return Score(round(100 * earned / possible, 2) if possible else 100.0, False)


class EvaluationForm(Aggregate):
    """One form (``form_id``), every version it was published in."""

    if TYPE_CHECKING:  # set by Created.apply (declared for the type checker only)
        versions: dict[int, FormVersion]

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str
        role: str

    class Published(Event):
        """A version of the form: its number is the event's ``originator_version``."""

        form_id: str
        title: str
        questions: tuple[Question, ...]

        def apply(self, form: EvaluationForm) -> None:
            form.versions[self.originator_version] = FormVersion(
                self.form_id, self.originator_version, self.title, self.questions, self.occurred_at, self.actor
            )

    class Created(Published, Aggregate.Created):
        def apply(self, form: EvaluationForm) -> None:
            form.versions = {}
            super().apply(form)

    @staticmethod
    def create_id(form_id: str, **_: Any) -> UUID:
        return form_uuid(form_id)

    @classmethod
    def first(
        cls, *, form_id: str, title: str, questions: Sequence[Question], occurred_at: datetime, by: Actor
    ) -> EvaluationForm:
        return cls._create(cls.Created, **_published(form_id, title, questions, occurred_at, by))

    def publish(self, *, title: str, questions: Sequence[Question], occurred_at: datetime, by: Actor) -> bool:
        """A new version; False when the latest already says exactly this (a retried publish)."""
        fields = _published(self.latest.form_id, title, questions, occurred_at, by)
        if (fields["title"], fields["questions"]) == (self.latest.title, self.latest.questions):
            return False
        self.trigger_event(self.Published, **fields)
        return True

    @property
    def latest(self) -> FormVersion:
        return self.versions[max(self.versions)]

    def version_of(self, version: int | None) -> FormVersion:
        """The version asked for (None: the latest)."""
        if version is None:
            return self.latest
        try:
            return self.versions[version]
        except KeyError:
            raise FormNotFound(f"form {self.latest.form_id!r} has no version {version}") from None


def _published(
    form_id: str, title: str, questions: Sequence[Question], occurred_at: datetime, by: Actor
) -> dict[str, Any]:
    """The checked fields of a Published event."""
    if not isinstance(title, str) or len(title) > MAX_TITLE:
        raise errors.InvalidCommand(f"title must be at most {MAX_TITLE} characters")
    return {
        "form_id": require_id("form_id", form_id),
        "title": require_text("title", title),
        "questions": require_questions(questions),
        "occurred_at": require_utc(occurred_at),
        "actor": by.name,
        "role": by.role,
    }


@dataclass(frozen=True, slots=True)
class Comment:
    """An evaluator's remark pinned to a moment of the call (ms on the call's clock)."""

    at_ms: int
    text: str


@dataclass(frozen=True, slots=True)
class EvaluationState:
    """What a Recording keeps of each of its evaluations, to judge the next command on it."""

    evaluator: str
    form_id: str
    revision: int  # the current one: 1 when submitted, then 2, 3, ...
    state: str  # "submitted", "revised", "acknowledged" or "disputed" (the current revision's)
    digest: str  # of the current revision's content: a retry of it is a no-op
    score_percent: float  # the current revision's
    fatal_failed: bool
