"""A store ready for a server: migrated, with one team ("floor") and the users a test acts as."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.event_store import open_ledger
from adapters.migrate import migrate
from adapters.settings import Settings
from domain.values import Actor

# (name, role, team) of each user to register.
TELEPHONY_AND_AGENT = [("pbx", "telephony", None), ("agent-1", "agent", "floor")]


def provision(
    settings: Settings,
    users: list[tuple[str, str, str | None]] = TELEPHONY_AND_AGENT,
    supervisors: tuple[str, ...] = (),
) -> dict[str, str]:
    """Migrates the store and registers ``users`` (``supervisors`` answer for the team);
    returns each one's bearer token by name."""
    migrate(settings)
    ledger = open_ledger(settings, group_commit=False)
    try:
        setup, now = Actor("test-setup", "admin"), datetime.now(UTC)
        ledger.create_team(name="floor", parent=None, occurred_at=now, by=setup)
        tokens = {
            name: ledger.register_user(name=name, role=role, team=team, occurred_at=now, by=setup)[1]
            for name, role, team in users
        }
        for name in supervisors:
            ledger.make_responsible("floor", user=name, occurred_at=now, by=setup)
        return tokens
    finally:
        ledger.close()
