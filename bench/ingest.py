"""Ledger ingest and projection catch-up on PostgreSQL, each beside a raw psycopg baseline.

Run by hand (never in tests):
    .venv/bin/python bench/ingest.py --calls 1000 --clients 16 [--admin-url postgresql://postgres@127.0.0.1/postgres]
    .venv/bin/python bench/ingest.py --calls 20000 --reads-only   # views: catch-up and rebuild of a large log
    .venv/bin/python bench/ingest.py --log-url URL   # the same reads again on a log kept by --keep

Everything is measured in one run against one fresh database, since these
machines are noisy; only ratios within a run mean much.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
from scratch_databases import DEFAULT_ADMIN_URL, create_scratch_database, drop_scratch_database

from adapters.event_store import open_ledger, open_view_store
from adapters.migrate import migrate
from adapters.settings import Settings
from adapters.view_rows import AuditQuery
from adapters.view_store import VIEW_TABLES, ViewStore
from api.cli.simulation import DayPlan, Step, plan_day, run_day
from api.gc_tuning import tune_for_service
from api.jobs import views_rebuild
from domain.access_record import Outcome
from domain.ledger import RecordingLedger
from domain.values import Actor
from projections.runner import Projections

RAW_TABLE = """CREATE TABLE raw_events (
    originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea,
    notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"""
INSERT = "INSERT INTO raw_events (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"


def raw_concurrent(url: str, rows: list[tuple], clients: int) -> float:
    """Seconds for raw one-row-per-transaction inserts spread over N connections."""

    def insert(part: list[tuple]) -> None:
        with psycopg.connect(url, autocommit=True) as own:
            for row in part:
                own.execute(INSERT, row)

    with ThreadPoolExecutor(clients) as pool:
        seconds, _ = timed(lambda: list(pool.map(insert, [rows[k::clients] for k in range(clients)])))
    return seconds


def partition(steps: list[Step], clients: int) -> list[list[Step]]:
    return [[s for s in steps if s.call % clients == k] for k in range(clients)]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s ({count} in {seconds:.2f}s)"


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--clients", type=int, default=16, help="concurrent writers for the concurrent runs")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument(
        "--reads-only",
        action="store_true",
        help="write the log with group commit only (no write baselines), then time reads, catch-ups, a rebuild",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed) for --log-url")
    parser.add_argument(
        "--log-url", help="time only the reads, on the log of this kept database (to compare two versions of the code)"
    )
    args = parser.parse_args()

    if args.log_url:
        settings = Settings(database_url=args.log_url)
        migrate(settings)
        ledger = open_ledger(settings, group_commit=False)
        print(f"# callvault ingest benchmark: reads of the log kept at {args.log_url}, PostgreSQL")
        reads(ledger, args.log_url, settings)
        ledger.close()
        return
    name, url = create_scratch_database(args.admin_url)
    try:
        settings = Settings(database_url=url)
        migrate(settings)
        ledger = open_ledger(settings, group_commit=False)

        def day(seed: int) -> list[Step]:
            return plan_day(
                DayPlan(agents=args.agents, calls=args.calls, seed=seed, start=datetime(2026, 11, 23, 8, tzinfo=UTC))
            )

        print(f"# callvault ingest benchmark: {args.calls} calls, PostgreSQL")
        if not args.reads_only:
            writes(ledger, url, day(1), args.clients)
        # Many calls live at once: each client drives its own calls, in time order.
        grouped = open_ledger(settings, group_commit=True)
        clients = partition(day(2), args.clients)
        with ThreadPoolExecutor(args.clients) as pool:
            group_s, written = timed(lambda: sum(pool.map(lambda steps: run_day(grouped, steps), clients)))
        grouped.close()
        print(f"ledger, {args.clients} clients, group commit:               {rate(written, group_s)}")
        reads(ledger, url, settings)
        ledger.close()
    finally:
        if args.keep:
            print(f"kept: --log-url {url}")
        else:
            drop_scratch_database(args.admin_url, name)


def writes(ledger: RecordingLedger, url: str, steps: list[Step], clients: int) -> None:
    """The write path: the plain ledger against raw psycopg inserts of the same payloads."""
    app_s, events = timed(lambda: run_day(ledger, steps))
    stored = ledger.recorder.select_notifications(start=None, limit=10**9)
    rows = [(n.originator_id, n.originator_version, n.topic, n.state) for n in stored]
    assert len(rows) == events
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
        raw_one_s, _ = timed(lambda: [conn.execute(INSERT, row) for row in rows])
        conn.execute("TRUNCATE raw_events")
        raw_concurrent_s = raw_concurrent(url, rows, clients)
        conn.execute("TRUNCATE raw_events")

        def batched() -> None:
            for i in range(0, len(rows), 1000):
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(INSERT, rows[i : i + 1000])

        raw_batch_s, _ = timed(batched)
        conn.execute("DROP TABLE raw_events")
    print(f"ledger, 1 client, one command per transaction:      {rate(events, app_s)}")
    print(f"raw psycopg, 1 connection, one row per transaction: {rate(events, raw_one_s)}")
    print(f"raw psycopg, {clients} connections, one row per transaction: {rate(events, raw_concurrent_s)}")
    print(f"raw psycopg, 1000 rows per transaction:            {rate(events, raw_batch_s)}")


def raw_read(url: str) -> int:
    """The whole log in 1000-row pages of plain tuples: the baseline for the views."""
    seen, last = 0, 0
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            page = conn.execute(
                "SELECT * FROM stored_events WHERE notification_id > %s ORDER BY notification_id LIMIT 1000",
                [last],
            ).fetchall()
            if not page:
                return seen
            seen += len(page)
            last = page[-1][4]


def raw_write(url: str, tables: tuple[str, ...]) -> float:
    """Seconds to write a view's rows with no fold and no Python: its tables, as a catch-up left
    them, copied out and back by binary COPY into empty tables with the same indexes and
    constraints. Read plus this is as fast as the view's catch-up could ever be."""
    seconds = 0.0
    with psycopg.connect(url) as conn:
        for table in tables:
            with conn.cursor().copy(f"COPY {table} TO STDOUT (FORMAT BINARY)") as out:
                data = b"".join(bytes(chunk) for chunk in out)
            conn.execute(f"CREATE TABLE bench_raw_{table} (LIKE {table} INCLUDING ALL)")
            conn.commit()
            start = time.perf_counter()
            with conn.cursor().copy(f"COPY bench_raw_{table} FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)
            conn.commit()
            seconds += time.perf_counter() - start
            conn.execute(f"DROP TABLE bench_raw_{table}")
            conn.commit()
    return seconds


def audit_pages(store: ViewStore, url: str, requests: int = 50) -> tuple[float, float, int]:
    """Median ms of the audit trail's first page and of the page halfway through it (an auditor
    paging through it all), and how many rows come before that page. Halfway is the keyset's
    worst case when it is a filter: the planner takes the key's order and drops every row before
    the page, where for a page near the end it would gather the few rows after it and sort them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE audit_trail")  # as autovacuum soon would, after the rebuild refilled it
        (rows,) = conn.execute("SELECT count(*) FROM audit_trail").fetchone()
        notification_id, item = conn.execute(
            "SELECT notification_id, item FROM audit_trail ORDER BY notification_id, item OFFSET %s LIMIT 1",
            [rows // 2 - 1],
        ).fetchone()
        depth = rows // 2

    def median_ms(query: AuditQuery) -> float:
        times = []
        for _ in range(requests):
            began = time.perf_counter()
            store.audit(query)
            times.append(time.perf_counter() - began)
        return statistics.median(times) * 1000

    return median_ms(AuditQuery(limit=50)), median_ms(AuditQuery(after=(notification_id, item), limit=50)), depth


def following(ledger: RecordingLedger, projections: Projections, url: str, events: int = 200) -> dict[str, float]:
    """Median ms for each view to take one new event, as the views worker does while the log
    grows one request at a time: the event is a search's access record naming 50 recordings.
    Beside it, "raw read": reading that one row the way the baseline reads the log. Run after the
    catch-ups, so each view holds the caches it built on the way (as a long-running worker does).
    Appends ``events`` access records to the log it runs on."""
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("SELECT recording_id FROM recordings ORDER BY started_at LIMIT 50")]
        times: dict[str, list[float]] = {"raw read": [], **{view: [] for view in projections.names()}}
        for _ in range(events):
            written = ledger.record_access(
                action="search",
                outcome=Outcome.ALLOWED,
                recording_ids=ids,
                occurred_at=datetime.now(UTC),
                by=Actor("bench-supervisor", "supervisor"),
            )
            written.result()
            began = time.perf_counter()
            conn.execute(
                "SELECT * FROM stored_events WHERE notification_id > %s ORDER BY notification_id LIMIT 1000",
                [ledger.logged_up_to() - 1],
            ).fetchall()
            times["raw read"].append(time.perf_counter() - began)
            for view in projections.names():
                times[view].append(timed(lambda view=view: projections.catch_up(views=[view]))[0])
    return {what: statistics.median(seconds) * 1000 for what, seconds in times.items()}


def reads(ledger: RecordingLedger, url: str, settings: Settings) -> None:
    """Raw read, each view caught up alone from an empty view, then a whole rebuild as the CLI runs it.

    The raw read is timed before and after the views, so drift over the run shows.
    """
    tune_for_service()  # as the views worker and a rebuild's processes do
    read_s, read_count = timed(lambda: raw_read(url))
    # Built as api/bootstrap.py builds it; the rebuild is `callvault projections rebuild`'s.
    projections = Projections(ledger, open_view_store(ledger), batch_size=settings.projection_batch_size)
    per_view = {}
    written: dict[str, float] = {}
    for view in projections.names():
        projections.store.reset(view)
        per_view[view] = timed(lambda view=view: projections.catch_up(views=[view]))
        written[view] = raw_write(url, VIEW_TABLES[view])
    rebuild_s, _ = timed(lambda: views_rebuild.rebuild(settings, projections))
    read_again_s, _ = timed(lambda: raw_read(url))
    first_page_ms, deep_page_ms, depth = audit_pages(projections.store, url)
    follow_ms = following(ledger, projections, url)
    baseline = read_count / min(read_s, read_again_s)
    print(f"raw read of the log (1000-row pages):              {rate(read_count, read_s)}")
    print(f"raw read again, after the views:                   {rate(read_count, read_again_s)}")
    print(f"baseline: the faster raw read, {baseline:,.0f}/s")
    for view, (seconds, applied) in per_view.items():
        ceiling = read_count / baseline / (read_count / baseline + written[view])
        print(
            f"catch-up of view {view + ':':<13}                    {rate(applied, seconds)}"
            f"  {applied / seconds / baseline:.2f}x raw read"
            f"  (raw write of its rows {written[view]:.2f}s: at most {ceiling:.2f}x)"
        )
    print(
        f"rebuild of all views (log events):                 {rate(read_count, rebuild_s)}"
        f"  {read_count / rebuild_s / baseline:.2f}x raw read"
    )
    print(
        f"audit trail, 50 rows: first page {first_page_ms:.2f} ms, page after row {depth:,} {deep_page_ms:.2f} ms"
        f"  ({deep_page_ms / first_page_ms:.1f}x the first)"
    )
    print(
        "following the log, one search's access record (50 recordings) at a time, median ms: "
        + ", ".join(f"{what} {ms:.2f}" for what, ms in follow_ms.items())
    )


if __name__ == "__main__":
    main()
