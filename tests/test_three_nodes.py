"""Three real ``callvault serve`` processes on one PostgreSQL behave as one service (issue #16).

Telephony clients spread every call's events over the three servers, as a load balancer
without stickiness would. An agent's capture client listens on one server while its call is
started, paused, resumed, snapshot and ended through the others. In the second scenario the
server the capture client is connected to, which also folds every view, is killed outright
mid-run (server and views worker, SIGKILL): the client reconnects to another server and is
told what it missed, a standby takes the views over, the scheduled jobs go on elsewhere.

Afterwards every acknowledged event is in the log once, every view equals a rebuild from the
log, and no scheduled job ran twice for one due time. PostgreSQL only: the embedded SQLite
store is one server's (``callvault serve --workers`` refuses more than one on it).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.settings import Settings
from capture_client.commands import Command, CommandStream
from tests.support.cluster import FailoverTransport, job_runs, kill_node, logged, logged_at, start_nodes
from tests.support.load import Load, check_log
from tests.support.ports import free_port
from tests.support.provisioning import provision
from tests.support.service import Service, report, run_cli, spawned_children, view_rows

pytestmark = pytest.mark.timeout(300)

USERS = [("pbx", "telephony", None), ("agent-1", "agent", "floor"), ("agent-2", "agent", "floor")]
USERS += [("sup", "supervisor", None)]
VIEWS = {"recordings", "audit_trail", "directory", "log_leaves", "evaluations"}
JOBS = {"acw-timeout": 1.0, "checkpoint": 2.0, "log-self-audit": 3.0, "retention": 2.0}
WRITERS = 6
WRITE_SECONDS = 15.0
ACKS_BEFORE_KILL = 100
WAIT_SECONDS = 30.0


def wait_until(condition: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)


class CaptureClient:
    """The capture client's own command stream, reaching the cluster through a failover transport."""

    def __init__(self, base_urls: list[str], token: str) -> None:
        self.transport = FailoverTransport(base_urls)
        self.received: list[Command] = []
        self._http = httpx.Client(
            base_url=base_urls[0], transport=self.transport, headers={"Authorization": f"Bearer {token}"}
        )
        self.stream = CommandStream(self._http, self.received.append)

    def __enter__(self) -> CaptureClient:
        self.stream.start()
        wait_until(lambda: self.stream.connected, "the capture client connects")
        return self

    def __exit__(self, *_: object) -> None:
        self.stream.stop()
        self.stream.join(timeout=10)
        self._http.close()

    def told(self, recording_id: str) -> list[str]:
        return [c.name for c in list(self.received) if c.recording_id == recording_id]

    def expect(self, recording_id: str, commands: list[str]) -> None:
        wait_until(lambda: self.told(recording_id) == commands, f"commands {commands} (got {self.told(recording_id)})")


def lease_takers(node: Service, after: datetime | None = None) -> set[str]:
    """The views whose lease this node's views worker took (after a moment, if given)."""
    lines = logged(node, "view leases taken")
    return {view for line in lines if after is None or logged_at(line) > after for view in line["views"]}


