"""Fault: a database superuser edits a stored event behind the log's back (issue #11.4).

The append-only triggers stop every role, so the superuser first takes them
away (PostgreSQL: DISABLE TRIGGER; SQLite, which has no roles: DROP TRIGGER),
edits, and puts them back. The server itself must notice: the self-audit and
the signer raise the alarm (an error log line, an audit-trail entry by the
system, /ready degraded), proofs are refused, and no checkpoint that forks from
an earlier one is ever signed, not even after the leaves are rebuilt from the
edited log.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from typing import Any
from uuid import UUID

import msgspec
import psycopg
import pytest
import structlog
from click.testing import CliRunner
from structlog.testing import CapturingLogger

from adapters.note_signing import verify_checkpoint
from adapters.settings import Settings
from api.cli.main import main
from api.services import log_alarm
from domain.errors import LogTampered
from domain.transparency.merkle import verify_consistency
from tests.support.api_client import Api
from tests.support.calls import paused_call

SQLITE_NO_UPDATE = """CREATE TRIGGER stored_events_no_update
BEFORE UPDATE ON stored_events
BEGIN
    SELECT RAISE(ABORT, 'stored_events is append-only: UPDATE refused');
END"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The server's view follower wakes only for new events, never on a timer: so once it
    has caught up it stays idle while `callvault projections rebuild` runs beside it
    (a rebuild racing a live follower is not what these tests are about)."""
    return msgspec.structs.replace(settings, projection_poll_seconds=3600.0)


def settle(api: Api) -> None:
    """Every view caught up, and the server's follower (woken by NOTIFY on PostgreSQL, then
    gathering for projection_gather_seconds) through with its rounds for the events so far."""
    api.components.projections.catch_up()
    time.sleep(api.components.settings.projection_gather_seconds * 5)


def rebuild_leaves(api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settle(api)
    rebuilt = cli(settings, monkeypatch, "projections", "rebuild", "log_leaves")
    assert rebuilt.exit_code == 0, rebuilt.output


def superuser_edits(settings: Settings, rid: UUID, version: int) -> None:
    """Rewrites the pause reason of one stored event, with the append-only trigger out of the way."""
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE stored_events DISABLE TRIGGER stored_events_append_only")
            edited = conn.execute(
                "UPDATE stored_events SET state = convert_to(replace(convert_from(state, 'UTF8'), 'pci', 'pcx'), "
                "'UTF8') WHERE originator_id = %s AND originator_version = %s",
                [rid, version],
            ).rowcount
            conn.execute("ALTER TABLE stored_events ENABLE TRIGGER stored_events_append_only")
    else:
        conn = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        try:
            conn.execute("DROP TRIGGER stored_events_no_update")
            edited = conn.execute(
                "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), 'pci', 'pcx') AS BLOB) "
                "WHERE originator_id = ? AND originator_version = ?",
                [rid.hex, version],
            ).rowcount
            conn.execute(SQLITE_NO_UPDATE)
        finally:
            conn.close()
    assert edited == 1


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """`callvault ARGS` against the same database and signing key as the server."""
    if settings.database_url:
        monkeypatch.setenv("CALLVAULT_DATABASE_URL", settings.database_url)
    else:
        monkeypatch.delenv("CALLVAULT_DATABASE_URL", raising=False)
        monkeypatch.setenv("CALLVAULT_SQLITE_PATH", settings.sqlite_path)
    monkeypatch.setenv("CALLVAULT_SIGNING_KEY_FILE", settings.signing_key_file)
    monkeypatch.setenv("CALLVAULT_MASTER_KEY_FILE", settings.master_key_file)
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> CapturingLogger:
    """What the transparency log's alarm logs, as structlog calls (method, event, fields)."""
    capturing = CapturingLogger()
    monkeypatch.setattr(log_alarm, "log", structlog.wrap_logger(capturing, processors=[]))
    return capturing


def errors_logged(lines: CapturingLogger, event: str) -> list[dict[str, Any]]:
    found = [call.kwargs for call in lines.calls if call.method_name == "error" and call.kwargs["event"] == event]
    lines.calls.clear()
    return found


def alarm_entries(api: Api) -> list[dict[str, Any]]:
    response = api.call("aud", "GET", "/v1/audit", params={"action": "log_tampered"})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def checkpoints_are_one_log(api: Api, since: int) -> None:
    """Every checkpoint signed from ``since`` on extends the one before it: no fork was ever signed."""
    log = api.components.transparency
    notes = sorted(log.checkpoints.before(2**62, 10_000))
    roots = [(size, verify_checkpoint(note, log.public_key).root) for size, note in notes if size >= since]
    for (old_size, old_root), (new_size, new_root) in itertools.pairwise(roots):
        verify_consistency(old_size, new_size, old_root, new_root, log.consistency(old_size, new_size))


