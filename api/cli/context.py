"""What every `callvault` command shares: settings, the components, the operator's identity."""

from __future__ import annotations

import getpass
import uuid
from datetime import UTC, datetime

import click
import structlog

from adapters.settings import Settings
from api.bootstrap import Components, build
from api.logging import configure_logging
from domain.identity import Role
from domain.permissions import Principal
from domain.values import Actor

# Operators' ids derive from their login, so the trail names the same operator alike every run.
OPERATOR_NAMESPACE = uuid.UUID("0b7c3c1e-6a43-4f7e-9a0e-5d1f2b8c9e47")


def cli_actor() -> Actor:
    """Operator commands run with the machine's trust; the log names who ran them."""
    return Actor(f"cli:{getpass.getuser()}", "admin")


class Context:
    def __init__(self) -> None:
        self.settings = Settings.from_env()
        configure_logging(self.settings)
        structlog.contextvars.bind_contextvars(request_id=str(uuid.uuid4()), actor=f"cli:{getpass.getuser()}")
        self._components: Components | None = None

    @property
    def components(self) -> Components:
        """Built on first use (``callvault capture`` and ``--help`` need none of it), without server threads."""
        if self._components is None:
            self._components = build(self.settings, serving=False)
        return self._components

    def reader(self, name: str | None) -> Principal:
        """Who a read is made as, and recorded as: the user ``--as`` names, or the operator.

        The operator reads with an auditor's reach (every recording, the trail, no media),
        under their login, so the audit trail says which machine account looked.
        """
        if name is not None:
            principal = self.components.identity.principal_named(name)
            if principal is None:
                raise click.BadParameter(f"no active user named {name!r}", param_hint="--as")
            return principal
        login = f"cli:{getpass.getuser()}"
        return Principal(user_id=uuid.uuid5(OPERATOR_NAMESPACE, login), name=login, role=Role.AUDITOR, team_id=None)

    def close(self) -> None:
        if self._components is not None:
            self._components.close()


pass_context = click.make_pass_decorator(Context, ensure=True)


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
