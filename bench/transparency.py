"""Transparency log on PostgreSQL: proofs, export bundles, offline verify, checkpoints under ingest.

Run by hand (never in tests):
    .venv/bin/python bench/transparency.py --events 10000 [--other-calls 500] [--live-seconds 20]
        [--admin-url postgresql://postgres@127.0.0.1/postgres]
    .venv/bin/python bench/transparency.py --checkpoint-scaling [--sizes 10000,1000000,10000000]
        [--old-up-to 1000000] [--repeat 5]   (bench/checkpoint_scaling.py says what it times)

Everything is measured in one run against one fresh database, since these
machines are noisy; only ratios within a run mean much.

Part 1: one recording with --events events (a start, then distinct tags, written
through the server's group-commit ledger by 16 threads so they share
transactions), among the events of --other-calls simulated calls, so the tree is
bigger than the recording. Timed: log_leaves catch-up, one checkpoint signing,
the inclusion proofs of all the recording's events, the whole export bundle and
its offline verification; beside a raw read of the log, the Merkle root alone
over the same leaf hashes, and hashlib alone over the bytes the verifier hashes.

Part 2: a writer thread drives the simulated day's lifecycle commands (no screen
segments) through a plain ledger, one command per transaction, for
--live-seconds: first alone (the baseline), then twice while the main thread
catches up the log_leaves view and signs a checkpoint every second: once with
the catch-up as it is, once with each catch-up cut short after 0.5 s
(after one batch inside sign_checkpoint), because the uncut one chases the
writer for as long as it writes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from scratch_databases import DEFAULT_ADMIN_URL, create_scratch_database, drop_scratch_database

from adapters import note_signing
from adapters.event_store import open_ledger
from adapters.settings import Settings
from api.bootstrap import Components, build
from api.cli.log import read_bundle
from api.cli.simulation import DayPlan, Step, command_of, plan_day, run_day
from api.services.transparency import TransparencyLog
from domain import commands
from domain.ledger import RecordingLedger
from domain.transparency.merkle import MerkleTree
from domain.transparency.verifier import verify_bundle
from domain.values import Actor
from projections.runner import Projections

sys.path.insert(0, str(Path(__file__).parent))
import checkpoint_scaling  # noqa: E402
from ingest import rate, timed  # noqa: E402

START = datetime(2026, 11, 23, 8, tzinfo=UTC)
TELEPHONY = Actor("pbx-1", "telephony")
SUPERVISOR = Actor("sam", "supervisor")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def best_of(n: int, fn) -> tuple[float, object]:
    """The fastest of ``n`` timings of a cheap baseline (noise only ever adds time)."""
    return min((timed(fn) for _ in range(n)), key=lambda r: r[0])


def lifecycle(plan: DayPlan) -> list[Step]:
    return [s for s in plan_day(plan) if s.command is not commands.AddSegment]


def ingest_for(ledger: RecordingLedger, steps: list[Step], seconds: float) -> tuple[int, float]:
    """run_day's loop, stopped after ``seconds``: (commands applied, seconds taken)."""
    recordings: dict[int, Any] = {}
    written = 0
    started = time.perf_counter()
    for step in steps:
        if time.perf_counter() - started >= seconds:
            break
        result = ledger.execute(command_of(step, recordings))
        if step.command is commands.StartCall:
            recordings[step.call] = result
        written += 1
    return written, time.perf_counter() - started


class Decoded(msgspec.Struct):
    leaf: str
    state: str
    inclusion_proof: list[str]


def verifier_hash_inputs(events_jsonl: bytes) -> list[tuple[bytes, bytes, int]]:
    """Per event: state bytes, leaf bytes, proof length (what verify_inclusion hashes)."""
    out = []
    for line in events_jsonl.splitlines():
        e = msgspec.json.decode(line, type=Decoded)
        out.append((base64.b64decode(e.state), base64.b64decode(e.leaf), len(e.inclusion_proof)))
    return out


def hash_like_verifier(inputs: list[tuple[bytes, bytes, int]]) -> int:
    """The SHA-256 calls the verifier makes per event, with hashlib alone: state, leaf, path."""
    calls = 0
    node = b"\x01" + bytes(64)
    for state, leaf, depth in inputs:
        hashlib.sha256(state).digest()
        hashlib.sha256(b"\x00" + leaf).digest()
        for _ in range(depth):
            hashlib.sha256(node).digest()
        calls += 2 + depth
    return calls


