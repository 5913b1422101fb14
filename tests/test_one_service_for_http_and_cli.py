"""The HTTP API and the command line are two doors to the same use cases: a search, a history
replay and an audit report made through either one call the same service method, give the same
rows, and leave the same record in the audit trail (both engines)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from adapters.settings import Settings
from adapters.view_rows import AuditQuery
from api.cli.main import main
from api.services.audit_reports import AuditReports
from api.services.recordings import Recordings
from tests.support.api_client import Api
from tests.support.service import service_env

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the calls of each read service method, whichever door they came through."""
    counted: Counter[str] = Counter()
    for cls, name in [(Recordings, "search"), (Recordings, "history"), (AuditReports, "trail")]:
        original: Callable[..., Any] = getattr(cls, name)

        def spy(self: Any, *args: Any, _original: Callable[..., Any] = original, _name: str = name, **kw: Any) -> Any:
            counted[_name] += 1
            return _original(self, *args, **kw)

        monkeypatch.setattr(cls, name, spy)
    return counted


@pytest.fixture
def cli(api: Api, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``callvault`` in this process, on the same store and keys as the API under test."""
    settings: Settings = api.components.settings
    for name, value in service_env(settings).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def start_calls(api: Api, n: int) -> list[str]:
    ids = []
    for i in range(n):
        started = api.call(
            "pbx",
            "POST",
            "/v1/recordings",
            json={
                "interaction_id": f"door-{i}",
                "agent_id": "agent-n",
                "customer_id": f"cust-{i}",
                "queue": "sales",
                "direction": "inbound",
                "tags": {"campaign": "spring"},
                "occurred_at": (T0 + timedelta(minutes=i)).isoformat(),
            },
        )
        assert started.status_code == 201, started.text
        ids.append(started.json()["recording_id"])
    return ids


def records(api: Api, action: str) -> list[dict[str, Any]]:
    """The trail's records of ``action``, one per access with the recordings it covered
    (read through the view directly: reading them here leaves no record itself)."""
    api.components.projections.catch_up(views=["audit_trail"])
    rows = api.components.views.audit(AuditQuery(action=action, limit=1000))
    accesses: dict[int, dict[str, Any]] = {}
    for row in rows:
        entry = msgspec.structs.asdict(row)
        access = accesses.setdefault(row.notification_id, {**entry, "recording_id": [], "interaction_id": []})
        access["recording_id"].append(entry["recording_id"])
        access["interaction_id"].append(entry["interaction_id"])
    return list(accesses.values())


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """What an audit record says, without where it sits in the log and when it was written."""
    return {k: v for k, v in record.items() if k not in {"notification_id", "item", "occurred_at", "recorded_at"}}


def test_search_through_either_door_is_one_search(api: Api, cli: Callable[..., str], calls: Counter[str]) -> None:
    ids = start_calls(api, 3)
    page = api.call("lena", "GET", "/v1/recordings", params={"queue": "sales", "tag": "campaign=spring", "limit": 2})
    assert page.status_code == 200, page.text
    http_ids = [item["recording_id"] for item in page.json()["items"]]
    printed = cli("search", "--as", "lena", "--queue", "sales", "--tag", "campaign=spring", "--limit", "2")
    table = printed.split("recording(s)")[0]  # the rows, not the cursor under them
    cli_ids = re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", table)
    assert http_ids == cli_ids == ids[::-1][:2]  # newest first, the same page
    cursor = page.json()["next"]
    assert f"--after {cursor}" in printed  # one cursor format for both
    assert calls["search"] == 2
    via_http, via_cli = records(api, "search")
    assert via_http["actor"] == via_cli["actor"] == "lena"
    assert comparable(via_http) == comparable(via_cli)
    assert via_http["detail"]["tag"].startswith("[('campaign', ")  # the tag's value is kept as its blind index


def test_history_through_either_door_is_one_replay(api: Api, cli: Callable[..., str], calls: Counter[str]) -> None:
    (rid,) = start_calls(api, 1)
    paused = api.call(
        "pbx", "POST", f"/v1/recordings/{rid}/pause", json={"occurred_at": (T0 + timedelta(seconds=9)).isoformat()}
    )
    assert paused.status_code == 200, paused.text
    replay = api.call("quinn", "GET", f"/v1/recordings/{rid}/history", params={"version": 2})
    assert replay.status_code == 200, replay.text
    printed = cli("history", rid, "--version", "2", "--as", "quinn")
    assert [e["type"] for e in replay.json()["events"]] == re.findall(r"(CallStarted|Paused)", printed)
    assert f"state: {replay.json()['state']['status']};" in printed
    assert calls["history"] == 2
    via_http, via_cli = records(api, "history")
    assert comparable(via_http) == comparable(via_cli)
    assert via_http["actor"] == "quinn" and via_http["detail"] == {"version": "2"}


def test_audit_report_through_either_door_is_one_report(api: Api, cli: Callable[..., str], calls: Counter[str]) -> None:
    start_calls(api, 2)
    api.call("lena", "GET", "/v1/recordings")  # something to report on
    report = api.call("aud", "GET", "/v1/audit", params={"action": "search", "limit": 100, "format": "json"})
    assert report.status_code == 200, report.text
    printed = json.loads(
        cli("report", "audit", "--as", "aud", "--action", "search", "--limit", "100", "--format", "json")
    )
    assert printed == report.json()["items"]
    assert calls["trail"] == 2
    via_http, via_cli = records(api, "audit_report")
    assert comparable(via_http) == comparable(via_cli)
    assert via_http["actor"] == "aud" and via_http["recording_id"]


def test_the_operator_reads_as_themself_with_an_auditors_reach(api: Api, cli: Callable[..., str]) -> None:
    ids = start_calls(api, 2)
    printed = cli("search")
    assert all(rid in printed for rid in ids)
    (record,) = records(api, "search")
    assert record["actor"].startswith("cli:") and record["role"] == "auditor"
