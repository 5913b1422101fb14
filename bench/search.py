"""Search at scale on PostgreSQL: a month of recordings, queried through HTTP beside the bare SQL of the same rows.

Run by hand (never in tests):
    .venv/bin/python bench/search.py --recordings 1000000 --keep      # generate, measure, keep the database
    .venv/bin/python bench/search.py --reuse callvault_search_<id>    # measure again on a kept database

Generation (bench/search_population.py) writes the directory through the
identity service and every call's lifecycle through the real ledger (group
commit, several processes), then catches up every view; its rates are printed.
Then a `callvault serve` subprocess answers one client, one request at a time,
and each request is followed by the bare SQL of the same rows on the view
(psycopg, one connection): p50/p95/p99 of both, the slowest HTTP request, and
the ratio of the p50s, all from the same run, since these machines are noisy
and shared. Last, starting a call over HTTP beside a raw one-row insert of the same stored payload.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import httpx
import psycopg
from psycopg.conninfo import make_conninfo
from scratch_databases import DEFAULT_ADMIN_URL, create_scratch_database, drop_scratch_database
from search_population import BENCH_ADMIN, Population, generate, new_population
from search_queries import (
    Kind,
    Picker,
    Probe,
    agent_searches,
    customer_searches,
    deep_pages,
    flagged_searches,
    legal_queue_hour_searches,
    queue_hour_searches,
    recording_reads,
    tag_searches,
)

from adapters.event_store import open_ledger
from api.bootstrap import build

sys.path.insert(0, str(Path(__file__).parent))
from api_ingest import cpu_seconds, start_server, views_settle  # noqa: E402
from ingest import INSERT, RAW_TABLE  # noqa: E402

DEEP_PAGE = 21


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 in milliseconds (nearest rank)."""
    ordered = sorted(samples)
    return tuple(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.95, 0.99))  # type: ignore[return-value]


class Timer:
    """One HTTP client and one SQL connection; each probe timed on both, one after the other."""

    def __init__(self, base: str, tokens: dict[str, str], sql: psycopg.Connection) -> None:
        self.http = httpx.Client(base_url=base, timeout=120)
        self.tokens = tokens
        self.sql = sql

    def get(self, probe: Probe) -> tuple[float, dict]:
        headers = {"Authorization": f"Bearer {self.tokens[probe.user]}"}
        began = time.perf_counter()
        response = self.http.get(probe.path, params=probe.params, headers=headers)
        seconds = time.perf_counter() - began
        if response.status_code != 200:
            raise SystemExit(
                f"{probe.path} {probe.params} as {probe.user}: {response.status_code} {response.text[:300]}"
            )
        return seconds, response.json()

    def select(self, probe: Probe) -> tuple[float, int]:
        began = time.perf_counter()
        rows = 0
        for statement, params in probe.sql:
            rows = len(self.sql.execute(statement, params).fetchall())
        return time.perf_counter() - began, rows


class Row:
    def __init__(self, label: str, who: str, http: list[float], sql: list[float], rows: float) -> None:
        self.label, self.who, self.http, self.sql, self.rows = label, who, http, sql, rows
        self.server_ms = float("nan")  # the server's CPU per request, its views worker included

    def line(self) -> str:
        h = percentiles(self.http)
        head = (
            f"| {self.label} | {self.who} | {self.rows:.1f} | {h[0]:.1f} | {h[1]:.1f} | {h[2]:.1f} "
            f"| {1000 * max(self.http):.1f} "
        )
        tail = f" {self.server_ms:.1f} |"
        if not self.sql:
            return head + "| | | | |" + tail
        s = percentiles(self.sql)
        return head + f"| {s[0]:.2f} | {s[1]:.2f} | {s[2]:.2f} | {h[0] / s[0]:.1f}x |" + tail


def measure(timer: Timer, kind: Kind) -> Row:
    http, sql, rows = [], [], 0
    for probe in kind.probes:
        seconds, body = timer.get(probe)
        http.append(seconds)
        sql_seconds, found = timer.select(probe)
        sql.append(sql_seconds)
        rows += len(body["items"]) if "items" in body else found
    return Row(kind.name, kind.who, http, sql, rows / len(kind.probes))


def first_and_repeated(timer: Timer, kind: Kind) -> list[Row]:
    """Each page asked twice in a row: first its rows are new to the server, then they are not."""
    firsts, repeats, sql_firsts, sql_repeats, rows = [], [], [], [], 0
    for probe in kind.probes:
        seconds, body = timer.get(probe)
        firsts.append(seconds)
        sql_firsts.append(timer.select(probe)[0])
        repeats.append(timer.get(probe)[0])
        sql_repeats.append(timer.select(probe)[0])
        rows += len(body["items"])
    mean = rows / len(kind.probes)
    return [
        Row(f"{kind.name}, first time (rows new to the server)", kind.who, firsts, sql_firsts, mean),
        Row(f"{kind.name}, the same page again", kind.who, repeats, sql_repeats, mean),
    ]


