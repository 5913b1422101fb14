"""Folds evaluation events into the ``evaluations`` table (one row per evaluation of a call)
and form versions into ``evaluation_forms`` (each form's latest version).

What the rows hold is never personal: scores, states and who evaluated whom. The
comments stay sealed in the log, read through the recording's evaluations.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import msgspec

from adapters.view_rows import EvaluationFormRow, EvaluationRow, ViewRow
from adapters.view_store import ViewStore
from domain.evaluation_form import EvaluationForm
from domain.recording import Recording
from projections.follower import LoggedEvent

_EVALUATION_EVENTS = (
    Recording.EvaluationSubmitted,
    Recording.EvaluationRevised,
    Recording.EvaluationAcknowledged,
    Recording.EvaluationDisputed,
)


def fold(row: EvaluationRow | None, event: Recording.Event) -> EvaluationRow:
    """The row after one more event of its evaluation. Pure: same events, same row."""
    if isinstance(event, Recording.EvaluationSubmitted):
        return EvaluationRow(
            recording_id=event.originator_id,
            evaluation_id=event.evaluation_id,
            agent_id=event.agent_id,
            evaluator=event.actor,
            form_id=event.form_id,
            form_version=event.form_version,
            revision=1,
            score_percent=event.score_percent,
            fatal_failed=event.fatal_failed,
            state="submitted",
            submitted_at=event.occurred_at,
            updated_at=event.occurred_at,
        )
    if row is None:
        raise LookupError(f"{type(event).__name__} of an unknown evaluation on recording {event.originator_id}")
    match event:
        case Recording.EvaluationRevised():
            return msgspec.structs.replace(
                row,
                form_id=event.form_id,
                form_version=event.form_version,
                revision=event.revision,
                score_percent=event.score_percent,
                fatal_failed=event.fatal_failed,
                state="revised",
                updated_at=event.occurred_at,
            )
        case Recording.EvaluationAcknowledged() | Recording.EvaluationDisputed():
            state = "acknowledged" if isinstance(event, Recording.EvaluationAcknowledged) else "disputed"
            return msgspec.structs.replace(row, revision=event.revision, state=state, updated_at=event.occurred_at)
    raise TypeError(f"not an evaluation event: {type(event).__name__}")


class EvaluationsView:
    name = "evaluations"
    fold_cost = 1.0

    def apply(self, store: ViewStore, batch: Sequence[LoggedEvent], previous: int, position: int) -> None:
        # Only these kinds are decoded; the rest of the log passes by as topics.
        evaluated = [e.event for e in batch if issubclass(e.event_class, _EVALUATION_EVENTS)]
        forms = [e.event for e in batch if issubclass(e.event_class, EvaluationForm.Published)]
        earlier = {e.originator_id for e in evaluated if not isinstance(e, Recording.EvaluationSubmitted)}
        rows: dict[tuple[UUID, str], EvaluationRow] = {
            (row.recording_id, row.evaluation_id): row for row in store.evaluations_of(earlier)
        }
        touched: set[tuple[UUID, str]] = set()
        for event in evaluated:
            key = (event.originator_id, event.evaluation_id)
            rows[key] = fold(rows.get(key), event)
            touched.add(key)
        latest: dict[str, EvaluationFormRow] = {}
        for form in forms:
            latest[form.form_id] = EvaluationFormRow(
                form_id=form.form_id,
                version=form.originator_version,
                title=form.title,
                questions=len(form.questions),
                published_at=form.occurred_at,
                published_by=form.actor,
            )
        changed: list[ViewRow] = [*(rows[key] for key in touched), *latest.values()]
        store.commit(self.name, previous, position, upserts=changed)
