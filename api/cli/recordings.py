"""`callvault search` and `callvault history`: the HTTP API's reads, from the command line."""

from __future__ import annotations

from uuid import UUID

import click
from rich.table import Table

from api.cli.context import Context, parse_time, pass_context
from api.cli.output import console
from api.services.recordings import SearchRequest, parse_tags
from domain.errors import DomainError
from domain.recording import recording_id_for


def parse_recording(value: str) -> UUID:
    """A recording id, or the interaction id it derives from."""
    try:
        return UUID(value)
    except ValueError:
        return recording_id_for(value)


@click.command()
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


@click.command()
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
