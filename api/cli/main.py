"""The ``callvault`` command line."""

from __future__ import annotations

import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime, time
from types import FrameType

import click
import structlog

from adapters.migrate import migrate as apply_migrations
from api.cli.context import Context, cli_actor, pass_context
from api.cli.demo import demo
from api.cli.directory import teams, users
from api.cli.log import keys, verify
from api.cli.output import console, progress_bar
from api.cli.recordings import history, search
from api.cli.reports import add_reports
from api.cli.retention import report, retention
from api.cli.simulation import DayPlan, plan_day, run_day
from api.cli.transcription import transcribe
from api.cli.views import projections

log = structlog.get_logger("callvault.cli")


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
@click.option("--host", default=None, help="Default CALLVAULT_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default CALLVAULT_PORT (8000).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port, to use every core (PostgreSQL only).",
)
@pass_context
def serve(ctx: Context, host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP API (migrates the store first; OpenAPI at /schema)."""
    import uvicorn

    from api.gc_tuning import tune_for_service
    from api.http.app import create_app

    # On SIGTERM uvicorn stops listening, finishes the requests in flight, then shuts the app
    # down (the group committer stores what is queued) and raises SIGTERM again once its own
    # handler is gone: this one makes that, or a SIGTERM before uvicorn listens, a clean exit.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    if workers == 1:
        app = create_app(ctx.settings)
        tune_for_service()
        uvicorn.run(
            app,
            host=host or ctx.settings.host,
            port=port or ctx.settings.port,
            log_config=None,
            access_log=False,  # structlog writes one line per request
        )
        return
    if not ctx.settings.uses_postgres:
        raise click.UsageError(
            "--workers needs PostgreSQL (CALLVAULT_DATABASE_URL): the embedded store is one process's"
        )
    # The workers would race to migrate and to create the key files on a new store: done once, here.
    ctx.components  # noqa: B018  (built for what building does)
    ctx.close()
    # Each worker is a server of its own, as on another machine: they share the views and the
    # scheduled jobs through the store (adapters/view_leases.py, adapters/job_claims.py).
    uvicorn.run(
        "api.http.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host or ctx.settings.host,
        port=port or ctx.settings.port,
        log_config=None,
        access_log=False,
    )


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    log.info("server stopped", signal=signal.Signals(signum).name)
    raise SystemExit(0)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False)
@click.pass_context
def capture(ctx: click.Context) -> None:
    """Run the desktop capture client (see `callvault capture --help`)."""
    try:
        from capture_client.cli import main as capture_main  # the client needs none of the server
    except ImportError as missing:  # the server is installed without the desktop's libraries
        raise click.ClickException(f"{missing}: install callvault[capture] to run the capture client here") from None
    sys.exit(capture_main(ctx.args))


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
add_reports(report)
main.add_command(report)
main.add_command(search)
main.add_command(history)
main.add_command(users)
main.add_command(teams)
main.add_command(projections)
main.add_command(demo)
main.add_command(transcribe)
