"""What every `callvault` command shares: settings, the ledger, the operator's identity."""

from __future__ import annotations

import getpass
import uuid
from datetime import UTC, datetime

import click
import structlog

from adapters.event_store import open_ledger, open_view_store
from adapters.settings import Settings
from api.logging import configure_logging
from domain.ledger import RecordingLedger
from domain.values import Actor
from projections.runner import Projections


def cli_actor() -> Actor:
    """Operator commands run with the machine's trust; the log names who ran them."""
    return Actor(f"cli:{getpass.getuser()}", "admin")


class Context:
    def __init__(self) -> None:
        self.settings = Settings.from_env()
        configure_logging(self.settings)
        structlog.contextvars.bind_contextvars(request_id=str(uuid.uuid4()), actor=f"cli:{getpass.getuser()}")
        self._ledger: RecordingLedger | None = None

    @property
    def ledger(self) -> RecordingLedger:
        if self._ledger is None:
            self._ledger = open_ledger(self.settings, group_commit=False)
        return self._ledger

    def projections(self) -> Projections:
        return Projections(self.ledger, open_view_store(self.ledger), batch_size=self.settings.projection_batch_size)


pass_context = click.make_pass_decorator(Context, ensure=True)


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
