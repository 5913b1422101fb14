"""The stored-events table refuses change at the database level, not just in our code."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import psycopg
import pytest

from adapters.event_store import open_ledger
from adapters.migrate import migrate
from adapters.settings import Settings
from domain.commands import StartCall
from domain.values import Actor

PBX = Actor("pbx-1", "telephony")


def _log_one_call(settings: Settings) -> None:
    migrate(settings)
    ledger = open_ledger(settings)
    ledger.execute(
        StartCall(
            interaction_id="int-1",
            agent_id="a",
            customer_id="c",
            queue="q",
            direction="inbound",
            tags={},
            occurred_at=datetime.now(UTC),
            by=PBX,
        )
    )
    ledger.close()


def test_sqlite_refuses_update_and_delete(tmp_path) -> None:
    settings = Settings(sqlite_path=str(tmp_path / "cv.sqlite3"))
    _log_one_call(settings)
    conn = sqlite3.connect(settings.sqlite_path)
    before = conn.execute("SELECT * FROM stored_events").fetchall()
    for statement in ("UPDATE stored_events SET topic = 'forged'", "DELETE FROM stored_events"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
        conn.rollback()
    assert conn.execute("SELECT * FROM stored_events").fetchall() == before


STATEMENTS = ["UPDATE stored_events SET topic = 'forged'", "DELETE FROM stored_events", "TRUNCATE stored_events"]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_postgres_service_role_cannot_change_the_log(postgres_url: str, statement: str) -> None:
    settings = Settings(database_url=postgres_url)
    _log_one_call(settings)
    with psycopg.connect(postgres_url, options=f"-c role={settings.database_role}") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("callvault_service",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(statement)


@pytest.mark.parametrize("statement", STATEMENTS)
def test_postgres_owner_is_stopped_by_the_triggers(postgres_url: str, statement: str) -> None:
    settings = Settings(database_url=postgres_url)
    _log_one_call(settings)
    with psycopg.connect(postgres_url) as conn:
        before = conn.execute("SELECT * FROM stored_events").fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
        conn.rollback()
        assert conn.execute("SELECT * FROM stored_events").fetchall() == before


def test_postgres_service_role_holds_only_insert_and_select(postgres_url: str) -> None:
    settings = Settings(database_url=postgres_url)
    _log_one_call(settings)  # the service itself could write through the role
    with psycopg.connect(postgres_url) as conn:
        rights = {
            right: conn.execute(
                "SELECT has_table_privilege('callvault_service', 'stored_events', %s)", [right]
            ).fetchone()[0]
            for right in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
        }
    assert rights == {
        "SELECT": True,
        "INSERT": True,
        "UPDATE": False,
        "DELETE": False,
        "TRUNCATE": False,
        "REFERENCES": False,
        "TRIGGER": False,
    }
