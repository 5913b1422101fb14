"""`callvault projections`: the views folded from the log, their lag, and rebuilds."""

from __future__ import annotations

import click
import structlog
from rich.table import Table

from api.cli.context import Context, pass_context
from api.cli.output import console, progress_bar
from api.gc_tuning import tune_for_service
from api.jobs import views_rebuild

log = structlog.get_logger("callvault.cli")


@click.group()
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
        chosen = runner.check_names(views)
    except KeyError as error:
        raise click.ClickException(str(error.args[0])) from None
    # Each process that rebuilds a share of the views reads the whole log once.
    total = runner.followers[chosen[0]].lag().head * len(views_rebuild.shares(ctx.settings, runner, chosen))
    tune_for_service()  # on SQLite the views are folded in this process
    with progress_bar("rebuilding", total) as advance:
        applied = views_rebuild.rebuild(ctx.settings, runner, chosen, advance)
    log.info("views rebuilt", views=chosen, events=applied)
    console.print(f"rebuilt {', '.join(chosen)} from {applied} events")
