"""Engines for the integration suites: every test that takes ``settings`` runs on both.

PostgreSQL tests get a fresh database each. Without a reachable server they
skip locally; with CI=true they fail instead, so CI can never pass by skipping.

Two tiers: tests/unit holds the domain's and the application services' rules on
the in-memory store (no engine; its conftest replaces these fixtures with ones
that fail); everything else here runs on the SQLite x PostgreSQL matrix. What
several test modules share lives in tests/support/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import msgspec
import psycopg
import pytest

from adapters.event_store import open_ledger, open_view_store
from adapters.migrate import migrate
from adapters.settings import Settings
from api.http.app import create_app
from bench.scratch_databases import create_scratch_database, drop_scratch_database
from domain.ledger import RecordingLedger
from domain.values import Actor
from projections.runner import Projections
from tests.support.api_client import Api

# One Chromium for the whole session, shared by every browser test module: Playwright's sync API
# cannot run two instances in one thread, so each module must not start its own.
from tests.support.browser import chromium, fresh_context  # noqa: F401  (fixtures: browser, browser_context)
from tests.support.display import two_monitors  # noqa: F401  (a fixture: the X display of the capture tests)
from tests.support.in_process_server import serving
from tests.support.provisioning import provision

ADMIN_URL = os.environ.get("CALLVAULT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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
    name, url = create_scratch_database(postgres_admin, prefix="callvault_test")
    try:
        yield url
    finally:
        drop_scratch_database(postgres_admin, name)


@pytest.fixture
def pg_ledger(postgres_url: str, tmp_path) -> Iterator[RecordingLedger]:
    """A plain ledger on PostgreSQL alone, for what only a server engine has (its pool, its sessions)."""
    settings = Settings(database_url=postgres_url, master_key_file=str(tmp_path / "master.key"), views_process=False)
    migrate(settings)
    ledger = open_ledger(settings, group_commit=False)
    yield ledger
    ledger.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path) -> Settings:
    # Not var/ in the checkout. Views follow in a thread: a process per test app would cost
    # a second of start-up each (tests/test_views_worker.py runs the process).
    common = dict(master_key_file=str(tmp_path / "master.key"), views_process=False)
    if request.param == "sqlite":
        return Settings(sqlite_path=str(tmp_path / "callvault.sqlite3"), **common)
    return Settings(database_url=request.getfixturevalue("postgres_url"), **common)


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


@pytest.fixture
def api(settings: Settings, tmp_path) -> Iterator[Api]:
    from litestar.testing import TestClient

    served = msgspec.structs.replace(
        settings, log_json=True, media_url=str(tmp_path / "media"), archive_url=str(tmp_path / "archive")
    )
    with TestClient(app=create_app(served)) as client:
        ledger = client.app.state.components.ledger
        now = datetime.now(UTC)
        setup = Actor("test-setup", "admin")
        for name, parent in TEAMS:
            ledger.create_team(name=name, parent=parent, occurred_at=now, by=setup)
        tokens = {}
        for name, role, team in USERS:
            tokens[name] = ledger.register_user(name=name, role=role, team=team, occurred_at=now, by=setup)[1]
        for team, user in RESPONSIBLE:
            ledger.make_responsible(team, user=user, occurred_at=now, by=setup)
        client.app.state.components.identity.directory_changed()
        yield Api(client, tokens)


# -- a live server on a real port ---------------------------------------------

LIVE_USERS = [
    ("pbx", "telephony", None),
    ("lena", "legal", None),
    ("root", "admin", None),
    ("agent-1", "agent", "floor"),
]


@pytest.fixture
def live_server(settings: Settings, tmp_path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real server (uvicorn) in this process, with one user of several roles."""
    tokens = provision(settings, LIVE_USERS)
    served = msgspec.structs.replace(settings, media_url=str(tmp_path / "media"), archive_url=str(tmp_path / "archive"))
    with serving(create_app(served)) as base_url:
        yield base_url, tokens