def part_one(components: Components, args: argparse.Namespace, tmp: Path, url: str) -> None:
    ledger = components.ledger
    print(f"## part 1: one recording of {args.events} events ({type(ledger).__name__})")
    rid = ledger.execute(
        commands.StartCall(
            interaction_id="bench-big-1",
            agent_id="agent-big",
            customer_id="cust-big",
            queue="support",
            direction="inbound",
            tags={},
            occurred_at=START,
            by=TELEPHONY,
        )
    )
    tags = args.events - 2  # the start and the Exported event the bundle adds make up the rest

    def tag(i: int) -> bool:
        at = START + timedelta(milliseconds=i + 1)
        return bool(ledger.execute(commands.Tag(rid, key=f"k{i}", value="v", occurred_at=at, by=SUPERVISOR)))

    with ThreadPoolExecutor(16) as pool:
        tag_s, _ = timed(lambda: list(pool.map(tag, range(tags))))
    other_s, other = timed(
        lambda: run_day(ledger, plan_day(DayPlan(agents=50, calls=args.other_calls, seed=7, start=START)))
    )
    print(f"setup: {tags + 1} events of the recording, 16 threads, group commit: {rate(tags + 1, tag_s)}")
    print(f"setup: {other} events of {args.other_calls} other calls, 1 thread: {rate(other, other_s)}")

    with psycopg.connect(url, autocommit=True) as conn:

        def raw_read() -> int:
            seen, last = 0, 0
            while True:
                page = conn.execute(
                    "SELECT * FROM stored_events WHERE notification_id > %s ORDER BY notification_id LIMIT 5000", [last]
                ).fetchall()
                if not page:
                    return seen
                seen += len(page)
                last = page[-1][4]

        read_s, read_n = timed(raw_read)
    leaves_s, leaves_n = timed(lambda: components.projections.catch_up(views=["log_leaves"]))
    components.projections.catch_up()  # the other views, untimed (the bundle does not read them)
    print(f"raw read of the log (5000-row pages):  {rate(read_n, read_s)}")
    print(f"log_leaves catch-up (batches of {args.batch}): {rate(leaves_n, leaves_s)}")

    sign_s, (size, _note) = timed(components.transparency.sign_checkpoint)
    fetch_s, hashes = best_of(3, lambda: components.views.leaf_hashes(size))
    root_s, _ = best_of(3, lambda: MerkleTree(hashes).root())
    print(
        f"sign_checkpoint, tree of {size}: {ms(sign_s)}  (its parts alone, best of 3: fetch leaf hashes"
        f" {ms(fetch_s)}, MerkleTree root {ms(root_s)})"
    )

    proofs_s, proofs = timed(lambda: components.transparency.event_proofs(rid, size))
    print(
        f"event_proofs for {len(proofs)} events: {ms(proofs_s)}  = {proofs_s / len(proofs) * 1000:.2f} ms/proof"
        f" = {proofs_s / len(proofs) / root_s:.2f} x the root per proof"
    )

    bundle_s, bundle = timed(lambda: components.exports.build_bundle(rid, reason="bench", by=Actor("lena", "legal")))
    path = tmp / "bundle.zip"
    path.write_bytes(bundle)
    read_s, files = timed(lambda: read_bundle(path))
    key = components.transparency.public_key
    verify_s, checks = timed(lambda: verify_bundle(files, key, None, verify_note=note_signing.verify_note))
    events_line = next(c for c in checks if c.startswith("events.jsonl"))
    print(
        f"build_bundle: {ms(bundle_s)}  ({len(bundle):,} bytes, {len(files)} members, "
        f"events.jsonl {len(files['events.jsonl']):,} bytes)"
    )
    print(f"read_bundle: {ms(read_s)}; verify_bundle: {ms(verify_s)}  ({len(checks)} checks passed; {events_line})")

    inputs = verifier_hash_inputs(files["events.jsonl"])
    hash_s, calls = best_of(3, lambda: hash_like_verifier(inputs))
    hashed = sum(len(s) + 1 + len(leaf) + 65 * d for s, leaf, d in inputs)
    whole_s, _ = best_of(3, lambda: hashlib.sha256(bundle).digest())
    print(
        f"baseline: hashlib, the verifier's {calls:,} SHA-256 calls, best of 3 ({hashed:,} bytes): {ms(hash_s)}"
        f"  -> verify = {verify_s / hash_s:.1f} x"
    )
    print(f"baseline: hashlib over the bundle bytes in one call, best of 3: {ms(whole_s)}")


class Enough(Exception):
    """Raised from the progress callback to end a catch-up early (after a committed batch)."""


def catch_up_leaves(projections: Projections, progress: Callable[[int], None] | None = None) -> int:
    return projections.catch_up(progress, views=["log_leaves"])


def bounded_catch_up(projections: Projections, budget: float) -> int:
    """The log_leaves catch-up, stopped after the first batch that ends past ``budget`` seconds.

    A catch-up loops until a read comes back empty, so under steady
    ingest it chases the writer for as long as the writer writes. The progress
    callback runs after each batch has been committed with its position, so
    leaving from there loses nothing.
    """
    started, applied = time.perf_counter(), 0

    def progress(n: int) -> None:
        nonlocal applied
        applied += n
        if time.perf_counter() - started >= budget:
            raise Enough

    try:
        catch_up_leaves(projections, progress)
    except Enough:
        pass
    return applied


