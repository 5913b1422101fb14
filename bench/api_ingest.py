"""Lifecycle ingest through the HTTP API on PostgreSQL, beside the ledger and raw psycopg.

Run by hand (never in tests):
    .venv/bin/python bench/api_ingest.py --calls 3000 --clients 4 16 --batch 100 500 \
        [--admin-url postgresql://postgres@127.0.0.1/postgres]

Everything is measured in one run against one fresh database, since these
machines are noisy; only ratios within a run mean much. Every run uses the same
event mix: the simulated day's lifecycle commands without screen segments
(segments arrive as media uploads, measured by bench/capture.py). HTTP runs post
one event per request to the per-event endpoints, then `--batch` events per
request to POST /v1/lifecycle-events, as a telephony gateway would. After each
HTTP run it waits until /ready reports every view caught up, so the server's CPU
figure (its process and its views worker) and the rate "through to the views"
include folding that run's events.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from scratch_databases import DEFAULT_ADMIN_URL, create_scratch_database, drop_scratch_database

from adapters.event_store import open_ledger
from adapters.migrate import migrate
from adapters.settings import Settings
from api.cli.simulation import DayPlan, Step, plan_day, run_day
from domain import commands
from domain.recording import recording_id_for
from domain.values import Actor

sys.path.insert(0, str(Path(__file__).parent))
from ingest import INSERT, RAW_TABLE, partition, rate, raw_concurrent, timed  # noqa: E402

CALLVAULT = Path(sys.executable).with_name("callvault")
# Command -> path suffix under /v1/recordings/{id}; the step's args are the JSON body.
ENDPOINTS = {
    commands.Pause: "/pause",
    commands.Resume: "/resume",
    commands.EndCall: "/end",
    commands.Tag: "/tags",
    commands.EndAcw: "/acw-end",
}


def lifecycle(args: argparse.Namespace, seed: int) -> list[Step]:
    # Tomorrow, so the server's ACW-timeout job never ends a call the client is still driving.
    start = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=1)
    steps = plan_day(DayPlan(agents=args.agents, calls=args.calls, seed=seed, start=start))
    return [s for s in steps if s.command is not commands.AddSegment]


# Command -> item type of POST /v1/lifecycle-events.
BATCH_TYPES = {
    commands.StartCall: "start",
    commands.Pause: "pause",
    commands.Resume: "resume",
    commands.EndCall: "end",
    commands.Tag: "tag",
    commands.EndAcw: "acw_end",
}


def drive_batches(base: str, token: str, steps: list[Step], size: int) -> tuple[int, list[str]]:
    """One gateway thread: its calls' events in time order, `size` per request."""
    items, ids = [], {}
    for step in steps:
        item = {"type": BATCH_TYPES[step.command], **step.args, "occurred_at": step.at.isoformat()}
        if step.command is commands.StartCall:
            ids[step.call] = str(recording_id_for(step.args["interaction_id"]))
        else:
            item["recording_id"] = ids[step.call]
        items.append(item)
    sent, errors = 0, []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for i in range(0, len(items), size):
            response = client.post("/v1/lifecycle-events", json={"events": items[i : i + size]})
            if not response.is_success:
                errors.append(f"batch {response.status_code} {response.text[:200]}")
                continue
            results = response.json()["results"]
            sent += len(results)
            errors += [f"item {r['status']} {r.get('detail')}" for r in results if r["status"] >= 300]
    return sent, errors


