"""PostgreSQL restarted or stopped under load, on a private server (never the shared cluster).

A real server (``callvault serve``, views in its worker process) takes whole
calls from concurrent writers while the database restarts or is down for 20 s.
Clients may be told 503 (with Retry-After and a problem body) and nothing
else: never a 500, never a hang past the client's timeout. /ready says 503
at once while the database is down. The service recovers by itself, and every
event answered 2xx is in the log exactly once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from adapters.event_store import open_ledger
from adapters.migrate import migrate
from adapters.postgres_recorders import AppendFunctionRecorder
from adapters.settings import Settings
from domain.commands import Annotate, StartCall
from domain.values import Actor
from tests.support.load import Figures, Load, check_log
from tests.support.ports import free_port
from tests.support.postgres import PrivatePostgres
from tests.support.provisioning import provision
from tests.support.service import Service, report, running

WRITERS = 8
# The bound that turns a hang into a failure: well above the pool timeout (3 s) that a
# request may wait for a connection, plus its wait for a free request thread.
REQUEST_TIMEOUT = 10.0
READY_TIMEOUT = 3.0
OUTAGE_SECONDS = 20.0


@pytest.fixture(scope="module")
def server() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def settings(server: PrivatePostgres, tmp_path: Path) -> Settings:
    return Settings(
        database_url=server.create_database(f"callvault_{uuid.uuid4().hex[:12]}"),
        master_key_file=str(tmp_path / "master.key"),
        media_url=str(tmp_path / "media"),
        archive_url=str(tmp_path / "archive"),
        port=free_port(),
    )


def ready_once(service: Service) -> tuple[int, float]:
    """/ready's status and how long it took; a client timeout (a hang) fails the test."""
    sent = time.monotonic()
    answer = httpx.get(service.base_url + "/ready", timeout=READY_TIMEOUT)
    return answer.status_code, time.monotonic() - sent


