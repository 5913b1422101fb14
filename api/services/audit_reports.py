"""The audit trail as compliance reports read it; producing a report is itself audited."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from uuid import UUID

import msgspec

from adapters.view_rows import AuditQuery
from adapters.view_store import ViewStore
from api.services.access import AccessControl
from api.services.reveal import AuditOut, reveal_audit
from domain.access_record import Outcome
from domain.errors import InvalidCommand
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal
from projections.runner import Projections


class AuditRequest(msgspec.Struct, kw_only=True, frozen=True):
    """Filters on the trail; ``after`` is the ``next`` of the previous page."""

    actor: str | None = None
    recording: UUID | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: str | None = None
    limit: int = 100
    format: str = "json"  # recorded with the access: a CSV report leaves the building


class AuditPage(msgspec.Struct):
    items: list[AuditOut]
    next: str | None  # pass back as `after` for the next page


def _cursor(after: str | None) -> tuple[int, int] | None:
    if not after:
        return None
    notification, _, item = after.partition(".")
    try:
        cursor = int(notification), int(item or 0)
    except ValueError:
        cursor = (-1, -1)
    if not all(0 <= n < 2**63 for n in cursor):
        raise InvalidCommand("after is not a cursor returned by a previous page")
    return cursor


def as_csv(rows: list[AuditOut]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    columns = AuditOut.__struct_fields__
    writer.writerow(columns)
    for row in rows:
        values = msgspec.to_builtins(row)
        writer.writerow(
            msgspec.json.encode(values[c]).decode() if isinstance(values[c], dict) else values[c] for c in columns
        )
    return out.getvalue()


class AuditReports:
    def __init__(
        self, ledger: RecordingLedger, views: ViewStore, projections: Projections, access: AccessControl
    ) -> None:
        self._ledger = ledger
        self._views = views
        self._projections = projections
        self._access = access

    def trail(self, principal: Principal, request: AuditRequest) -> AuditPage:
        """Entries in log order, with customer, interaction type and metadata of each recording."""
        filters = {k: str(v) for k, v in msgspec.structs.asdict(request).items() if v is not None}
        self._access.allow(principal, Action.AUDIT_READ, filters)
        # The trail as of now, whoever logged it: a report must not miss what another
        # process recorded (the command line, another server), so it always catches up.
        self._projections.catch_up(views=["audit_trail"])
        query = AuditQuery(
            actor=request.actor,
            recording_id=request.recording,
            action=request.action,
            outcome=request.outcome,
            since=request.since,
            until=request.until,
            after=_cursor(request.after),
            limit=request.limit,
        )
        rows = reveal_audit(self._ledger, self._views, self._views.audit(query))
        # Reading the trail is itself an entry in it, listing the recordings the report covered.
        covered = sorted({r.recording_id for r in rows if r.recording_id is not None})
        self._access.record(principal, Action.AUDIT_READ, Outcome.ALLOWED, covered, filters)
        last = rows[-1] if len(rows) == request.limit else None
        return AuditPage(items=rows, next=f"{last.notification_id}.{last.item}" if last else None)
