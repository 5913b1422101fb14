"""Engines for the integration suites: every test that takes ``settings`` runs on both.

PostgreSQL tests get a fresh database each. Without a reachable server they
skip locally; with CI=true they fail instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

import psycopg
import pytest

from adapters.event_store import open_ledger, open_view_store
from adapters.migrate import migrate
from adapters.settings import Settings
from domain.ledger import RecordingLedger
from projections.runner import Projections

ADMIN_URL = os.environ.get("CALLVAULT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _database_url(name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL must be reachable in CI: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")
    yield ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin: str) -> Iterator[str]:
    name = f"callvault_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_url(name)
    finally:
        with psycopg.connect(postgres_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path) -> Settings:
    if request.param == "sqlite":
        return Settings(sqlite_path=str(tmp_path / "callvault.sqlite3"))
    return Settings(database_url=request.getfixturevalue("postgres_url"))


@pytest.fixture(params=[False, True], ids=["plain", "group-commit"])
def group_commit(request: pytest.FixtureRequest) -> bool:
    return request.param


@pytest.fixture
def ledger(settings: Settings, group_commit: bool) -> Iterator[RecordingLedger]:
    migrate(settings)
    app = open_ledger(settings, group_commit=group_commit)
    yield app
    app.close()


@pytest.fixture
def projections(ledger: RecordingLedger, settings: Settings) -> Projections:
    return Projections(ledger, open_view_store(ledger), batch_size=50)


# -- the HTTP API, with a small org ------------------------------------------

TEAMS = [("north", None), ("north-east", "north"), ("south", None)]
USERS = [
    ("root", "admin", None),
    ("pbx", "telephony", None),
    ("agent-n", "agent", "north-east"),
    ("agent-s", "agent", "south"),
    ("sue", "supervisor", None),
    ("sam", "supervisor", None),
    ("quinn", "quality", None),
    ("lena", "legal", None),
    ("aud", "auditor", None),
]
RESPONSIBLE = [("north", "sue"), ("south", "sam"), ("north-east", "quinn")]


@dataclass
class Api:
    client: Any
    tokens: dict[str, str]

    @property
    def runtime(self) -> Any:
        return self.client.app.state.runtime

    def call(self, user: str | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    from litestar.testing import TestClient

    from api.app import create_app
    from domain.values import Actor

    with TestClient(app=create_app(msgspec.structs.replace(settings, log_json=True))) as client:
        ledger = client.app.state.runtime.ledger
        now = datetime.now(UTC)
        setup = Actor("test-setup", "admin")
        for name, parent in TEAMS:
            ledger.create_team(name=name, parent=parent, occurred_at=now, by=setup)
        tokens = {}
        for name, role, team in USERS:
            tokens[name] = ledger.register_user(name=name, role=role, team=team, occurred_at=now, by=setup)[1]
        for team, user in RESPONSIBLE:
            ledger.make_responsible(team, user=user, occurred_at=now, by=setup)
        client.app.state.runtime.directory_changed()
        yield Api(client, tokens)
