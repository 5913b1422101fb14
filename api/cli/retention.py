"""`callvault retention run` and `callvault report audit`: the retention job and the
compliance report from the command line, each leaving its own record in the log."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
import msgspec

from api.cli.context import Context, cli_actor, parse_time, pass_context
from api.services.audit_reports import AuditRequest, as_csv
from domain.errors import DomainError


@click.group()
def retention() -> None:
    """Archive and purge what the recording policy says is due."""


@retention.command("run")
@click.option("--at", "at", default=None, help="Run as of this ISO 8601 time (default: now).")
@pass_context
def retention_run(ctx: Context, at: str | None) -> None:
    """Archive and purge due recordings now (the server also does this on a schedule)."""
    outcome = ctx.components.retention.run(parse_time(at) or datetime.now(UTC), by=cli_actor())
    click.echo(f"archived {len(outcome.archived)}, purged {len(outcome.purged)}, kept by holds {len(outcome.kept)}")
    for recording_id, why in sorted(outcome.kept.items()):
        click.echo(f"kept {recording_id}: {why}")


@click.group()
def report() -> None:
    """Compliance and historical reports."""


@report.command("audit")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--actor", default=None)
@click.option("--action", default=None, help="e.g. play, export, purged, archived, audit_report")
@click.option("--since", default=None, help="ISO 8601")
@click.option("--until", default=None, help="ISO 8601")
@click.option("--limit", default=100_000, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--as", "as_user", help="Report as this user (the audit trail names them).")
@pass_context
def report_audit(
    ctx: Context,
    fmt: str,
    actor: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_user: str | None,
) -> None:
    """Who did what to which recording, when and why, with customer, interaction type and metadata.

    Producing the report is itself recorded in the audit trail."""
    request = AuditRequest(
        actor=actor, action=action, since=parse_time(since), until=parse_time(until), limit=limit, format=fmt
    )
    try:
        rows = ctx.components.audit_reports.trail(ctx.reader(as_user), request).items
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    sys.stdout.write(as_csv(rows) if fmt == "csv" else msgspec.json.encode(rows).decode() + "\n")
