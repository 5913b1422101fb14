"""The command line as an operator uses it, on both engines."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest
from click.testing import CliRunner, Result

from adapters.event_store import open_ledger
from adapters.settings import Settings
from api.cli.main import main
from domain.recording_policy import PolicyTerms, RetentionRule
from domain.values import Actor


@pytest.fixture
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path):
    if settings.database_url:
        monkeypatch.setenv("CALLVAULT_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("CALLVAULT_DATABASE_URL", raising=False)
        monkeypatch.setenv("CALLVAULT_SQLITE_PATH", settings.sqlite_path)
    monkeypatch.setenv("CALLVAULT_LOG_JSON", "true")
    for name in ("master_key_file", "media_url", "archive_url"):  # nothing written into the checkout
        monkeypatch.setenv(f"CALLVAULT_{name.upper()}", str(tmp_path / name))
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
    assert bad_tag.exit_code == 2 and "key=value" in bad_tag.output
    bad_time = run("search", "--from", "yesterday")
    assert bad_time.exit_code == 2 and "ISO 8601" in bad_time.output
    unknown = run("history", "no-such-interaction")
    assert unknown.exit_code == 1 and "no recording" in unknown.output
    unknown_view = run("projections", "rebuild", "nonsense")
    assert unknown_view.exit_code == 1 and "no such view" in unknown_view.output


def test_retention_run_and_the_audit_report(run, settings: Settings, tmp_path) -> None:
    run("migrate")
    ledger = open_ledger(msgspec.structs.replace(settings, master_key_file=str(tmp_path / "master_key_file")))
    try:
        ledger.set_policy(
            terms=PolicyTerms(retention=(RetentionRule(queue="support", purge_after_days=1),)),
            reason="short support retention",
            occurred_at=datetime.now(UTC),
            by=Actor("root", "admin"),
        )
    finally:
        ledger.close()
    assert run("simulate", "--agents", "3", "--calls", "20", "--seed", "5", "--day", "2026-11-01").exit_code == 0
    ran = run("retention", "run", "--at", "2026-11-03T00:00:00+00:00")
    assert ran.exit_code == 0, ran.output
    purged = int(re.search(r"purged (\d+)", ran.output).group(1))
    assert 0 < purged < 20  # the support queue only

    report = run("report", "audit", "--action", "purged", "--format", "json")
    rows = json.loads(report.output)
    assert len(rows) == purged
    assert {(r["customer_id"], r["interaction_type"] in ("inbound", "outbound")) for r in rows} == {
        ("[redacted]", True)
    }
    assert all(r["actor"].startswith("cli:") and r["reason_code"] == "retention period over" for r in rows)
    as_csv = run("report", "audit", "--action", "audit_report").output.splitlines()
    assert as_csv[0].startswith("notification_id,") and "customer_id" in as_csv[0]
    # The JSON report above is itself in the trail, once per recording it covered.
    # Recorded as any audit report is, naming the operator who ran it and what was asked.
    assert len(as_csv) - 1 == purged
    assert all(",cli:" in line and '""format"":""json""' in line for line in as_csv[1:])


def test_demo_records_a_call_with_its_transcript_card_span_and_an_evaluation_form(
    run, settings: Settings, tmp_path
) -> None:
    result = run("demo")
    assert result.exit_code == 0, result.output
    recording_id = re.search(r"recorded demo call ([0-9a-f-]{36})", result.output).group(1)  # type: ignore[union-attr]
    assert {"demo-sue", "demo-quinn", "demo-lena", "demo-agent"} <= set(
        re.findall(r"^  (demo-\S+)", result.output, re.M)
    )
    ledger = open_ledger(msgspec.structs.replace(settings, master_key_file=str(tmp_path / "master_key_file")))
    try:
        history = ledger.history(UUID(recording_id))
        kinds = [type(e).__name__ for e in history.events]
        assert kinds.count("TranscriptRecorded") == 1
        # The card number read out after the pause: its span, and the number masked.
        assert history.recording.card_spans == {(20_000, 21_900)}
        [transcript] = [e for e in history.events if type(e).__name__ == "TranscriptRecorded"]
        assert "[card] [card] [card] [card]" in transcript.texts and not any("4111" in t for t in transcript.texts)
        assert ledger.form_version("demo-inbound", None).title == "Inbound support call"
    finally:
        ledger.close()
