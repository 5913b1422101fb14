"""The ``callvault`` command line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

import click
import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from adapters.migrate import migrate as apply_migrations
from api.cli.context import Context, cli_actor, parse_time, pass_context
from api.cli.log import keys, verify
from api.cli.retention import report, retention
from api.cli.simulation import DayPlan, plan_day, run_day
from api.services.recordings import SearchRequest, parse_tags
from domain.errors import DomainError
from domain.identity import Role
from domain.recording import recording_id_for

# Piped output (CI logs, files) gets wide rows instead of wrapped cells.
console = Console(width=None if sys.stdout.isatty() else 220)
log = structlog.get_logger("callvault.cli")


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Any]:
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def parse_recording(value: str) -> UUID:
    """A recording id, or the interaction id it derives from."""
    try:
        return UUID(value)
    except ValueError:
        return recording_id_for(value)


@click.group()
@click.pass_context
def main(click_context: click.Context) -> None:
    """callvault: the compliance-grade recording ledger."""
    # Whatever a command opened (pools, the views follower's store) is closed when it ends.
    click_context.call_on_close(lambda: click_context.obj.close() if isinstance(click_context.obj, Context) else None)


@main.command()
@pass_context
def migrate(ctx: Context) -> None:
    """Create or upgrade the event log and view tables."""
    applied = apply_migrations(ctx.settings)
    console.print(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@main.command()
@click.option("--agents", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--calls", default=2000, show_default=True, type=click.IntRange(0, 10_000_000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--day", default=None, help="Date of the simulated shift (YYYY-MM-DD), default today.")
@click.option(
    "--screen-share",
    default=None,
    type=click.FloatRange(0, 1),
    help="Set the policy's screen sampling to this share first (a new policy version).",
)
@pass_context
def simulate(ctx: Context, agents: int, calls: int, seed: int, day: str | None, screen_share: float | None) -> None:
    """Write a realistic contact-center day through the ledger, then update the views."""
    date = datetime.fromisoformat(day).date() if day else datetime.now(UTC).date()
    if screen_share is not None:
        ctx.components.ledger.set_policy(
            terms=replace(ctx.components.ledger.current_policy()[1], sampling_percent=screen_share * 100),
            reason="callvault simulate --screen-share",
            occurred_at=datetime.now(UTC),
            by=cli_actor(),
        )
    plan = DayPlan(
        agents=agents,
        calls=calls,
        seed=seed,
        sampling=ctx.components.ledger.current_policy()[1],
        start=datetime.combine(date, time(8), tzinfo=UTC),
    )
    steps = plan_day(plan)
    with progress_bar("writing events", len(steps)) as advance:
        written = run_day(ctx.components.ledger, steps, advance)
    projections = ctx.components.projections
    with progress_bar("updating views", sum(lag.behind for lag in projections.status())) as advance:
        projections.catch_up(advance)
    log.info("simulated day", calls=calls, agents=agents, events=written)
    console.print(f"{calls} calls by {agents} agents: {written} events written")


@main.command()
@click.option("--agent")
@click.option("--customer")
@click.option("--queue")
@click.option("--direction", type=click.Choice(["inbound", "outbound", "internal"]))
@click.option("--status", type=click.Choice(["active", "paused", "acw", "complete", "archived", "purged"]))
@click.option("--from", "started_from", help="Started at or after (ISO 8601).")
@click.option("--until", "started_until", help="Started before (ISO 8601).")
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE, repeatable.")
@click.option("--missing/--no-missing", default=None, help="Only recordings with (or without) missing segments.")
@click.option("--hold/--no-hold", default=None, help="Only recordings under (or free of) legal hold.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--after", help="Cursor printed under the previous page.")
@click.option("--as", "as_user", help="Search as this user (their reach; the audit trail names them).")
@pass_context
def search(
    ctx: Context,
    /,
    *,
    agent: str | None,
    customer: str | None,
    queue: str | None,
    direction: str | None,
    status: str | None,
    started_from: str | None,
    started_until: str | None,
    tags: tuple[str, ...],
    missing: bool | None,
    hold: bool | None,
    limit: int,
    after: str | None,
    as_user: str | None,
) -> None:
    """Find recordings in the search view (catches the view up first); the search is audited."""
    try:
        tag_filters = parse_tags(list(tags))
    except DomainError as bad:
        raise click.BadParameter(str(bad), param_hint="--tag") from None
    request = SearchRequest(
        agent=agent,
        customer=customer,
        queue=queue,
        direction=direction,
        status=status,
        started_from=parse_time(started_from),
        started_until=parse_time(started_until),
        tag=tag_filters,
        missing=missing,
        hold=hold,
        limit=limit,
        after=after,
    )
    try:
        page = ctx.components.recordings.search(ctx.reader(as_user), request)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    table = Table(
        "started",
        "recording",
        "interaction",
        "agent",
        "customer",
        "queue",
        "dir",
        "status",
        "talk",
        "segs",
        "missing",
        "hold",
        "tags",
    )
    for r in page.items:
        table.add_row(
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            str(r.recording_id),
            r.interaction_id,
            r.agent_id,
            r.customer_id,
            r.queue,
            r.direction,
            r.status,
            f"{r.duration_ms // 1000}s" if r.duration_ms is not None else "-",
            str(r.segments_received) if r.screen_selected else "-",
            ",".join(map(str, r.missing_segments)) or "-",
            ",".join(r.hold_cases) or "-",
            " ".join(f"{k}={v}" for k, v in sorted(r.tags.items())),
        )
    console.print(table)
    console.print(f"{len(page.items)} recording(s)")
    if page.next is not None:
        console.print(f"next page: --after {page.next}")


@main.command()
@click.argument("recording")
@click.option("--as-of", help="Replay up to this recorded time (ISO 8601).")
@click.option("--version", type=click.IntRange(1), help="Replay up to this event version.")
@click.option("--as", "as_user", help="Replay as this user (the audit trail names them).")
@pass_context
def history(ctx: Context, recording: str, as_of: str | None, version: int | None, as_user: str | None) -> None:
    """The events of one recording (id or interaction id) in order, and its state then; audited."""
    try:
        replay = ctx.components.recordings.history(
            ctx.reader(as_user), parse_recording(recording), as_of=parse_time(as_of), version=version
        )
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    table = Table("v", "recorded", "occurred", "event", "actor", "role", "details")
    for event in replay.events:
        table.add_row(
            str(event.version),
            event.recorded_at.isoformat(timespec="milliseconds"),
            event.occurred_at.isoformat(timespec="milliseconds"),
            event.type,
            event.actor,
            event.role,
            " ".join(f"{k}={v}" for k, v in event.data.items()),
        )
    console.print(table)
    state = replay.state
    console.print(
        f"state: {state.status}; segments {len(state.segments)}; "
        f"holds {', '.join(state.legal_holds) or 'none'}; version {replay.version}"
    )


@main.command()
@click.option("--host", default=None, help="Default CALLVAULT_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default CALLVAULT_PORT (8000).")
@pass_context
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Run the HTTP API (migrates the store first; OpenAPI at /schema)."""
    import uvicorn

    from api.gc_tuning import tune_for_service
    from api.http.app import create_app

    app = create_app(ctx.settings)
    tune_for_service()
    uvicorn.run(
        app,
        host=host or ctx.settings.host,
        port=port or ctx.settings.port,
        log_config=None,
        access_log=False,  # structlog writes one line per request
    )


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False)
@click.pass_context
def capture(ctx: click.Context) -> None:
    """Run the desktop capture client (see `callvault capture --help`)."""
    from capture_client.cli import main as capture_main  # the client needs none of the server

    sys.exit(capture_main(ctx.args))


