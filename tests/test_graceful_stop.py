"""SIGTERM to a real ``callvault serve`` while clients write: a graceful stop loses nothing; on both engines.

Concurrent telephony clients (tests/support/load.py) write whole calls through the per-event
and batch endpoints. Mid-run the server gets SIGTERM: it must stop listening, answer the
requests in flight (their commands queued in the group committer are stored first), and exit
0 within a bound. It is started again on the same store; the clients send again whatever got
no answer. Afterwards every event answered 2xx is in the log exactly once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import msgspec
import pytest

from adapters.settings import Settings
from tests.support.load import Load, check_log
from tests.support.ports import free_port
from tests.support.provisioning import provision
from tests.support.service import Service, report

pytestmark = pytest.mark.timeout(240)

WRITERS = 8
WRITE_SECONDS = 10.0
# The stop lands mid-run: after this many events were answered (a few seconds of writing).
ACKS_BEFORE_STOP = 150
REQUEST_TIMEOUT = 40.0
# SIGTERM to exit: the requests in flight, the queued batch, the views worker and the pools.
STOP_SECONDS = 20.0


def wait_for_acks(load: Load, count: int, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while len(load.figures.acks) < count:
        assert time.monotonic() < deadline, f"only {len(load.figures.acks)} events answered in {seconds} s"
        time.sleep(0.05)


def test_sigterm_mid_run_answers_or_stores_everything_and_exits_0(settings: Settings, tmp_path: Path) -> None:
    settings = msgspec.structs.replace(
        settings,
        views_process=True,  # as `callvault serve` runs by default: the worker must stop too
        port=free_port(),
        media_url=str(tmp_path / "media"),
        archive_url=str(tmp_path / "archive"),
    )
    tokens = provision(settings)
    service = Service(settings, tmp_path)
    service.start()
    try:
        load = Load(service.base_url, tokens["pbx"], clients=WRITERS, request_timeout=REQUEST_TIMEOUT, name="sigterm")
        writing = load.start(WRITE_SECONDS)
        wait_for_acks(load, ACKS_BEFORE_STOP)
        first = service.process
        assert first is not None
        sent_at = load.elapsed()
        first.send_signal(signal.SIGTERM)
        try:
            exit_code = first.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit within {STOP_SECONDS} s of SIGTERM: {service.log_tail()}")
        exited_at = load.elapsed()
        stopping_log = service.log_text()
        service.start()  # on the same store; the clients resend what got no answer
        writing.join()
        service.stop()
        second = service.process
        assert second is not None
    finally:
        service.stop()
    figures = load.figures
    # Answers that arrived between the signal and the exit: requests the stop let finish.
    answered_while_stopping = sum(1 for at in figures.ack_times if sent_at < at <= exited_at)
    checked = check_log(settings, figures.acks)
    report(
        tmp_path,
        "sigterm",
        figures.summary()
        | checked.summary()
        | {"stop_seconds": round(exited_at - sent_at, 2), "answered_while_stopping": answered_while_stopping},
    )

    assert exit_code == 0, service.log_tail()
    assert second.returncode == 0, service.log_tail()
    assert "server stopped" in stopping_log and "Traceback" not in stopping_log, stopping_log[-4000:]
    assert answered_while_stopping > 0, "no request was in flight when the signal came"
    assert set(figures.statuses) <= {200, 201}, figures.statuses
    assert figures.unexpected == [] and figures.hangs == 0 and figures.abandoned == 0
    assert checked.lost == [] and checked.duplicated == [] and checked.gaps == []
    assert checked.found == checked.acknowledged > ACKS_BEFORE_STOP
