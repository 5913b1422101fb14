"""The fast tier: domain rules and application services on eventsourcing's in-memory store.

Nothing here reaches a database or writes a store file, so this folder runs on
its own, in seconds, with no PostgreSQL and no SQLite:

    .venv/bin/python -m pytest -q tests/unit

The engine fixtures of tests/conftest.py are replaced here by ones that fail,
and opening a SQLite or PostgreSQL connection fails the test: a test that needs
an engine belongs to the SQLite x PostgreSQL matrix in tests/, not here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any, NoReturn

import psycopg
import pytest
from eventsourcing.utils import get_topic

from adapters.event_codec import MsgspecMapper
from domain.ledger import RecordingLedger

IN_MEMORY = {
    "PERSISTENCE_MODULE": "eventsourcing.popo",
    # The events' own codec, as stored on disk (without the field cipher): eventsourcing's
    # default JSON transcoder cannot encode the domain's values (PolicyTerms, HoldCriteria).
    "MAPPER_TOPIC": get_topic(MsgspecMapper),
}
MATRIX = "this test needs an engine: it belongs to the SQLite x PostgreSQL matrix in tests/, not to tests/unit"


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError(MATRIX)

    monkeypatch.setattr(sqlite3, "connect", refuse)
    # psycopg.connect is a second name for the class method; the pool calls the class's own.
    monkeypatch.setattr(psycopg, "connect", refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", refuse)


@pytest.fixture
def ledger() -> Iterator[RecordingLedger]:
    """A ledger on eventsourcing's in-memory store, whatever the environment says."""
    app = RecordingLedger(env=IN_MEMORY)
    yield app
    app.close()


def _refused(name: str) -> Any:
    """A fixture named like one of the engine fixtures of tests/conftest.py, failing the test that asks for it."""

    @pytest.fixture(name=name)
    def engine_fixture() -> NoReturn:
        pytest.fail(f"{name}: {MATRIX}")

    return engine_fixture


settings = _refused("settings")
postgres_admin = _refused("postgres_admin")
postgres_url = _refused("postgres_url")
projections = _refused("projections")
api = _refused("api")
live_server = _refused("live_server")
