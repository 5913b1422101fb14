"""Whole views read back page by page, through the same keyset queries the API pages with."""

from __future__ import annotations

from typing import Any

from adapters.view_rows import AuditQuery, AuditRow, EvaluationQuery, EvaluationRow, RecordingQuery, RecordingRow
from adapters.view_store import ViewStore


def all_recordings(store: ViewStore, **filters: Any) -> list[RecordingRow]:
    """Every row of the recordings view that ``filters`` (RecordingQuery's fields) select, in small pages."""
    rows: list[RecordingRow] = []
    after = None
    while True:
        page = store.search(RecordingQuery(limit=7, after=after, **filters))
        rows.extend(page)
        if len(page) < 7:
            return rows
        after = (page[-1].started_at, page[-1].recording_id)


def all_audit(store: ViewStore) -> list[AuditRow]:
    rows: list[AuditRow] = []
    while page := store.audit(AuditQuery(after=(rows[-1].notification_id, rows[-1].item) if rows else None, limit=100)):
        rows.extend(page)
    return rows


def all_evaluations(store: ViewStore) -> list[EvaluationRow]:
    rows: list[EvaluationRow] = []
    while True:
        after = (rows[-1].submitted_at, rows[-1].recording_id, rows[-1].evaluation_id) if rows else None
        page = store.evaluations(EvaluationQuery(after=after, limit=5))
        rows.extend(page)
        if len(page) < 5:
            return rows


def snapshot(store: ViewStore) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """The recordings, audit and evaluations views' whole contents, to compare a view store
    with another or with itself later."""
    return all_recordings(store), all_audit(store), all_evaluations(store), store.evaluation_forms()