def live_run(
    components: Components, writer: RecordingLedger, steps: list[Step], seconds: float, url: str, bounded: bool
) -> tuple[float, list[str]]:
    """Ingest in a thread while this one catches up log_leaves and signs a checkpoint each second."""
    leaves = components.projections
    inner: list[float] = []  # sign_checkpoint first brings the view up to date itself: timed apart

    def fresh() -> None:
        inner.append(timed(lambda: bounded_catch_up(leaves, 0.0) if bounded else catch_up_leaves(leaves))[0])

    log = TransparencyLog(
        components.ledger,
        components.views,
        components.transparency.checkpoints,
        components.transparency.signer,
        components.settings.log_origin,
        fresh,
    )
    result: dict[str, tuple[int, float]] = {}
    thread = threading.Thread(target=lambda: result.setdefault("n", ingest_for(writer, steps, seconds)))
    rounds: list[tuple[float, float, int]] = []  # catch-up s, sign s, size
    leaves_before = components.views.leaf_count()
    started = time.perf_counter()
    thread.start()
    while thread.is_alive():
        tick = time.perf_counter()
        catch_s, _ = timed(lambda: bounded_catch_up(leaves, 0.5) if bounded else catch_up_leaves(leaves))
        sign_s, (size, _) = timed(log.sign_checkpoint)
        rounds.append((catch_s, sign_s, size))
        thread.join(timeout=max(0.0, 1.0 - (time.perf_counter() - tick)))
    window = time.perf_counter() - started
    appended = components.views.leaf_count() - leaves_before
    with psycopg.connect(url, autocommit=True) as conn:
        lag = conn.execute("SELECT count(*) FROM stored_events").fetchone()[0] - components.views.leaf_count()
    live_n, live_s = result["n"]
    catches, signs = [r[0] for r in rounds], [r[1] for r in rounds]
    rest = [s - i for s, i in zip(signs, inner, strict=True)]
    sizes = sorted({r[2] for r in rounds})

    def spread(values: list[float]) -> str:
        return f"median {ms(statistics.median(values))}, max {ms(max(values))}"

    lines = [
        f"ingest:                       {rate(live_n, live_s)}",
        f"leaves appended:              {rate(appended, window)}  (lag at the end: {lag} events)",
        f"rounds: {len(rounds)}; checkpoints signed: {len(sizes)}, sizes {sizes[0]:,}..{sizes[-1]:,}",
        f"catch-up per round:           {spread(catches)}",
        f"sign_checkpoint per round:    {spread(signs)}",
        f"  its own catch-up:           {spread(inner)}",
        f"  the rest (hashes, root, signature, insert): {spread(rest)}",
        f"main thread busy:             {(sum(signs) + sum(catches)) / window:.0%} of the window",
    ]
    return live_n / live_s, lines


def part_two(components: Components, settings: Settings, args: argparse.Namespace, url: str) -> None:
    seconds = args.live_seconds
    print(f"## part 2: lifecycle ingest for {seconds:.0f} s, 1 writer thread, plain ledger (1 command/transaction)")
    writer = open_ledger(settings, group_commit=False)
    try:

        def day(seed: int) -> list[Step]:
            return lifecycle(DayPlan(agents=200, calls=args.live_calls, seed=seed, start=START))

        alone_n, alone_s = ingest_for(writer, day(11), seconds)
        alone = alone_n / alone_s
        print(f"ingest alone:                 {rate(alone_n, alone_s)}")
        for seed, bounded, title in (
            (12, False, "catch-up as it is"),
            (13, True, "catch-up cut after 0.5 s (sign_checkpoint's: after 1 batch)"),
        ):
            catch_up_leaves(components.projections)  # what came before, so each run starts level
            components.transparency.sign_checkpoint()
            live, lines = live_run(components, writer, day(seed), seconds, url, bounded)
            print(f"### with log work, {title}: ingest {live / alone:.2f} x alone")
            print("\n".join(lines))
    finally:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events of the exported recording")
    parser.add_argument("--other-calls", type=int, default=500, help="simulated calls beside it (bigger tree)")
    parser.add_argument("--live-seconds", type=float, default=20.0)
    parser.add_argument("--live-calls", type=int, default=12_000, help="calls planned per live run (enough work)")
    parser.add_argument("--batch", type=int, default=5000, help="projection batch size")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--checkpoint-scaling", action="store_true", help="signing and proofs up to 10^7 leaves")
    parser.add_argument("--sizes", default="10000,1000000,10000000", help="leaf counts, ascending")
    parser.add_argument("--old-up-to", type=int, default=1_000_000, help="largest size timed the old way too")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    name, url = create_scratch_database(args.admin_url)
    components = None
    try:
        with tempfile.TemporaryDirectory(prefix="callvault-bench-") as tmp_dir:
            tmp = Path(tmp_dir)
            settings = Settings(
                database_url=url,
                media_url=str(tmp / "media"),
                signing_key_file=str(tmp / "log-signing.key"),
                projection_batch_size=args.batch,
            )
            components = build(settings, serving=True)  # not started: catch-up and signing are driven from here
            print(f"# callvault transparency benchmark, PostgreSQL, database {name}")
            if args.checkpoint_scaling:
                sizes = [int(s) for s in args.sizes.split(",")]
                checkpoint_scaling.run(components, url, sizes, args.old_up_to, args.repeat)
                return
            part_one(components, args, tmp, url)
            part_two(components, settings, args, url)
    finally:
        if components is not None:
            components.close()
        drop_scratch_database(args.admin_url, name)


if __name__ == "__main__":
    main()
