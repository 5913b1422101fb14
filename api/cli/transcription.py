"""`callvault transcribe`: the server's own transcriber as a process of its own.

Transcription is CPU-bound (pocketsphinx runs at about a third of real time on one
core), so a busy center runs it beside the servers instead of in them; it resumes
from its position in the log whichever process ran it last.
"""

from __future__ import annotations

import time

import click
import structlog

from api.cli.context import Context, pass_context

log = structlog.get_logger(__name__)


@click.command()
@click.option("--follow", is_flag=True, help="Keep transcribing new voice uploads until stopped.")
@pass_context
def transcribe(ctx: Context, follow: bool) -> None:
    """Transcribe the voices uploaded since the last run (CALLVAULT_TRANSCRIBER names the engine)."""
    transcription = ctx.components.transcription
    if transcription is None:
        raise click.ClickException("no transcriber is set: CALLVAULT_TRANSCRIBER=pocketsphinx (the `speech` extra)")
    while True:
        recorded = transcription.run()
        click.echo(f"transcribed {recorded} recording(s)")
        if not follow:
            return
        time.sleep(ctx.components.settings.transcribe_check_seconds)