@main.group()
def users() -> None:
    """Users and their bearer tokens."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--team", default=None, help="Team name (agents must have one).")
@pass_context
def users_add(ctx: Context, name: str, role: str, team: str | None) -> None:
    """Create a user and print its bearer token (shown only this once)."""
    try:
        _, token = ctx.components.identity.register_user(name=name, role=role, team=team, by=cli_actor())
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(token)


@main.group()
def teams() -> None:
    """Teams and who answers for them."""


@teams.command("add")
@click.argument("name")
@click.option("--parent", default=None, help="The team this one sits under.")
@pass_context
def teams_add(ctx: Context, name: str, parent: str | None) -> None:
    """Create a team."""
    try:
        ctx.components.identity.create_team(name=name, parent=parent, by=cli_actor())
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    console.print(f"team {name} created")


@main.command()
@pass_context
def checkpoint(ctx: Context) -> None:
    """Sign the log's current tree head now (the server also does so every few minutes)."""
    size, note = ctx.components.transparency.sign_checkpoint()
    click.echo(note.decode(), nl=False)
    log.info("checkpoint signed", tree_size=size)


main.add_command(keys)
main.add_command(verify)
main.add_command(retention)
main.add_command(report)


@main.group()
def projections() -> None:
    """Views folded from the log."""


@projections.command("status")
@pass_context
def projections_status(ctx: Context) -> None:
    """Each view's position in the log and how far it lags."""
    table = Table("view", "position", "log head", "lag (events)")
    for lag in ctx.components.projections.status():
        table.add_row(lag.view, str(lag.position), str(lag.head), str(lag.behind))
    console.print(table)


@projections.command("rebuild")
@click.argument("views", nargs=-1)
@pass_context
def projections_rebuild(ctx: Context, views: tuple[str, ...]) -> None:
    """Empty views (default: all) and fold them again from the whole log."""
    runner = ctx.components.projections
    try:
        chosen = list(views) or runner.names()
        total = sum(runner.followers[v].lag().head for v in chosen if v in runner.followers)
        with progress_bar("rebuilding", total) as advance:
            applied = runner.rebuild(chosen, advance)
    except KeyError as error:
        raise click.ClickException(str(error.args[0])) from None
    log.info("views rebuilt", views=chosen, events=applied)
    console.print(f"rebuilt {', '.join(chosen)} from {applied} events")
