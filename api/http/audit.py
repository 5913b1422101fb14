"""The audit trail, filtered, as JSON or CSV; producing a report is itself audited."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, get
from litestar.params import FromQuery, QueryParameter

from adapters.view_rows import AuditQuery
from api.http.context import Caller, Services
from api.http.schemas import AuditPage
from api.services.access import allow, asked, record
from api.services.reveal import AuditOut, reveal_audit
from domain.access_record import Outcome
from domain.errors import InvalidCommand
from domain.permissions import Action


def parse_cursor(after: str | None) -> tuple[int, int] | None:
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


class AuditTrail(Controller):
    path = "/v1/audit"
    tags = ["audit"]

    @get("/", sync_to_thread=True, summary="Audit trail entries in log order (JSON page or CSV report)")
    def trail(
        self,
        principal: Caller,
        runtime: Services,
        actor: FromQuery[str | None] = None,
        recording: FromQuery[UUID | None] = None,
        action: FromQuery[str | None] = None,
        outcome: FromQuery[Literal["allowed", "refused"] | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        after: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        format: FromQuery[Literal["json", "csv"]] = "json",  # noqa: A002
    ) -> Response[AuditPage] | Response[str]:
        filters = asked(locals())
        allow(runtime, principal, Action.AUDIT_READ, filters)
        runtime.fresh("audit_trail")
        rows = reveal_audit(
            runtime.ledger,
            runtime.views.audit(
                AuditQuery(
                    actor=actor,
                    recording_id=recording,
                    action=action,
                    outcome=outcome,
                    since=since,
                    until=until,
                    after=parse_cursor(after),
                    limit=limit,
                )
            ),
        )
        # Reading the trail is itself an entry in it, listing the recordings the report covered.
        covered = sorted({r.recording_id for r in rows if r.recording_id is not None})
        record(runtime, principal, Action.AUDIT_READ, Outcome.ALLOWED, covered, filters)
        if format == "csv":
            return Response(
                as_csv(rows),
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'},
            )
        last = rows[-1] if len(rows) == limit else None
        return Response(AuditPage(items=rows, next=f"{last.notification_id}.{last.item}" if last else None))
