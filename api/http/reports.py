"""The historical reports over HTTP, as JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from api.http.context import Caller, provide
from api.http.guards import may
from api.services.reports import REPORTS, Report, ReportRequest, Reports, as_csv
from domain.permissions import Action


class ReportInfo(msgspec.Struct):
    name: str
    title: str
    about: str
    columns: list[str]


class ReportRoutes(Controller):
    path = "/v1/reports"
    tags = ["reports"]
    dependencies = provide("reports")

    @get("/", guards=[may(Action.REPORT_READ)], summary="The historical reports there are")
    async def index(self) -> list[ReportInfo]:
        return [ReportInfo(name, k.title, k.about, list(k.row.__struct_fields__)) for name, k in REPORTS.items()]

    @get(
        "/{name:str}",
        guards=[may(Action.REPORT_READ)],
        sync_to_thread=True,
        summary="One report over [from, to), within the caller's teams (JSON or CSV)",
        description="Calls count by when they started, evaluations by when they were submitted, by UTC day.",
    )
    def report(
        self,
        principal: Caller,
        reports: NamedDependency[Reports],
        name: FromPath[str],
        started_from: Annotated[datetime, QueryParameter(name="from", description="ISO 8601; without a zone, UTC")],
        started_until: Annotated[datetime, QueryParameter(name="to", description="ISO 8601, exclusive")],
        agent: FromQuery[str | None] = None,
        team: FromQuery[str | None] = None,
        queue: FromQuery[str | None] = None,
        format: FromQuery[Literal["json", "csv"]] = "json",  # noqa: A002
    ) -> Response[Report] | Response[str]:
        request = ReportRequest(
            started_from=started_from,
            started_until=started_until,
            agent=agent,
            team=team,
            queue=queue,
            format=format,
        )
        produced = reports.produce(principal, name, request)
        if format == "csv":
            return Response(
                as_csv(produced),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{produced.report}.csv"'},
            )
        return Response(produced)