def drive(base: str, token: str, steps: list[Step], size: int = 1) -> tuple[int, list[str]]:
    """One client thread: its calls in time order over one keep-alive connection."""
    if size > 1:
        return drive_batches(base, token, steps, size)
    sent, errors, ids = 0, [], {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for step in steps:
            body = {**step.args, "occurred_at": step.at.isoformat()}
            if step.command is commands.StartCall:
                # Later steps carry no interaction id; the recording id derives from it.
                ids[step.call] = recording_id_for(step.args["interaction_id"])
                path = "/v1/recordings"
            else:
                path = f"/v1/recordings/{ids[step.call]}{ENDPOINTS[step.command]}"
            response = client.post(path, json=body)
            sent += 1
            if not response.is_success:
                errors.append(f"{step.command.__name__} {response.status_code} {response.text[:200]}")
    return sent, errors


def http_run(base: str, token: str, steps: list[Step], clients: int, size: int = 1) -> tuple[float, int, list[str]]:
    with ThreadPoolExecutor(clients) as pool:
        seconds, results = timed(
            lambda: list(pool.map(lambda part: drive(base, token, part, size), partition(steps, clients)))
        )
    return seconds, sum(sent for sent, _ in results), [e for _, errs in results for e in errs]


def health_run(base: str, clients: int, requests: int) -> tuple[float, int]:
    """GET /health from N threads: the cost of HTTP alone, with no store work."""

    def get(count: int) -> None:
        with httpx.Client(base_url=base) as client:
            for _ in range(count):
                client.get("/health").raise_for_status()

    each = max(requests // clients, 1)
    with ThreadPoolExecutor(clients) as pool:
        seconds, _ = timed(lambda: list(pool.map(get, [each] * clients)))
    return seconds, each * clients


def views_settle(base: str) -> float:
    """Seconds from now until /ready reports every view caught up with the log."""
    began = time.monotonic()
    while any(httpx.get(f"{base}/ready", timeout=30).json()["views"].values()):
        time.sleep(0.01)
    return time.monotonic() - began


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far of a process and its live children (the views worker), from /proc."""

    def stat(path: Path) -> list[str]:
        return path.read_text().rsplit(")", 1)[1].split()  # fields after the command name

    total = 0.0
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat(path)
        except OSError:  # exited meanwhile
            continue
        if path.parent.name == str(pid) or fields[1] == str(pid):  # itself, or its parent is pid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def start_server(url: str, log: Path) -> tuple[subprocess.Popen, str]:
    """`callvault serve` in its own process, so client and server do not share a GIL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CALLVAULT_DATABASE_URL": url, "CALLVAULT_LOG_LEVEL": "WARNING"}
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(CALLVAULT), "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"server did not answer /health within 60 s:\n{log.read_text()[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=600, help="calls per measured run")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64], help="concurrent clients, one run each")
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[100, 500],
        help="events per request in the batch-endpoint runs, one run each",
    )
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()

    name, url = create_scratch_database(args.admin_url)
    server, log = None, Path(tempfile.mkstemp(prefix="callvault-bench-", suffix=".log")[1])
    seeds = iter(range(1, 1000))  # a fresh seed per run: interaction ids never collide
    try:
        settings = Settings(database_url=url)
        migrate(settings)
        ledger = open_ledger(settings, group_commit=False)
        app_s, events = timed(lambda: run_day(ledger, lifecycle(args, next(seeds))))
        # The exact payloads the ledger stored, for the raw baselines (before anything else is written).
        stored = ledger.recorder.select_notifications(start=None, limit=10**9)
        rows = [(n.originator_id, n.originator_version, n.topic, n.state) for n in stored]
        assert len(rows) == events, (len(rows), events)
        _, token = ledger.register_user(
            name="pbx", role="telephony", team=None, occurred_at=datetime.now(UTC), by=Actor("bench", "admin")
        )
        ledger.close()

        grouped = open_ledger(settings, group_commit=True)
        group = {}
        for clients in args.clients:
            parts = partition(lifecycle(args, next(seeds)), clients)
            with ThreadPoolExecutor(clients) as pool:
                group[clients] = timed(lambda parts=parts: sum(pool.map(lambda steps: run_day(grouped, steps), parts)))
        grouped.close()

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(RAW_TABLE)
            raw_one_s, _ = timed(lambda: [conn.execute(INSERT, row) for row in rows])
            raw_n = {}
            for clients in args.clients:
                conn.execute("TRUNCATE raw_events")
                raw_n[clients] = raw_concurrent(url, rows, clients)
            conn.execute("TRUNCATE raw_events")

            def batched() -> None:
                for i in range(0, len(rows), 1000):
                    with conn.transaction(), conn.cursor() as cur:
                        cur.executemany(INSERT, rows[i : i + 1000])

            raw_batch_s, _ = timed(batched)

        # The server last, so its view followers do not compete with the runs above.
        server, base = start_server(url, log)
        http_run(base, token, lifecycle(args, next(seeds))[:200], 4)  # warm-up: first-request costs, not measured
        # The HTTP floor first, while the server's view followers are idle.
        health = {clients: health_run(base, clients, events) for clients in args.clients}
        http, server_ms, settle = {}, {}, {}
        for size in (1, *args.batch):
            for clients in args.clients:
                cpu_before = cpu_seconds(server.pid)
                seconds, sent, errors = http_run(base, token, lifecycle(args, next(seeds)), clients, size)
                settle[size, clients] = views_settle(base)
                if errors:
                    print(*errors[:10], sep="\n", file=sys.stderr)
                    raise SystemExit(f"{len(errors)} of {sent} events failed with {clients} clients, batch {size}")
                http[size, clients] = (seconds, sent)
                server_ms[size, clients] = 1000 * (cpu_seconds(server.pid) - cpu_before) / sent

        base_rate = events / raw_one_s
        lines = [("ledger, 1 client, one command per transaction", events, app_s)]
        lines += [(f"ledger, {n} clients, group commit", w, s) for n, (s, w) in group.items()]
        lines += [
            (
                f"HTTP API, {n} client threads, "
                + ("one event per request" if size == 1 else f"{size} events per request"),
                w,
                s,
            )
            for (size, n), (s, w) in http.items()
        ]
        lines += [
            (f"HTTP GET /health, {n} client threads (requests, not events)", r, s) for n, (s, r) in health.items()
        ]
        lines += [("raw psycopg, 1 connection, one row per transaction", events, raw_one_s)]
        lines += [(f"raw psycopg, {n} connections, one row per transaction", events, s) for n, s in raw_n.items()]
        lines += [("raw psycopg, 1000 rows per transaction", events, raw_batch_s)]
        print(
            f"# callvault API ingest benchmark: {args.calls} calls per run, lifecycle events only "
            f"(no segments), {events} events in the ledger/raw runs, PostgreSQL, 0 HTTP errors"
        )
        for label, count, seconds in lines:
            print(f"{label + ':':<62} {rate(count, seconds):<32} {count / seconds / base_rate:.2f} x raw 1 conn")
        for (size, clients), ms in server_ms.items():
            seconds, sent = http[size, clients]
            print(
                f"{clients} clients, {size} per request: server CPU {ms:.2f} ms per event (with its view "
                f"followers); views caught up {settle[size, clients]:.2f} s after the last answer, so "
                f"{rate(sent, seconds + settle[size, clients])} through to the views"
            )
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        drop_scratch_database(args.admin_url, name)
        log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
