"""Scale-out: lifecycle ingest and screen-segment uploads with 1, 2 and 4 `callvault serve`
processes on one PostgreSQL, each beside its raw baseline from the same run (issue #16).

Run by hand (never in tests):
    .venv/bin/python bench/scale_out.py [--processes 1 2 4] [--clients 12] [--seconds 12] \
        [--batch 100] [--uploads 240] [--direct-uploads 1200] \
        [--admin-url postgresql://postgres@127.0.0.1/postgres]

One scratch database, one media directory and one set of key files for the whole run. For
each process count N, N servers are started one after the other (each migrates and answers
/health before the next starts), each a plain `callvault serve` of this checkout on a port of
its own with the default settings (group commit, its views worker in a child process).
Client thread k talks to server k mod N.

1. Lifecycle ingest, `--seconds` each: `--clients` threads send fresh simulated calls (the
   same lifecycle mix as bench/api_ingest.py, through its `drive`), first one event per
   request, then `--batch` events per POST /v1/lifecycle-events; at the deadline each
   thread finishes the few calls in hand. The views are then waited for (/ready).
2. Segment uploads: `--uploads` dense 5-s 1080p H.264 segments (bench/segment_ingest.py's,
   made once into its cache) PUT by `--clients` threads, spread evenly over the
   servers, each thread starting a call and uploading its segments in turn.
3. With the servers stopped, the baselines: raw psycopg, one row per transaction
   (autocommit) of the payloads the servers stored, for `--seconds` over `--clients`
   connections; and the same segment bytes (`--direct-uploads` of them: the baseline is
   fast enough that `--uploads` would take a fraction of a second) hashed, sealed and
   stored create-only in a media store of the same kind by `--clients` threads
   (segment_ingest's `direct_run`).

Beside every row, where the CPU went, in cores (CPU seconds over wall seconds): the
servers, their views workers, PostgreSQL (its live processes and what it reaped), this
bench's own threads, and the rest of the machine (/proc/stat's busy time less those four:
other people's work on a shared machine). These machines are noisy: only ratios within
one run mean much.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from types import FrameType
from typing import Any
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, not the one installed in the venv

import msgspec  # noqa: E402
import psycopg  # noqa: E402
from api_ingest import drive, lifecycle, views_settle  # noqa: E402
from ingest import INSERT, RAW_TABLE  # noqa: E402
from playback import cpu_seconds, free_port, provision, server_env, server_settings, wait_for  # noqa: E402
from scratch_databases import DEFAULT_ADMIN_URL, create_scratch_database, drop_scratch_database  # noqa: E402
from segment_ingest import Run, Server, direct_run, make_segments, tree_cpu, upload_run  # noqa: E402

from adapters.event_store import open_ledger  # noqa: E402

AGENTS = 50
EVENTS_PER_CALL = 4.2  # the simulated day's lifecycle events per call, segments left out
PER_EVENT_CALLS = 8  # calls a per-event client takes at a time (about 34 requests)
TICK = os.sysconf("SC_CLK_TCK")


# -- where the CPU went ------------------------------------------------------------------


@dataclass(frozen=True)
class Cpu:
    """CPU seconds so far (or over a cell, as a difference), and the wall clock."""

    wall: float
    servers: float
    views: float
    postgres: float
    bench: float
    machine: float

    @classmethod
    def now(cls, servers: list[Server]) -> Cpu:
        own = sum(cpu_seconds(s.pid) for s in servers)
        tree = sum(tree_cpu(s.pid) for s in servers)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(time.perf_counter(), own, tree - own, postgres_cpu(), usage.ru_utime + usage.ru_stime, machine_cpu())

    def __sub__(self, before: Cpu) -> Cpu:
        return Cpu(*(getattr(self, f.name) - getattr(before, f.name) for f in fields(self)))

    def cores(self) -> str:
        known = (self.servers, self.views, self.postgres, self.bench)
        return " · ".join(f"{cpu / self.wall:.2f}" for cpu in (*known, self.machine - sum(known)))


def postgres_cpu() -> float:
    """Every live PostgreSQL process's CPU seconds, plus the postmaster's reaped children's
    (a backend that ended during a cell, e.g. a closed connection's, still counts)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if (stat.parent / "comm").read_text().strip() != "postgres":
                continue
            fields_ = stat.read_text().rsplit(")", 1)[1].split()
            parent = (Path("/proc") / fields_[1] / "comm").read_text().strip()
        except OSError:  # exited meanwhile
            continue
        total += int(fields_[11]) + int(fields_[12])
        if parent != "postgres":  # the postmaster
            total += int(fields_[13]) + int(fields_[14])
    return total / TICK


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all but idle and I/O wait), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK


