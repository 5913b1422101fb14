"""A real client against a running server: schemathesis fuzzes every operation of
the live OpenAPI spec, as several roles, on both engines; no request may get a 5xx."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings as hypothesis_settings

from adapters.event_store import open_ledger
from adapters.migrate import migrate
from adapters.settings import Settings
from api.app import create_app
from domain.values import Actor

EXAMPLES = 15
ROLES = [("pbx", "telephony", None), ("lena", "legal", None), ("root", "admin", None), ("agent-1", "agent", "floor")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(settings: Settings) -> Iterator[tuple[str, list[str]]]:
    migrate(settings)
    ledger = open_ledger(settings, group_commit=False)
    setup = Actor("test-setup", "admin")
    ledger.create_team(name="floor", parent=None, occurred_at=datetime.now(UTC), by=setup)
    tokens = [ledger.register_user(name=n, role=r, team=t, occurred_at=datetime.now(UTC), by=setup)[1]
              for n, r, t in ROLES]
    ledger.close()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}", tokens
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_no_request_produces_a_server_error(live_server: tuple[str, list[str]]) -> None:
    base_url, tokens = live_server
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    server_errors: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
        )
        def exercise(case: schemathesis.Case) -> None:
            for token in tokens:
                response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
                if response.status_code >= 500:
                    server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                         f"{response.text[:200]}")

        exercise()
    assert server_errors == []
