"""What a server's caches leave for the garbage collector to walk after N searches.

Run by hand (never in tests), beside the same script run on the code before a change:
    .venv/bin/python bench/gc_heap.py --searches 10000
    .venv/bin/python bench/gc_heap.py --hub-starts 100000
    (cd /tmp/wt-before && PYTHONPATH=/tmp/wt-before /work/main/.venv/bin/python /work/main/bench/gc_heap.py)

A search as the server makes one, without HTTP: the keys of its 50 recordings looked up
and its access record saved through the ledger (the embedded SQLite default). Then:
the objects the collector tracks beyond those start-up froze, and the pause of a full
collection (median of 5), which a server pays on whichever request is running when one
comes due.

With ``--hub-starts N``: instead of searches, N calls started (500 to a transaction) and
read by a capture hub, which remembers each recording's agent (up to 100,000 of them),
then the same two figures.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from adapters.event_store import key_store_of, open_ledger
from adapters.master_key import load_master_key
from adapters.migrate import migrate
from adapters.settings import Settings
from api.gc_tuning import tune_for_service
from api.services.capture_hub import CaptureHub
from domain.access_record import Outcome
from domain.commands import StartCall
from domain.ledger import RecordingLedger
from domain.values import Actor

PAGE = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=10_000)
    parser.add_argument("--recordings", type=int, default=2_000)
    parser.add_argument("--hub-starts", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(sqlite_path=str(Path(scratch) / "bench.db"), master_key_file=str(Path(scratch) / "key"))
        migrate(settings)
        ledger = open_ledger(settings, group_commit=False, master_key=load_master_key(settings))
        if args.hub_starts:
            measure_hub(ledger, settings, args.hub_starts)
            return
        keys = key_store_of(ledger)
        supervisor = Actor("sup", "supervisor")
        now = datetime.now(UTC)
        recordings = [ledger.execute(call(n, agents=50, at=now)) for n in range(args.recordings)]
        tune_for_service()
        tracked_before = len(gc.get_objects())
        began = time.perf_counter()
        for n in range(args.searches):
            # New id objects, as each search decodes its page's rows anew.
            page = [UUID(bytes=recordings[(n * PAGE + k) % len(recordings)].bytes) for k in range(PAGE)]
            keys.keys_for_many(page)
            ledger.record_access(
                action="search", outcome=Outcome.ALLOWED, recording_ids=page, occurred_at=now, by=supervisor
            ).result()
        print(f"{args.searches} searches in {time.perf_counter() - began:.1f} s; {collector_load(tracked_before)}")
        ledger.close()


def measure_hub(reader: RecordingLedger, settings: Settings, starts: int) -> None:
    """The hub follows the log through ``reader``; the calls are written through a ledger of
    their own, dropped before counting, so that only what the hub keeps is counted."""
    now = datetime.now(UTC)
    hub = CaptureHub(reader, settings)
    hub.start()
    tune_for_service()
    tracked_before = len(gc.get_objects())
    began = time.perf_counter()
    writer = open_ledger(settings, group_commit=False, master_key=load_master_key(settings))
    for first in range(0, starts, 500):
        writer.execute_all([call(n, agents=5000, at=now) for n in range(first, min(first + 500, starts))])
    last = writer.recorder.max_notification_id()
    writer.close()
    del writer
    gc.collect()
    while hub._position < last:  # noqa: SLF001 - until the hub has read every start
        time.sleep(0.1)
    hub.stop()
    print(f"{starts} starts read by the hub in {time.perf_counter() - began:.1f} s; {collector_load(tracked_before)}")


def call(n: int, *, agents: int, at: datetime) -> StartCall:
    """The n-th call of the bench: a customer of its own, agents taking turns."""
    return StartCall(
        interaction_id=f"call-{n}",
        agent_id=f"agent-{n % agents}",
        customer_id=f"cust-{n}",
        queue="sales",
        direction="inbound",
        tags={},
        occurred_at=at,
        by=Actor("pbx", "telephony"),
    )


def collector_load(tracked_before: int) -> str:
    """A full collection's pause (median of 5), then the objects it still tracks beyond start-up."""
    pauses = []
    for _ in range(5):
        started = time.perf_counter()
        gc.collect()
        pauses.append(time.perf_counter() - started)
    tracked = len(gc.get_objects()) - tracked_before
    return f"objects tracked beyond start-up: {tracked:,}; full collection: {1000 * statistics.median(pauses):.1f} ms"


if __name__ == "__main__":
    main()
