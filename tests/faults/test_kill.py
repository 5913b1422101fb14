"""kill -9 of the server, or of its views worker, while clients write; on both engines.

A real ``callvault serve`` takes whole calls from concurrent writers on the
per-event and batch endpoints. The server process is killed outright and
started again (clients send again what got no answer), or its views worker is
killed and the server must start another. Afterwards every event answered 2xx
is in the log exactly once, each recording's versions run 1..n without a gap,
and the views equal a rebuild of them from the log.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import msgspec
import pytest

from adapters.settings import Settings
from tests.support.load import Load, check_log
from tests.support.ports import free_port
from tests.support.provisioning import provision
from tests.support.service import Service, report, run_cli, view_rows

WRITERS = 8
WRITE_SECONDS = 10.0
KILL_AFTER_SECONDS = 4.0
# No answer within this is a hang (SQLite may wait out its 30 s lock timeout, never more).
REQUEST_TIMEOUT = 40.0
# The server looks after its worker every 5 s (api/runtime.py).
NEW_WORKER_SECONDS = 15.0


def new_worker(service: Service, old: int) -> int:
    deadline = time.monotonic() + NEW_WORKER_SECONDS
    while time.monotonic() < deadline:
        pid = service.views_worker_pid()
        if pid is not None and pid != old:
            return pid
        time.sleep(0.2)
    raise AssertionError(f"no new views worker within {NEW_WORKER_SECONDS} s: {service.log_tail()}")


@pytest.mark.parametrize("target", ["server", "views-worker"])
def test_kill_9_while_clients_write(settings: Settings, tmp_path: Path, target: str) -> None:
    settings = msgspec.structs.replace(
        settings,
        views_process=True,
        port=free_port(),
        media_url=str(tmp_path / "media"),
        archive_url=str(tmp_path / "archive"),
    )
    tokens = provision(settings)
    service = Service(settings, tmp_path)
    service.start()
    try:
        load = Load(
            service.base_url, tokens["pbx"], clients=WRITERS, request_timeout=REQUEST_TIMEOUT, name=f"kill-{target}"
        )
        writing = load.start(WRITE_SECONDS)
        time.sleep(KILL_AFTER_SECONDS)
        worker = service.views_worker_pid()
        assert worker is not None
        if target == "server":
            service.kill()
            service.start()
        else:
            os.kill(worker, signal.SIGKILL)
            new_worker(service, worker)
        writing.join()
        service.wait_views_caught_up()
    finally:
        service.stop()
    figures = load.figures
    checked = check_log(settings, figures.acks)
    views = view_rows(settings)
    run_cli(settings, "projections", "rebuild")
    rebuilt = view_rows(settings)
    report(tmp_path, f"kill-{target}", figures.summary() | checked.summary())

    assert set(figures.statuses) <= {200, 201}, figures.statuses
    assert figures.unexpected == [] and figures.hangs == 0 and figures.abandoned == 0
    if target == "server":
        assert figures.transport_errors > 0  # the kill did cut requests off
    assert checked.lost == [] and checked.duplicated == [] and checked.gaps == []
    assert checked.found == checked.acknowledged > 0
    assert views["recordings"] and views == rebuilt