def health(timer: Timer, n: int) -> list[Row]:
    """GET /health: what HTTP alone costs this client and server, with no store work."""
    seconds = []
    for _ in range(n):
        began = time.perf_counter()
        timer.http.get("/health").raise_for_status()
        seconds.append(time.perf_counter() - began)
    return [Row("GET /health (HTTP alone, no store work)", "nobody", seconds, [], 0)]


def walk(timer: Timer, floors: list[int], pages: int) -> tuple[list[tuple[int, str, datetime, str]], list[float]]:
    """Follows `next` from page 1 to the cursor of page ``pages`` for each floor supervisor."""
    cursors, seconds = [], []
    for floor in floors:
        probe = Probe(f"floor-sup-{floor:02d}", "/v1/recordings")
        for _ in range(pages - 1):
            spent, body = timer.get(probe)
            seconds.append(spent)
            if body["next"] is None:
                break
            probe = Probe(probe.user, probe.path, {"after": body["next"]})
        else:
            last = body["items"][-1]
            cursors.append(
                (floor, body["next"], datetime.fromisoformat(last["started_at"]), UUID(last["recording_id"]))
            )
    return cursors, seconds


def sample_recordings(
    sql: psycopg.Connection, population: Population, teams: list[int], n: int, rng: random.Random
) -> list[tuple[UUID, str]]:
    picked = []
    for _ in range(n):
        agent = rng.choice(population.agents_of_team(rng.choice(teams)))
        row = sql.execute(
            "SELECT recording_id, agent_id FROM recordings WHERE agent_id = %s ORDER BY started_at OFFSET %s LIMIT 1",
            [agent, rng.randrange(population.recordings // population.agents)],
        ).fetchone()
        if row:
            picked.append((row[0], row[1]))
    return picked


def start_calls(
    base: str, token: str, sql: psycopg.Connection, population: Population, n: int, rng: random.Random
) -> list[Row]:
    """POST /v1/recordings one at a time, then the same stored payloads as raw one-row inserts."""
    run = f"bench-{os.getpid()}-{int(time.time())}"
    http, ids = [], []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for i in range(n):
            body = {
                "interaction_id": f"{run}-{i}",
                "agent_id": f"agent-{rng.randrange(population.agents):03d}",
                "customer_id": rng.choice(population.customers),
                "queue": rng.choice(population.queues),
                "direction": "inbound",
                "tags": {"language": "en", "campaign": "c1"},
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            began = time.perf_counter()
            response = client.post("/v1/recordings", json=body)
            http.append(time.perf_counter() - began)
            if response.status_code != 201:
                raise SystemExit(f"start: {response.status_code} {response.text[:300]}")
            ids.append(UUID(response.json()["recording_id"]))
    stored = sql.execute(
        "SELECT originator_id, originator_version, topic, state FROM stored_events "
        "WHERE originator_id = ANY(%s) AND originator_version = 1",
        [ids],
    ).fetchall()
    sql.execute("DROP TABLE IF EXISTS raw_events")
    sql.execute(RAW_TABLE)
    raw = []
    try:
        for row in stored:
            began = time.perf_counter()
            sql.execute(INSERT, row)  # autocommit: one transaction each
            raw.append(time.perf_counter() - began)
    finally:
        sql.execute("DROP TABLE raw_events")
    return [Row("start a call (POST /v1/recordings)", "telephony", http, raw, 1)]


def prepare(population: Population, users: list[str]) -> dict[str, str]:
    """Migrates a kept database to this code, brings every view up to date (a migration may have
    emptied one), and issues fresh tokens through the identity service (tokens are shown once)."""
    began = time.perf_counter()
    components = build(population.settings(), serving=False)  # migrates first
    try:
        applied = components.projections.catch_up()
        print(f"migrated and views caught up ({applied:,} events applied) in {time.perf_counter() - began:.1f} s")
        return {name: components.identity.issue_token(name, by=BENCH_ADMIN)[2] for name in users}
    finally:
        components.close()


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def revision() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "adapters", "api", "projections", "domain", "migrations"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head}{' + uncommitted changes in ' + str(len(dirty.splitlines())) + ' product files' if dirty else ''}"


def run(population: Population, args: argparse.Namespace, log: Path) -> None:
    rng = random.Random(args.seed)
    n = args.requests
    teams = sorted(rng.sample(range(population.teams), min(population.teams, 50)))
    floors = list(range(population.floors))
    users = [f"sup-{t:03d}" for t in teams] + [f"floor-sup-{f:02d}" for f in floors] + ["legal-1", "pbx-1"]
    began = time.perf_counter()
    tokens = prepare(population, users)
    print(f"tokens for {len(tokens)} users issued in {time.perf_counter() - began:.1f} s")

    os.environ["CALLVAULT_MASTER_KEY"] = population.master_key  # the server opens what the generator sealed
    server, base = start_server(population.url, log)
    ledger = open_ledger(population.settings(), group_commit=False)  # for the blind indexes of the SQL filters
    try:
        print(f"server up; views caught up {views_settle(base):.1f} s later; load average {load_average()}")
        with psycopg.connect(population.url, autocommit=True) as sql:
            timer = Timer(base, tokens, sql)
            picker = Picker(population, teams, rng)
            recordings = sample_recordings(sql, population, teams, n, rng)
            began = time.perf_counter()
            cursors, walked = walk(timer, floors[: max(1, min(len(floors), n // 8))], DEEP_PAGE)
            print(
                f"walked {len(walked)} pages to page {DEEP_PAGE} for {len(cursors)} floor supervisors in "
                f"{time.perf_counter() - began:.1f} s (p50 {percentiles(walked)[0]:.1f} ms a page)"
            )
            measured: list[Callable[[], list[Row]]] = [
                lambda: health(timer, n),
                lambda: [measure(timer, agent_searches(picker, n))],
                lambda: [measure(timer, queue_hour_searches(picker, n))],
                lambda: [measure(timer, deep_pages(picker, cursors, n))] if cursors else [],
                lambda: first_and_repeated(timer, legal_queue_hour_searches(picker, n)),
                lambda: [measure(timer, customer_searches(picker, n, ledger.customer_ref_of))],
                lambda: [measure(timer, tag_searches(picker, n, ledger.tag_ref))],
                lambda: [measure(timer, flagged_searches(picker, n, "missing"))],
                lambda: [measure(timer, flagged_searches(picker, n, "hold"))],
                lambda: [measure(timer, recording_reads(picker, recordings, n, history=False))],
                lambda: [measure(timer, recording_reads(picker, recordings, n, history=True))],
                lambda: start_calls(base, tokens["pbx-1"], sql, population, args.starts, rng),
            ]
            rows = []
            for step in measured:
                cpu = cpu_seconds(server.pid)
                produced = step()
                spent = cpu_seconds(server.pid) - cpu
                for row in produced:
                    row.server_ms = 1000 * spent / sum(len(r.http) for r in produced)
                rows += produced
            timer.http.close()
        report(population, args, rows)
    finally:
        ledger.close()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def report(population: Population, args: argparse.Namespace, rows: list[Row]) -> None:
    f = population.figures
    print(f"\n# callvault search benchmark: {population.recordings:,} recordings, PostgreSQL, code at {revision()}")
    print(f"load average at the end: {load_average()}; database {population.database}")
    print(
        f"generation: {f['generation_events']:,.0f} events in {f['generation_seconds']:.0f} s = "
        f"{f['generation_events'] / f['generation_seconds']:,.0f} events/s ({f['writers']:.0f} writer processes, "
        f"group commit, {f['batch']:.0f} commands per execute_all); directory {f['directory_operations']:.0f} "
        f"operations in {f['directory_seconds']:.0f} s"
    )
    print(
        f"catch-up of every view: {f['catch_up_events']:,.0f} log events in {f['catch_up_seconds']:.0f} s = "
        f"{f['catch_up_events'] / f['catch_up_seconds']:,.0f} events/s"
    )
    print(f"\n{args.requests} requests per query ({args.starts} starts), one client, one request at a time; ms\n")
    print(
        "| query | caller | rows | HTTP p50 | p95 | p99 | max | SQL p50 | p95 | p99 | HTTP/SQL p50 | server CPU/req |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row.line())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=2, help="generating processes")
    parser.add_argument("--batch", type=int, default=500, help="commands per execute_all while generating")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per query")
    parser.add_argument("--starts", type=int, default=500, help="timed call starts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the generated database for --reuse")
    parser.add_argument("--reuse", metavar="NAME", help="a database kept by an earlier --keep run")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()

    log = Path(tempfile.mkstemp(prefix="callvault-search-", suffix=".log")[1])
    if args.reuse:
        population = Population.load(args.reuse)
    else:
        name, url = create_scratch_database(args.admin_url, prefix="callvault_search")
        population = new_population(name, make_conninfo(url), recordings=args.recordings, agents=args.agents)
    try:
        if not args.reuse:
            print(
                f"generating {args.recordings:,} recordings into {population.database}; load average {load_average()}"
            )
            generate(population, writers=args.writers, batch=args.batch)
            f = population.figures
            print(
                f"generated {f['generation_events']:,.0f} events in {f['generation_seconds']:.0f} s, "
                f"caught up {f['catch_up_events']:,.0f} in {f['catch_up_seconds']:.0f} s"
            )
            with psycopg.connect(population.url, autocommit=True) as sql:
                sql.execute("ANALYZE")  # as autovacuum would soon: plans on real statistics
                # Writing a month of calls in minutes leaves PostgreSQL minutes of requested
                # checkpoints to write, which stalled the first measured runs (a steady
                # system spreads its checkpoints out): written now, before anything is timed.
                sql.execute("CHECKPOINT")
            if args.keep:
                print(f"kept: --reuse {population.database} ({population.save()})")
        if not args.generate_only:
            run(population, args, log)
    finally:
        if not (args.keep or args.reuse):
            drop_scratch_database(args.admin_url, population.database)
        log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