def test_the_self_audit_and_the_signer_raise_the_alarm(
    api: Api, settings: Settings, log_lines: CapturingLogger, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = api.components.transparency
    rid, other = paused_call(api.components.ledger, "forged-1"), paused_call(api.components.ledger, "untouched-1")
    size, note = log.sign_checkpoint()
    assert api.call(None, "GET", "/ready").status_code == 200
    superuser_edits(settings, rid, 2)
    api.components.ledger.forget(rid)

    tampered = next(row.leaf_index for row in log.views.leaves_of(rid) if row.originator_version == 2)
    found: list[int] = []
    for _ in range(10):  # small batches: a few runs, each resuming where the last stopped
        if found := log.self_audit(batch=7):
            break
    assert found == [tampered]
    [line] = errors_logged(log_lines, "transparency log tampered")
    assert line["found_by"] == "self-audit" and line["recording_ids"] == [str(rid)]
    [entry] = alarm_entries(api)
    assert (entry["actor"], entry["outcome"], entry["recording_id"]) == ("system", "refused", str(rid))
    assert entry["detail"]["found_by"] == "self-audit"

    ready = api.call(None, "GET", "/ready")
    assert ready.status_code == 503 and ready.json()["status"].startswith("degraded: log tampered: leaves ")
    refused = api.call("aud", "GET", f"/v1/log/proofs/recordings/{rid}")
    assert refused.status_code == 409 and refused.json()["error"] == "LogTampered"
    assert api.call("aud", "GET", f"/v1/log/proofs/recordings/{other}").status_code == 200  # still matches

    paused_call(api.components.ledger, "after-the-edit")
    with pytest.raises(LogTampered):
        log.sign_checkpoint()
    assert errors_logged(log_lines, "refused: the log is known tampered")
    assert len(alarm_entries(api)) == 1  # one entry per finding, however often it is seen again
    exported = api.call("lena", "POST", f"/v1/recordings/{other}/exports", json={"reason": "court order 3/2026"})
    assert exported.status_code == 409 and exported.json()["error"] == "LogTampered"
    assert not any(type(e).__name__ == "Exported" for e in api.components.ledger.history(other).events)

    # Leaves rebuilt from the edited log hash to another root: still never signed.
    rebuild_leaves(api, settings, monkeypatch)
    signed = cli(settings, monkeypatch, "checkpoint")
    assert signed.exit_code != 0 and isinstance(signed.exception, LogTampered)
    with pytest.raises(LogTampered):
        log.sign_checkpoint()
    assert log.checkpoint() == (size, note)
    checkpoints_are_one_log(api, 0)


def test_the_signer_alone_refuses_a_fork_after_the_leaves_are_rebuilt(
    api: Api, settings: Settings, log_lines: CapturingLogger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No self-audit ran: the next checkpoint attempt finds the leaves no longer hash to the signed root."""
    log = api.components.transparency
    rid = paused_call(api.components.ledger, "forged-2")
    size, note = log.sign_checkpoint()
    superuser_edits(settings, rid, 3)
    rebuild_leaves(api, settings, monkeypatch)
    paused_call(api.components.ledger, "after-the-edit-2")

    signed = cli(settings, monkeypatch, "checkpoint")
    assert signed.exit_code != 0 and isinstance(signed.exception, LogTampered)
    assert log.checkpoint() == (size, note)
    reason = f"the first {size} leaves no longer hash to the root signed for that size"
    [line] = errors_logged(log_lines, "transparency log tampered")
    assert (line["reason"], line["found_by"]) == (reason, "signer")
    [entry] = alarm_entries(api)
    assert entry["actor"] == "system" and entry["detail"] == {"reason": reason, "found_by": "signer"}
    ready = api.call(None, "GET", "/ready")
    assert ready.status_code == 503 and ready.json()["status"] == f"degraded: log tampered: {reason}"
    # The rebuilt tree no longer meets the signed root: no proof of any recording is given against it.
    assert api.call("aud", "GET", f"/v1/log/proofs/recordings/{rid}").status_code == 409
    with pytest.raises(LogTampered):
        log.sign_checkpoint()
    checkpoints_are_one_log(api, 0)


def test_the_self_audit_wraps_around_and_checks_the_signed_root_after_each_pass(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = api.components.transparency
    rid = paused_call(api.components.ledger, "forged-3")
    size, _ = log.sign_checkpoint()
    assert log.self_audit(batch=10_000) == []  # the whole log in one run
    superuser_edits(settings, rid, 2)
    tampered = next(row.leaf_index for row in log.views.leaves_of(rid) if row.originator_version == 2)
    assert log.self_audit(batch=10_000) == []  # past the end: the leaves still hash to the signed root
    assert log.alarm() is None
    assert log.self_audit(batch=10_000) == [tampered]  # wrapped around to leaf 0
    assert log.alarm() == f"leaves {tampered}: the stored events no longer match their leaves"

    # Leaves rebuilt from the edited log match its events; the end of the next pass finds the root differs.
    rebuild_leaves(api, settings, monkeypatch)
    assert log.self_audit(batch=10_000) == []
    assert log.self_audit(batch=10_000) == []
    [entry, root_entry] = alarm_entries(api)
    assert root_entry["detail"] == {
        "reason": f"the first {size} leaves no longer hash to the root signed for that size",
        "found_by": "self-audit",
    }


def test_leaves_being_rebuilt_are_not_taken_for_tampering(api: Api) -> None:
    """No edit: the leaves are emptied and refilled by a rebuild, and until they reach the signed size
    nothing can be proven, but nothing is alarmed either."""
    rid = paused_call(api.components.ledger, "rebuilding-1")
    size, _ = api.components.transparency.sign_checkpoint()
    # The server's follower would refill the leaves at its next wake-up: held off meanwhile,
    # so that what is checked is the view while it is being rebuilt.
    with api.components.projections.followers["log_leaves"]._lock:
        api.components.views.reset("log_leaves")  # what a rebuild does first; the leaves then refill in batches
        assert api.call("aud", "GET", f"/v1/log/proofs/recordings/{rid}").status_code == 404
        assert (
            api.components.transparency.self_audit() == [] and api.components.transparency.self_audit() == []
        )  # a pass, and its end
        assert api.components.transparency.alarm() is None
    api.components.projections.catch_up(views=["log_leaves"])
    assert api.call("aud", "GET", f"/v1/log/proofs/recordings/{rid}").status_code == 200
    assert api.components.transparency.sign_checkpoint()[0] >= size
