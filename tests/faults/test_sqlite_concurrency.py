"""The embedded SQLite default under 16 concurrent writers, through a real server.

A server process (its views folded by its worker process, a second writer on
the same file) takes 30 s of whole calls from 16 clients on the per-event and
batch endpoints. Nothing may fail: no 5xx, no "database is locked" anywhere,
and every event answered 2xx is in the log exactly once.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from adapters.settings import Settings
from tests.support.load import Load, check_log
from tests.support.ports import free_port
from tests.support.provisioning import provision
from tests.support.service import report, running

WRITERS = 16
SECONDS = 30.0


def test_sixteen_writers_on_the_embedded_store(tmp_path: Path) -> None:
    settings = Settings(
        sqlite_path=str(tmp_path / "callvault.sqlite3"),
        master_key_file=str(tmp_path / "master.key"),
        media_url=str(tmp_path / "media"),
        archive_url=str(tmp_path / "archive"),
        port=free_port(),
        views_process=True,
    )
    tokens = provision(settings)
    with running(settings, tmp_path) as service:
        # Generous: SQLite waits up to its 30 s lock timeout; an answer later than this is a hang.
        figures = Load(service.base_url, tokens["pbx"], clients=WRITERS, request_timeout=45.0, retry_seconds=30.0).run(
            SECONDS
        )
        service.wait_views_caught_up()
    checked = check_log(msgspec.structs.replace(settings), figures.acks)
    report(tmp_path, "sqlite-concurrency", figures.summary() | checked.summary())

    assert figures.requests > WRITERS and figures.acks
    assert figures.server_errors == {} and figures.hangs == 0 and figures.transport_errors == 0
    assert figures.unexpected == [] and figures.abandoned == 0
    assert "database is locked" not in service.log_text()
    assert checked.lost == [] and checked.duplicated == [] and checked.gaps == []
    assert checked.found == checked.acknowledged