# -- the servers ---------------------------------------------------------------------------


def start_servers(work: Path, url: str, tokens: dict[str, str], count: int) -> list[Server]:
    """``count`` servers on the run's one database, media directory and keys, started in turn."""
    servers: list[Server] = []
    try:
        for n in range(count):
            settings = msgspec.structs.replace(server_settings(work, free_port()), database_url=url)
            log = work / f"server-{count}-{n}.log"
            command = [sys.executable, "-c", "import sys; from api.cli.main import main; sys.exit(main())", "serve"]
            with log.open("w") as out:
                process = subprocess.Popen(
                    command,
                    cwd=work,
                    env={**server_env(settings), "PYTHONPATH": str(ROOT)},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            servers.append(Server(process, f"http://127.0.0.1:{settings.port}", tokens))
            wait_for(f"{servers[-1].base}/health", process, log)
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: list[Server]) -> None:
    """SIGTERM to each (a clean stop that ends its views worker); SIGKILL to what outlives 30 s."""
    children = {s.pid: child_pids(s.pid) for s in servers}
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
        deadline = time.monotonic() + 10
        for pid in children[server.pid]:
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


def child_pids(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                children.append(int(stat.parent.name))
        except OSError:
            continue
    return children


# -- the cells -----------------------------------------------------------------------------


@dataclass
class Cell:
    what: str
    count: int  # events, rows or uploads done
    cpu: Cpu
    failed: int = 0
    megabytes: float = 0.0
    settle: float = 0.0  # seconds the views took to catch up after the last answer

    @property
    def rate(self) -> float:
        return self.count / self.cpu.wall


def spread(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def ingest_cell(servers: list[Server], clients: int, seconds: float, size: int, seeds: Iterator[int]) -> Cell:
    """``clients`` threads, thread k on server k mod N, each driving fresh calls until the deadline."""
    token = servers[0].tokens["pbx"]
    calls = PER_EVENT_CALLS if size == 1 else math.ceil(3 * size / EVENTS_PER_CALL)
    deadline = time.monotonic() + seconds

    def client(k: int) -> tuple[int, list[str]]:
        base, done, errors = servers[k % len(servers)].base, 0, list[str]()
        while time.monotonic() < deadline:
            steps = lifecycle(argparse.Namespace(agents=AGENTS, calls=calls), next(seeds))
            if size > 1:
                # Whole requests only; the calls cut short are left open (no view or job minds).
                steps = steps[: len(steps) // size * size]
            sent, failed = drive(base, token, steps, size)
            done, errors = done + sent - len(failed), errors + failed
        return done, errors

    before = Cpu.now(servers)
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    cpu = Cpu.now(servers) - before
    errors = [e for _, errs in results for e in errs]
    if errors:
        print(f"# {len(errors)} failed, e.g.:", *errors[:5], sep="\n", file=sys.stderr)
    what = "one event per request" if size == 1 else f"{size} events per request"
    return Cell(what, sum(done for done, _ in results), cpu, len(errors), settle=views_settle(servers[0].base))


def segment_cell(servers: list[Server], bodies: list[bytes], uploads: int, clients: int, label: str) -> Cell:
    """``uploads`` segments over the servers at once, ``clients`` threads spread evenly over them."""
    shares, threads = spread(uploads, len(servers)), spread(clients, len(servers))

    def one(k: int) -> Run:
        return upload_run(servers[k], bodies, shares[k], threads[k], f"{label}-{k}")

    before = Cpu.now(servers)
    with ThreadPoolExecutor(len(servers)) as pool:
        runs = list(pool.map(one, range(len(servers))))
    cpu = Cpu.now(servers) - before
    mb = sum(r.megabytes for r in runs)
    return Cell("HTTP PUT, 5-s segments", uploads, cpu, megabytes=mb, settle=views_settle(servers[0].base))


def raw_cell(url: str, rows: list[tuple[Any, ...]], connections: int, seconds: float) -> Cell:
    """Raw psycopg, one row per transaction (autocommit), over ``connections`` until the deadline."""
    deadline = time.monotonic() + seconds

    def insert(k: int) -> int:
        done = 0
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                _, version, topic, state = rows[(k + done * connections) % len(rows)]
                conn.execute(INSERT, (uuid4(), version, topic, state))
                done += 1
        return done

    before = Cpu.now([])
    with ThreadPoolExecutor(connections) as pool:
        done = sum(pool.map(insert, range(connections)))
    return Cell("raw psycopg, one row per transaction", done, Cpu.now([]) - before)


def direct_cell(folder: Path, bodies: list[bytes], uploads: int, threads: int) -> Cell:
    before = Cpu.now([])
    run = direct_run(folder, bodies, uploads, threads)
    return Cell("direct: hash, seal, store create-only", uploads, Cpu.now([]) - before, megabytes=run.megabytes)


def stored_payloads(settings: Any, limit: int = 5000) -> list[tuple[Any, ...]]:
    """What the servers stored: (originator id, version, topic, state) of the log's first events."""
    ledger = open_ledger(settings, group_commit=False)
    try:
        stored = ledger.recorder.select_notifications(start=None, limit=limit)
        return [(n.originator_id, n.originator_version, n.topic, n.state) for n in stored]
    finally:
        ledger.close()


# -- the run -------------------------------------------------------------------------------


def measure(args: argparse.Namespace, work: Path, url: str, progress: Callable[[str], None]) -> list[str]:
    settings = msgspec.structs.replace(server_settings(work, 0), database_url=url)
    tokens = provision(settings)
    bodies, _ = make_segments(args.media_dir, 60, "text")  # segment_ingest's defaults: its cache is shared
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
    seeds = itertools.count(1)  # a fresh seed per chunk of calls: interaction ids never collide
    ingest: dict[int, list[Cell]] = {}
    segments: dict[int, list[Cell]] = {}
    rows: list[tuple[Any, ...]] = []
    for count in args.processes:
        servers = start_servers(work, url, tokens, count)
        try:
            # First requests pay for imports, connections and caches: not measured.
            ingest_cell(servers, len(servers), 1.0, 1, seeds)
            ingest_cell(servers, len(servers), 1.0, args.batch, seeds)
            segment_cell(servers, bodies, 2 * count, count, f"warm{count}")
            ingest[count] = [ingest_cell(servers, args.clients, args.seconds, size, seeds) for size in (1, args.batch)]
            progress(f"{count} processes: ingest {[round(c.rate) for c in ingest[count]]}")
            segments[count] = [segment_cell(servers, bodies, args.uploads, args.clients, f"n{count}")]
            progress(f"{count} processes: segments {segments[count][0].rate:.1f}/s")
        finally:
            stop_servers(servers)
        rows = rows or stored_payloads(settings)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE raw_events")
        ingest[count].append(raw_cell(url, rows, args.clients, args.seconds))
        segments[count].append(direct_cell(work / "direct", bodies, args.direct_uploads, args.clients))
        progress(f"{count} processes: baselines {ingest[count][-1].rate:.0f}/s, {segments[count][-1].rate:.0f}/s")
    return tables(args, ingest, segments)


def tables(args: argparse.Namespace, ingest: dict[int, list[Cell]], segments: dict[int, list[Cell]]) -> list[str]:
    cores = "cores: servers · views · PostgreSQL · bench · rest of the machine"
    first = args.processes[0]
    lines = [
        f"| server processes | what | events | events/s | × raw, same N | × N={first} | failed "
        f"| server+views CPU ms/event | views caught up after, s | {cores} |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for count, cells in ingest.items():
        raw = cells[-1]
        for n, cell in enumerate(cells):
            server_ms = (cell.cpu.servers + cell.cpu.views) * 1000 / cell.count
            lines.append(
                f"| {count} | {cell.what} | {cell.count:,} | {cell.rate:,.0f} | {cell.rate / raw.rate:.2f} "
                f"| {cell.rate / ingest[first][n].rate:.2f} | {cell.failed} "
                f"| {server_ms:.2f} | {cell.settle:.2f} | {cell.cpu.cores()} |"
                if cell is not raw
                else f"| {count} | {cell.what}, {args.clients} connections | {cell.count:,} | {cell.rate:,.0f} "
                f"| 1.00 | {cell.rate / ingest[first][n].rate:.2f} | | | | {cell.cpu.cores()} |"
            )
    lines += [
        "",
        f"| server processes | what | uploads | uploads/s | MB/s | × direct, same N | × N={first} "
        f"| CPU ms/upload: servers+views (direct: the bench) | {cores} |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for count, cells in segments.items():
        direct = cells[-1]
        for n, cell in enumerate(cells):
            cpu = cell.cpu.bench if cell is direct else cell.cpu.servers + cell.cpu.views
            lines.append(
                f"| {count} | {cell.what} | {cell.count} | {cell.rate:.1f} | {cell.megabytes / cell.cpu.wall:.1f} "
                f"| {cell.rate / direct.rate:.2f} | {cell.rate / segments[first][n].rate:.2f} "
                f"| {cpu * 1000 / cell.count:.1f} | {cell.cpu.cores()} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4], help="server processes, one pass each")
    parser.add_argument("--clients", type=int, default=12, help="client threads, and raw connections")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each ingest and raw cell")
    parser.add_argument("--batch", type=int, default=100, help="events per request in the batched cells")
    parser.add_argument("--uploads", type=int, default=240, help="5-s segments per upload cell")
    parser.add_argument(
        "--direct-uploads", type=int, default=1200, help="segments per direct cell (a second or two; fewer is noise)"
    )
    parser.add_argument("--media-dir", type=Path, default=Path(tempfile.gettempdir()) / "callvault-segment-bench")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    if args.clients < max(args.processes):
        parser.error("--clients must be at least the largest --processes (every server gets a client)")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwinds through the finally blocks below

    signal.signal(signal.SIGTERM, stop)
    began = time.monotonic()

    def progress(line: str) -> None:
        print(f"# {time.monotonic() - began:.0f} s: {line}", file=sys.stderr, flush=True)

    name, url = create_scratch_database(args.admin_url, "callvault_scaleout")
    try:
        with tempfile.TemporaryDirectory(prefix="scale-out-bench-") as scratch:
            lines = measure(args, Path(scratch), url, progress)
    finally:
        drop_scratch_database(args.admin_url, name)
    print(
        f"# callvault scale-out benchmark: {args.processes} server processes on one PostgreSQL database, "
        f"{args.clients} client threads, {args.seconds:g} s per ingest cell, {args.uploads} uploads per segment cell "
        f"({args.direct_uploads} direct), "
        f"{os.cpu_count()} cores"
    )
    print(*lines, sep="\n")


if __name__ == "__main__":
    main()
