"""`callvault report <name>`: the historical reports from the command line, audited as over HTTP."""

from __future__ import annotations

import sys
from datetime import datetime

import click
import msgspec

from api.cli.context import Context, parse_time, pass_context
from api.services.reports import REPORTS, ReportRequest, as_csv
from domain.errors import DomainError


def _time(_: click.Context, __: click.Parameter, value: str) -> datetime:
    """A date or a time (UTC unless it names a zone)."""
    moment = parse_time(value)
    if moment is None:  # never: the options that use this are required
        raise click.BadParameter("a date or time is required")
    return moment


def _report_command(name: str) -> click.Command:
    kind = REPORTS[name]

    @click.command(
        name, short_help=kind.title, help=f"{kind.about} Producing the report is recorded in the audit trail."
    )
    @click.option("--from", "started_from", required=True, callback=_time, help="Range start (ISO 8601), included.")
    @click.option("--to", "started_until", required=True, callback=_time, help="Range end (ISO 8601), excluded.")
    @click.option("--agent", default=None)
    @click.option("--team", default=None, help="The team and the teams below it.")
    @click.option("--queue", default=None)
    @click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
    @click.option("--as", "as_user", help="Report as this user (their reach; the audit trail names them).")
    @pass_context
    def produce(
        ctx: Context,
        started_from: datetime,
        started_until: datetime,
        agent: str | None,
        team: str | None,
        queue: str | None,
        fmt: str,
        as_user: str | None,
    ) -> None:
        request = ReportRequest(
            started_from=started_from,
            started_until=started_until,
            agent=agent,
            team=team,
            queue=queue,
            format=fmt,
        )
        try:
            report = ctx.components.reports.produce(ctx.reader(as_user), name, request)
        except DomainError as error:
            raise click.ClickException(str(error)) from None
        sys.stdout.write(as_csv(report) if fmt == "csv" else msgspec.json.encode(report).decode() + "\n")

    return produce


def add_reports(group: click.Group) -> None:
    """One subcommand of ``callvault report`` per historical report."""
    for name in REPORTS:
        group.add_command(_report_command(name))
