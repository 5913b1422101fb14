"""The audit trail over HTTP, as a JSON page or a CSV report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from api.http.context import Caller, provide
from api.http.guards import may
from api.services.audit_reports import AuditPage, AuditReports, AuditRequest, as_csv
from domain.permissions import Action


class AuditTrail(Controller):
    path = "/v1/audit"
    tags = ["audit"]
    dependencies = provide("audit_reports")

    @get(
        "/",
        guards=[may(Action.AUDIT_READ)],
        sync_to_thread=True,
        summary="Audit trail entries in log order (JSON page or CSV report)",
    )
    def trail(
        self,
        principal: Caller,
        audit_reports: NamedDependency[AuditReports],
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
        request = AuditRequest(
            actor=actor,
            recording=recording,
            action=action,
            outcome=outcome,
            since=since,
            until=until,
            after=after,
            limit=limit,
            format=format,
        )
        page = audit_reports.trail(principal, request)
        if format == "csv":
            return Response(
                as_csv(page.items),
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'},
            )
        return Response(page)