def wait_ready(service: Service, timeout: float = 30.0) -> float:
    """Seconds until /ready answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ready_once(service)[0] == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not ready {timeout} s after the database came back: {service.log_tail()}")


def first_ack_after(figures: Figures, moment: float) -> float:
    later = [t for t in figures.ack_times if t >= moment]
    assert later, "no write succeeded after the database came back"
    return min(later) - moment


def assert_clients_saw_only_2xx_or_503(figures: Figures) -> None:
    assert set(figures.statuses) <= {200, 201, 503}, figures.statuses
    assert figures.bad_503 == [] and figures.unexpected == []
    assert figures.hangs == 0 and figures.abandoned == 0 and figures.transport_errors == 0


def assert_log_exact(settings: Settings, figures: Figures) -> dict[str, int]:
    checked = check_log(settings, figures.acks)
    assert checked.lost == [] and checked.duplicated == [] and checked.gaps == []
    assert checked.found == checked.acknowledged > 0
    return checked.summary()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_restart_under_load(server: PrivatePostgres, settings: Settings, tmp_path: Path, mode: str) -> None:
    tokens = provision(settings)
    with running(settings, tmp_path) as service:
        load = Load(
            service.base_url, tokens["pbx"], clients=WRITERS, request_timeout=REQUEST_TIMEOUT, name=f"restart-{mode}"
        )
        writing = load.start(12.0)
        time.sleep(4.0)
        server.stop(mode)
        server.start()
        back = load.elapsed()
        ready_after = wait_ready(service)
        writing.join()
        figures = load.figures
        write_after = first_ack_after(figures, back)
        assert service.process is not None and service.process.poll() is None
        log_text = service.log_text()
    checked = assert_log_exact(settings, figures)
    report(
        tmp_path,
        f"postgres-restart-{mode}",
        figures.summary()
        | checked
        | {"ready_after_restart_s": round(ready_after, 2), "first_write_after_restart_s": round(write_after, 2)},
    )
    assert_clients_saw_only_2xx_or_503(figures)
    assert "Internal error" not in log_text and "unhandled error" not in log_text


def test_stopped_for_twenty_seconds(server: PrivatePostgres, settings: Settings, tmp_path: Path) -> None:
    tokens = provision(settings)
    with running(settings, tmp_path) as service:
        load = Load(service.base_url, tokens["pbx"], clients=WRITERS, request_timeout=REQUEST_TIMEOUT, name="outage")
        writing = load.start(OUTAGE_SECONDS + 12.0)
        time.sleep(4.0)
        server.stop("fast")
        stopped = load.elapsed()
        probes = []
        while load.elapsed() - stopped < OUTAGE_SECONDS:
            probes.append(ready_once(service))
            time.sleep(1.0)
        server.start()
        back = load.elapsed()
        ready_after = wait_ready(service)
        writing.join()
        figures = load.figures
        write_after = first_ack_after(figures, back)
        log_text = service.log_text()
    checked = assert_log_exact(settings, figures)
    report(
        tmp_path,
        "postgres-stopped-20s",
        figures.summary()
        | checked
        | {
            "ready_probes": len(probes),
            "ready_probe_slowest_s": round(max(t for _, t in probes), 2),
            "stopped_at_s": round(stopped, 2),
            "first_503_s": figures.first_503,
            "restarted_at_s": round(back, 2),
            "last_503_s": figures.last_503,
            "ready_after_restart_s": round(ready_after, 2),
            "first_write_after_restart_s": round(write_after, 2),
        },
    )
    # Not ready during the outage: every probe after the first second answered 503, each in time.
    assert {status for status, _ in probes[1:]} == {503}
    assert figures.statuses[503] > 0 and figures.first_503 is not None and figures.first_503 >= stopped - 1
    assert_clients_saw_only_2xx_or_503(figures)
    assert "unhandled error" not in log_text


# -- a connection lost while appending: committed or not, never doubled ---------


def lost(message: str) -> Exception:
    """What eventsourcing raises when psycopg lost the connection under a call."""
    error = OperationalError(message)
    error.__cause__ = psycopg.OperationalError(message)
    return error


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "not-committed"])
@pytest.mark.parametrize("lost_at", [1, 2], ids=["start-with-its-keys", "annotation"])
def test_an_append_whose_connection_was_lost_is_stored_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, committed: bool, lost_at: int
) -> None:
    migrate(settings)
    ledger = open_ledger(settings, group_commit=False)
    try:
        append = AppendFunctionRecorder._append
        calls = []

        def flaky(recorder, stored_events, new_keys):  # type: ignore[no-untyped-def]
            calls.append(len(stored_events))
            if len(calls) == lost_at:
                if committed:
                    append(recorder, stored_events, new_keys)  # stored, but the answer never arrived
                raise lost("server closed the connection unexpectedly")
            return append(recorder, stored_events, new_keys)

        monkeypatch.setattr(AppendFunctionRecorder, "_append", flaky)
        by = Actor("pbx", "telephony")
        now = datetime.now(UTC)
        rid = ledger.execute(
            StartCall(
                interaction_id="lost-1",
                agent_id="a",
                customer_id="c",
                queue="q",
                direction="inbound",
                tags={},
                occurred_at=now,
                by=by,
            )
        )
        # Annotations are not idempotent: only the commit check keeps this one single.
        ledger.execute(Annotate(rid, media_offset_ms=0, text="note", occurred_at=now, by=by))
        events = list(ledger.events.get(rid))
        assert [type(e).__name__ for e in events] == ["CallStarted", "Annotated"]
        assert len(calls) == (2 if committed else 3)  # committed: found by the check, not sent again
        # The start's keys were stored with it (once): another process reads the customer.
        reader = open_ledger(settings, group_commit=False)
        try:
            assert reader.get_recording(rid).customer_id == "c"
        finally:
            reader.close()
    finally:
        ledger.close()