def cluster_settings(postgres_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """What every server of the cluster shares: the store, the keys and the media, as files of the test's."""
    return Settings(
        database_url=postgres_url,
        master_key_file=str(tmp_path / "master.key"),
        signing_key_file=str(tmp_path / "log-signing.key"),
        media_url=str(tmp_path / "media"),
        archive_url=str(tmp_path / "archive"),
        views_process=True,  # as `callvault serve` runs by default
        **overrides,
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@pytest.mark.parametrize("kill", [False, True], ids=["all-alive", "one-killed"])
def test_three_servers_on_one_store_behave_as_one_service(postgres_url: str, tmp_path: Path, kill: bool) -> None:
    settings = cluster_settings(
        postgres_url,
        tmp_path,
        acw_check_seconds=JOBS["acw-timeout"],
        checkpoint_interval_seconds=JOBS["checkpoint"],
        log_self_audit_seconds=JOBS["log-self-audit"],
        retention_check_seconds=JOBS["retention"],
    )
    tokens = provision(settings, USERS, supervisors=("sup",))
    nodes = start_nodes(settings, tmp_path, 1)
    figures: dict[str, object] = {}
    try:
        # The first server's views worker takes every view; those started after it stand by.
        wait_until(lambda: lease_takers(nodes[0]) == VIEWS, "the first server folds every view")
        nodes += start_nodes(settings, tmp_path, 2, first=1)
        urls = [node.base_url for node in nodes]
        load = Load(urls, tokens["pbx"], clients=WRITERS, request_timeout=30.0, name="nodes")
        with CaptureClient(urls, tokens["agent-2"]) as capture:
            telephony = {"Authorization": f"Bearer {tokens['pbx']}"}
            supervisor = {"Authorization": f"Bearer {tokens['sup']}"}
            body = {"agent_id": "agent-2", "customer_id": "c-9", "queue": "sales", "direction": "inbound"}
            answer = httpx.post(
                f"{urls[1]}/v1/recordings",
                headers=telephony,
                json=body | {"interaction_id": "capture-1", "occurred_at": now_iso()},
            )
            assert answer.status_code == 201, answer.text
            rid = answer.json()["recording_id"]
            capture.expect(rid, ["start"])
            writing = load.start(WRITE_SECONDS)
            answer = httpx.post(
                f"{urls[2]}/v1/recordings/{rid}/pause", headers=telephony, json={"occurred_at": now_iso()}
            )
            assert answer.status_code in (200, 201), answer.text
            capture.expect(rid, ["start", "pause"])

            if kill:
                wait_until(lambda: len(load.figures.acks) >= ACKS_BEFORE_KILL, "the load is under way")
                assert capture.transport.current == 0  # connected to the server about to die
                killed_at = datetime.now(UTC)
                kill_node(nodes[0])
                figures["acks_before_kill"] = len(load.figures.acks)
            # While a killed server's client is away: it must be told these when it is back.
            answer = httpx.post(
                f"{urls[1]}/v1/recordings/{rid}/resume", headers=telephony, json={"occurred_at": now_iso()}
            )
            assert answer.status_code in (200, 201), answer.text
            answer = httpx.post(
                f"{urls[2]}/v1/recordings/{rid}/snapshot-requests", headers=supervisor, json={"annotation": "look"}
            )
            assert answer.status_code == 201, answer.text
            capture.expect(rid, ["start", "pause", "resume", "snapshot"])
            if kill:
                assert capture.transport.current != 0
                survivors = nodes[1:]
                wait_until(
                    lambda: set().union(*(lease_takers(n, killed_at) for n in survivors)) == VIEWS,
                    "a standby takes every view over",
                )
                taken = [logged_at(line) for n in survivors for line in logged(n, "view leases taken")]
                figures["takeover_seconds"] = round((max(taken) - killed_at).total_seconds(), 2)
            else:
                survivors = nodes
            for step in ("end", "acw-end"):
                answer = httpx.post(
                    f"{urls[1]}/v1/recordings/{rid}/{step}", headers=telephony, json={"occurred_at": now_iso()}
                )
                assert answer.status_code in (200, 201), answer.text
            capture.expect(rid, ["start", "pause", "resume", "snapshot", "stop"])
            writing.join()
        survivors[0].wait_views_caught_up()
        # Once the holder stops, a standby still running rightly takes its leases over.
        stopping_at = datetime.now(UTC)
        for node in survivors:
            node.stop()
    finally:
        for node in nodes:
            node.stop()

    # The standbys asked for the leases every 2 s all along, and got none while their holder lived.
    standing_by_until = killed_at if kill else stopping_at
    assert [
        line for node in nodes[1:] for line in logged(node, "view leases taken") if logged_at(line) < standing_by_until
    ] == []
    checked = check_log(settings, load.figures.acks)
    runs = job_runs(nodes)
    figures |= load.figures.summary() | checked.summary() | {"job_runs": len(runs)}
    report(tmp_path, "three-nodes-" + ("one-killed" if kill else "all-alive"), figures)
    assert load.figures.unexpected == [] and load.figures.hangs == 0 and load.figures.abandoned == 0
    assert checked.lost == [] and checked.duplicated == [] and checked.gaps == []
    assert checked.found == checked.acknowledged > ACKS_BEFORE_KILL

    # Every view, folded by whichever server held it (and by requests reading their own
    # writes), equals what a rebuild from the log makes.
    folded = view_rows(settings)
    run_cli(settings, "projections", "rebuild")
    assert view_rows(settings) == folded

    # No job ran twice for one due time; each kept running, after the kill too.
    assert [key for key, count in runs.items() if count > 1] == []
    for job in JOBS:
        due_times = [datetime.fromisoformat(due) for name, due in runs if name == job]
        assert len(due_times) >= 3, (job, due_times)
        if kill:
            assert max(due_times) > killed_at, f"{job} did not run after the kill"


def test_serve_workers_runs_that_many_servers_sharing_the_views_and_stops_cleanly(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = cluster_settings(postgres_url, tmp_path, port=free_port())
    provision(settings, USERS)
    server = Service(settings, tmp_path, "--workers", "2")
    server.start()
    try:
        assert server.process is not None
        wait_until(lambda: len(logged(server, "server started")) == 2, "both workers serve")
        assert len(spawned_children(server.process.pid)) == 2
        # Each view is folded by one of the two workers' followers, never by both.
        wait_until(
            lambda: set().union(*(line["views"] for line in logged(server, "view leases taken"))) == VIEWS,
            "every view followed",
        )
        taken = [view for line in logged(server, "view leases taken") for view in line["views"]]
        assert sorted(taken) == sorted(VIEWS)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=40) == 0, server.log_tail()
        # Each worker shut its application down: its queued commands stored, its views worker stopped.
        assert len(logged(server, "Application shutdown complete.")) == 2, server.log_tail()
        assert "Traceback" not in server.log_text()
    finally:
        server.stop()


def test_serve_workers_refuses_the_embedded_store(tmp_path: Path) -> None:
    settings = Settings(sqlite_path=str(tmp_path / "callvault.sqlite3"), master_key_file=str(tmp_path / "master.key"))
    with pytest.raises(subprocess.CalledProcessError) as refused:
        run_cli(settings, "serve", "--workers", "2")
    assert refused.value.returncode == 2 and "--workers needs PostgreSQL" in refused.value.stderr
