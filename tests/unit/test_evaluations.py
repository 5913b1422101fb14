"""Evaluation forms, scoring and the Recording's evaluation rules, on the in-memory ledger."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain import errors
from domain.commands import (
    AcknowledgeEvaluation,
    DisputeEvaluation,
    EndAcw,
    EndCall,
    ReviseEvaluation,
    SubmitEvaluation,
)
from domain.evaluation_form import (
    Answer,
    Comment,
    EvaluationConflict,
    EvaluationForm,
    EvaluationUnknown,
    FormNotFound,
    NotTheEvaluator,
    Question,
    Score,
    score,
)
from domain.ledger import RecordingLedger
from domain.recording import Recording
from domain.timeline import Mark, timeline_of
from domain.values import Actor
from tests.support.calls import PBX, T0, start_call

QUINN = Actor("quinn", "quality")
OTHER_QM = Actor("quincy", "quality")
AGENT = Actor("agent-1", "agent")
YES_NO = (Answer("yes", "Yes", 100), Answer("no", "No", 0))
SCALE = tuple(Answer(str(n), str(n), points) for n, points in zip(range(1, 6), (0, 25, 50, 75, 100), strict=True))
QUESTIONS = (
    Question("greeting", "Greeted the customer by name?", 1, False, (*YES_NO, Answer("na", "n/a", None))),
    Question("resolution", "How well was the issue resolved?", 3, False, SCALE),
    Question("pci", "Asked for card details only while paused?", 1, True, YES_NO),
)


def published(
    ledger: RecordingLedger, questions: tuple[Question, ...] = QUESTIONS, title: str = "Inbound sales"
) -> int:
    version, _ = ledger.publish_form(
        form_id="inbound-sales", title=title, questions=questions, occurred_at=T0, by=QUINN
    )
    return version


def ended_call(ledger: RecordingLedger) -> UUID:
    """A call of agent-1 that lasted 60 s, with 30 s of after-call work."""
    rid = start_call(ledger)
    ledger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=60), by=PBX))
    ledger.execute(EndAcw(rid, reason="status_change", occurred_at=T0 + timedelta(seconds=90), by=PBX))
    return rid


def content(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        evaluation_id="ev-1",
        form_id="inbound-sales",
        form_version=1,
        answers={"greeting": "yes", "resolution": "4", "pci": "yes"},
        comments=(Comment(12_000, "Ms Example was kept waiting"),),
        occurred_at=T0 + timedelta(hours=1),
        by=QUINN,
    )
    return {**fields, **overrides}


def submission(rid: UUID, **overrides: Any) -> SubmitEvaluation:
    return SubmitEvaluation(rid, **content(**overrides))


def revision_of(rid: UUID, **overrides: Any) -> ReviseEvaluation:
    return ReviseEvaluation(rid, **content(**overrides))


def events_of(ledger: RecordingLedger, rid: UUID) -> list[str]:
    return [type(e).__name__ for e in ledger.history(rid).events]


# -- forms and scoring -------------------------------------------------------


def test_scores_are_weighted_percentages_over_the_questions_that_apply(ledger: RecordingLedger) -> None:
    form = ledger.form_version("inbound-sales", published(ledger))
    # 1 x 100 + 3 x 75 + 1 x 100 of 500
    assert score(form, {"greeting": "yes", "resolution": "4", "pci": "yes"}) == Score(85.0, False)
    # n/a leaves the greeting out: 3 x 75 + 1 x 100 of 400
    assert score(form, {"greeting": "na", "resolution": "4", "pci": "yes"}) == Score(81.25, False)
    assert score(form, {"greeting": "no", "resolution": "1", "pci": "yes"}) == Score(20.0, False)


def test_a_fatal_question_failed_scores_zero(ledger: RecordingLedger) -> None:
    form = ledger.form_version("inbound-sales", published(ledger))
    assert score(form, {"greeting": "yes", "resolution": "5", "pci": "no"}) == Score(0.0, True)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"greeting": "yes", "resolution": "4"}, "missing: pci"),
        ({"greeting": "yes", "resolution": "4", "pci": "yes", "smile": "yes"}, "no question smile"),
        ({"greeting": "yes", "resolution": "9", "pci": "yes"}, "no answer '9'"),
    ],
)
def test_every_question_is_answered_with_one_of_its_answers(
    ledger: RecordingLedger, answers: dict[str, str], message: str
) -> None:
    form = ledger.form_version("inbound-sales", published(ledger))
    with pytest.raises(errors.InvalidCommand, match=message):
        score(form, answers)


@pytest.mark.parametrize(
    "questions",
    [
        (),
        (QUESTIONS[0], QUESTIONS[0]),  # ids repeat
        (dataclasses.replace(QUESTIONS[0], weight=0),),
        (dataclasses.replace(QUESTIONS[0], text=" "),),
        (dataclasses.replace(QUESTIONS[0], id="has space"),),
        (dataclasses.replace(QUESTIONS[0], answers=()),),
        (dataclasses.replace(QUESTIONS[0], answers=(Answer("yes", "Yes", 100), Answer("yes", "Also", 0))),),
        (dataclasses.replace(QUESTIONS[0], answers=(Answer("yes", "Yes", 101),)),),
        (dataclasses.replace(QUESTIONS[0], answers=(Answer("na", "n/a", None),)),),  # nothing to score
    ],
)
def test_a_form_that_breaks_a_rule_is_not_published(ledger: RecordingLedger, questions: tuple[Question, ...]) -> None:
    with pytest.raises(errors.InvalidCommand):
        published(ledger, questions)
    with pytest.raises(FormNotFound):
        ledger.get_form("inbound-sales")


def test_each_publish_adds_a_version_and_the_older_stay_readable(ledger: RecordingLedger) -> None:
    assert published(ledger) == 1
    assert ledger.publish_form(
        form_id="inbound-sales", title="Inbound sales", questions=QUESTIONS, occurred_at=T0, by=QUINN
    ) == (1, False)  # the same again: a retried publish
    assert published(ledger, QUESTIONS[1:], title="Inbound sales, short") == 2
    assert ledger.form_version("inbound-sales").title == "Inbound sales, short"
    first = ledger.form_version("inbound-sales", 1)
    assert (first.version, first.title, first.questions, first.published_by) == (1, "Inbound sales", QUESTIONS, "quinn")
    with pytest.raises(FormNotFound):
        ledger.form_version("inbound-sales", 3)
    with pytest.raises(FormNotFound):
        ledger.form_version("outbound")


def test_form_events_round_trip_through_the_store_codec(ledger: RecordingLedger) -> None:
    published(ledger)
    [event] = list(ledger.events.get(ledger.get_form("inbound-sales").id))
    assert isinstance(event, EvaluationForm.Created)
    stored = ledger.mapper.to_stored_event(event)
    again = ledger.mapper.to_domain_event(stored)
    assert again == event and again.questions == QUESTIONS
    assert again.questions[0].answers[2] == Answer("na", "n/a", None)


# -- the Recording's rules ---------------------------------------------------


def test_a_call_is_evaluated_once_it_has_ended(ledger: RecordingLedger) -> None:
    published(ledger)
    rid = start_call(ledger)
    with pytest.raises(errors.CallNotEnded):
        ledger.execute(submission(rid, comments=()))
    ledger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=60), by=PBX))
    assert ledger.execute(submission(rid, comments=())) is True


def test_submission_is_scored_and_a_retry_is_a_no_op(ledger: RecordingLedger) -> None:
    published(ledger)
    rid = ended_call(ledger)
    assert ledger.execute(submission(rid)) is True
    assert ledger.execute(submission(rid)) is False
    state = ledger.get_recording(rid).evaluations["ev-1"]
    assert (state.evaluator, state.revision, state.state, state.score_percent) == ("quinn", 1, "submitted", 85.0)
    with pytest.raises(EvaluationConflict):  # the same id, other answers
        ledger.execute(submission(rid, answers={"greeting": "no", "resolution": "4", "pci": "yes"}))
    with pytest.raises(EvaluationConflict):  # the same id, another evaluator
        ledger.execute(submission(rid, by=OTHER_QM))
    [event] = [e for e in ledger.history(rid).events if isinstance(e, Recording.EvaluationSubmitted)]
    assert (event.agent_id, event.comment_offsets_ms, event.comments) == (
        "agent-1",
        [12_000],
        ["Ms Example was kept waiting"],
    )


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"comments": (Comment(90_001, "after the end"),)}, errors.InvalidCommand),
        ({"comments": (Comment(-1, "before the start"),)}, errors.InvalidCommand),
        ({"comments": (Comment(1000, "   "),)}, errors.InvalidCommand),
        ({"comments": (Comment(1000, "x" * 4097),)}, errors.InvalidCommand),
        ({"answers": {"greeting": "yes"}}, errors.InvalidCommand),
        ({"form_version": 2}, FormNotFound),
        ({"form_id": "outbound"}, FormNotFound),
        ({"evaluation_id": "no/slash"}, errors.InvalidCommand),
    ],
)
def test_bad_submissions_are_refused_and_nothing_is_recorded(
    ledger: RecordingLedger, overrides: dict[str, Any], error: type[Exception]
) -> None:
    published(ledger)
    rid = ended_call(ledger)
    with pytest.raises(error):
        ledger.execute(submission(rid, **overrides))
    assert "EvaluationSubmitted" not in events_of(ledger, rid)


def test_comments_may_be_pinned_to_the_last_moment_of_after_call_work(ledger: RecordingLedger) -> None:
    published(ledger)
    rid = ended_call(ledger)
    assert ledger.execute(submission(rid, comments=(Comment(0, "start"), Comment(90_000, "end")))) is True


def test_only_the_evaluator_revises_and_every_revision_stays(ledger: RecordingLedger) -> None:
    published(ledger)
    rid = ended_call(ledger)
    ledger.execute(submission(rid))
    with pytest.raises(NotTheEvaluator):
        ledger.execute(revision_of(rid, by=OTHER_QM))
    with pytest.raises(EvaluationUnknown):
        ledger.execute(revision_of(rid, evaluation_id="ev-9"))
    assert ledger.execute(revision_of(rid)) is False  # says what revision 1 says
    better = {"greeting": "yes", "resolution": "5", "pci": "yes"}
    assert ledger.execute(revision_of(rid, answers=better)) is True
    assert ledger.execute(revision_of(rid, answers=better)) is False  # a retry
    state = ledger.get_recording(rid).evaluations["ev-1"]
    assert (state.revision, state.state, state.score_percent) == (2, "revised", 100.0)
    assert events_of(ledger, rid)[-2:] == ["EvaluationSubmitted", "EvaluationRevised"]


def test_a_revision_answers_the_evaluations_own_form(ledger: RecordingLedger) -> None:
    published(ledger)
    ledger.publish_form(form_id="outbound", title="Outbound", questions=QUESTIONS, occurred_at=T0, by=QUINN)
    rid = ended_call(ledger)
    ledger.execute(submission(rid))
    with pytest.raises(errors.InvalidCommand, match="own form"):
        ledger.execute(revision_of(rid, form_id="outbound"))
    published(ledger, QUESTIONS[1:])  # version 2 of the same form: a revision may move to it
    assert ledger.execute(revision_of(rid, form_version=2, answers={"resolution": "5", "pci": "yes"})) is True


def test_the_agent_acknowledges_or_disputes_the_current_revision_once(ledger: RecordingLedger) -> None:
    published(ledger)
    rid = ended_call(ledger)
    ledger.execute(submission(rid))

    def dispute(revision: int, by: Actor = AGENT, comment: str = "I did greet") -> bool:
        command = DisputeEvaluation(
            rid, evaluation_id="ev-1", revision=revision, comment=comment, occurred_at=T0 + timedelta(hours=2), by=by
        )
        return bool(ledger.execute(command))

    def acknowledge(revision: int) -> bool:
        command = AcknowledgeEvaluation(
            rid, evaluation_id="ev-1", revision=revision, occurred_at=T0 + timedelta(hours=3), by=AGENT
        )
        return bool(ledger.execute(command))

    with pytest.raises(NotTheEvaluator):
        dispute(1, by=Actor("agent-2", "agent"))
    with pytest.raises(errors.InvalidCommand):
        dispute(1, comment="")  # a dispute says why
    with pytest.raises(EvaluationConflict):
        dispute(2)  # no such revision yet
    assert dispute(1) is True
    assert dispute(1) is False  # a retry
    with pytest.raises(EvaluationConflict):
        acknowledge(1)  # answered already
    ledger.execute(revision_of(rid, answers={"greeting": "yes", "resolution": "5", "pci": "yes"}))
    with pytest.raises(EvaluationConflict):
        acknowledge(1)  # superseded
    assert acknowledge(2) is True
    assert ledger.get_recording(rid).evaluations["ev-1"].state == "acknowledged"
    assert events_of(ledger, rid)[-4:] == [
        "EvaluationSubmitted",
        "EvaluationDisputed",
        "EvaluationRevised",
        "EvaluationAcknowledged",
    ]


def test_nothing_is_evaluated_after_a_purge(ledger: RecordingLedger) -> None:
    published(ledger)
    rid = ended_call(ledger)
    ledger.execute(submission(rid))
    recording = ledger.working_copy(rid)
    recording.purge(reason="retention", keys_destroyed=["recording"], occurred_at=T0 + timedelta(days=1), by=PBX)
    ledger.save(recording)
    with pytest.raises(errors.RecordingPurged):
        ledger.execute(revision_of(rid, answers={"greeting": "no", "resolution": "4", "pci": "yes"}))
    with pytest.raises(errors.RecordingPurged):
        ledger.execute(
            AcknowledgeEvaluation(rid, evaluation_id="ev-1", revision=1, occurred_at=T0 + timedelta(days=2), by=AGENT)
        )


def test_the_timeline_marks_the_comments_of_each_evaluations_latest_revision(ledger: RecordingLedger) -> None:
    published(ledger)
    rid = ended_call(ledger)
    ledger.execute(submission(rid))
    ledger.execute(submission(rid, evaluation_id="ev-2", comments=(Comment(5_000, "good opening"),)))
    ledger.execute(revision_of(rid, comments=(Comment(30_000, "hold too long"), Comment(40_000, "apologised"))))
    marks = [m for m in timeline_of(ledger.history(rid).events).marks if m.kind == "evaluation"]
    assert marks == [
        Mark("evaluation", 5_000, "good opening", "ev-2"),
        Mark("evaluation", 30_000, "hold too long", "ev-1"),
        Mark("evaluation", 40_000, "apologised", "ev-1"),
    ]
