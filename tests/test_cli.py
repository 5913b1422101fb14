"""The command line as an operator uses it, on both engines."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner, Result

from adapters.settings import Settings
from api.cli import main


@pytest.fixture
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    if settings.database_url:
        monkeypatch.setenv("CALLVAULT_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("CALLVAULT_DATABASE_URL", raising=False)
        monkeypatch.setenv("CALLVAULT_SQLITE_PATH", settings.sqlite_path)
    monkeypatch.setenv("CALLVAULT_LOG_JSON", "true")
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_simulate_then_search_by_agent(run) -> None:
    assert run("migrate").exit_code == 0
    assert "up to date" in run("migrate").output
    simulated = run("simulate", "--agents", "4", "--calls", "30", "--seed", "3", "--day", "2026-11-20")
    assert simulated.exit_code == 0, simulated.output
    assert "30 calls by 4 agents" in simulated.output
    found = run("search", "--agent", "agent-002", "--limit", "1000")
    assert found.exit_code == 0
    lines = [line for line in found.output.splitlines() if "sim-3-" in line]
    assert lines and all("agent-002" in line for line in lines)
    assert f"{len(lines)} recording(s)" in found.output
    everyone = run("search", "--limit", "1000")
    assert "30 recording(s)" in everyone.output


def test_search_pages_with_the_printed_cursor(run) -> None:
    run("simulate", "--agents", "2", "--calls", "12", "--day", "2026-11-20")
    first = run("search", "--limit", "5")
    cursor = first.output.split("next page: ")[1].split()[1]
    second = run("search", "--limit", "5", "--after", cursor)
    firsts = set(re.findall(r"sim-1-\d+", first.output))
    seconds = set(re.findall(r"sim-1-\d+", second.output))
    assert len(firsts) == len(seconds) == 5 and not firsts & seconds


def test_history_status_and_rebuild(run) -> None:
    run("simulate", "--agents", "2", "--calls", "5", "--day", "2026-11-20")
    history = run("history", "sim-1-000001")
    assert history.exit_code == 0
    assert history.output.index("CallStarted") < history.output.index("CallEnded") < history.output.index("AcwEnded")
    assert "state: complete" in history.output
    early = run("history", "sim-1-000001", "--version", "1")
    assert "state: active" in early.output and "CallEnded" not in early.output
    status = run("projections", "status")
    assert "recordings" in status.output and "audit_trail" in status.output
    rebuilt = run("projections", "rebuild")
    assert rebuilt.exit_code == 0 and "rebuilt recordings, audit_trail" in rebuilt.output
    assert "5 recording(s)" in run("search").output


def test_bad_input_gets_a_clear_error(run) -> None:
    run("migrate")
    bad_tag = run("search", "--tag", "novalue")
    assert bad_tag.exit_code == 2 and "KEY=VALUE" in bad_tag.output
    bad_time = run("search", "--from", "yesterday")
    assert bad_time.exit_code == 2 and "ISO 8601" in bad_time.output
    unknown = run("history", "no-such-interaction")
    assert unknown.exit_code == 1 and "no recording" in unknown.output
    unknown_view = run("projections", "rebuild", "nonsense")
    assert unknown_view.exit_code == 1 and "no such view" in unknown_view.output
