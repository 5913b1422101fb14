"""Purge throughput and the cost of encryption at rest, on PostgreSQL, beside raw baselines.

Run by hand (never in tests):
    .venv/bin/python bench/retention.py --recordings 2000 --segment-kb 200 --media-ops 200 \
        [--admin-url postgresql://postgres@127.0.0.1/postgres]

One fresh database and one temporary media directory per run; only ratios within
a run mean much on these noisy machines.
  * Purge: the retention job (`Retention.run`) over N complete recordings, each
    with one sealed media object, all due; beside raw psycopg one-row DELETE
    transactions and unlinking N files of the same size.
  * Encryption cost: lifecycle commands through a ledger that seals personal
    fields vs the same ledger whose mapper does not; media writes and reads
    (playback) through the vault (AES-256-GCM) vs the bare object store.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from eventsourcing.persistence import EventStore, Mapper
from eventsourcing.utils import get_topic
from scratch_databases import DEFAULT_ADMIN_URL, create_scratch_database, drop_scratch_database

from adapters.event_codec import MsgspecMapper
from adapters.event_store import ServiceRoleFactory, key_store_of, ledger_env
from adapters.master_key import load_master_key
from adapters.media_store import MediaStore
from adapters.settings import Settings
from api.bootstrap import Components, build
from api.logging import configure_logging
from domain.commands import AddSegment, EndAcw, EndCall, StartCall, Tag
from domain.ledger import RecordingLedger
from domain.recording_policy import PolicyTerms, RetentionRule
from domain.values import Actor

sys.path.insert(0, str(Path(__file__).parent))
from ingest import rate, timed  # noqa: E402

PBX = Actor("pbx", "telephony")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class UnsealedFactory(ServiceRoleFactory):
    """The production factory, but its mapper stores personal fields in clear (the baseline)."""

    def mapper(self, transcoder: Any = None, mapper_class: Any = None) -> Mapper[Any]:
        return MsgspecMapper(transcoder=transcoder or self.transcoder(), compressor=None, cipher=None)

    def event_store(self, mapper: Mapper[Any] | None = None, recorder: Any = None) -> EventStore[Any]:
        return EventStore(mapper=mapper or self.mapper(), recorder=recorder or self.application_recorder())


def lifecycle(ledger: RecordingLedger, prefix: str, calls: int) -> int:
    """Start (customer id and tags: sealed), tag (sealed), end, ACW end: 4 events per call."""
    for n in range(calls):
        rid = ledger.execute(
            StartCall(
                interaction_id=f"{prefix}-{n}",
                agent_id=f"agent-{n % 50}",
                customer_id=f"cust-{n % 700}",
                queue="sales",
                direction="inbound",
                tags={"lang": "en", "account": f"A{n}"},
                occurred_at=T0,
                by=PBX,
            )
        )
        ledger.execute(Tag(rid, key="outcome", value="sale", occurred_at=T0 + timedelta(seconds=30), by=PBX))
        ledger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=60), by=PBX))
        ledger.execute(EndAcw(rid, reason="status_change", occurred_at=T0 + timedelta(seconds=90), by=PBX))
    return 4 * calls


def populate(components: Components, count: int, blob: bytes) -> None:
    """N complete recordings, each with one sealed segment, written in batches."""
    ledger, by_client = components.ledger, Actor("capture-client", "agent")
    for first in range(0, count, 500):
        starts = [
            StartCall(
                interaction_id=f"purge-{n}",
                agent_id=f"agent-{n % 50}",
                customer_id=f"c-{n}",
                direction="inbound",
                queue="sales",
                tags={"lang": "en"},
                occurred_at=T0,
                by=PBX,
            )
            for n in range(first, min(first + 500, count))
        ]
        ids = ledger.execute_all(starts)
        for rid in ids:
            key = f"recordings/{rid}/segments/000000.ts"
            components.media.put_new(rid, key, blob)
        ledger.execute_all(
            [
                c
                for rid in ids
                for c in (
                    AddSegment(
                        rid,
                        sequence_number=0,
                        start_offset_ms=0,
                        duration_ms=15_000,
                        monitor=0,
                        width=1280,
                        height=720,
                        codec="h264",
                        fps=5,
                        byte_size=len(blob),
                        sha256="ab" * 32,
                        media_key=f"recordings/{rid}/segments/000000.ts",
                        occurred_at=T0,
                        by=by_client,
                    ),
                    EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(minutes=5), by=PBX),
                    EndAcw(rid, reason="status_change", occurred_at=T0 + timedelta(minutes=6), by=PBX),
                )
            ]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=2000)
    parser.add_argument("--segment-kb", type=int, default=200, help="media object size (15 s at 5 fps: ~200 KB)")
    parser.add_argument("--media-ops", type=int, default=200, help="objects written and read per media run")
    parser.add_argument("--calls", type=int, default=500, help="calls per event-ingest run")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()

    name, url = create_scratch_database(args.admin_url)
    with tempfile.TemporaryDirectory(prefix="callvault-bench-") as tmp:
        settings = Settings(
            database_url=url,
            media_url=f"{tmp}/media",
            archive_url=f"{tmp}/archive",
            master_key_file=f"{tmp}/master.key",
            log_level="WARNING",
        )
        configure_logging(settings)
        components = build(settings, serving=False)
        try:
            blob = os.urandom(args.segment_kb * 1024)

            # -- encryption cost: events -------------------------------------------
            plain_env = {**ledger_env(settings), "PERSISTENCE_MODULE": get_topic(UnsealedFactory)}
            plain = RecordingLedger(env=plain_env)
            sealed = RecordingLedger(env=ledger_env(settings))
            key_store_of(sealed).unlock(load_master_key(settings))
            unsealed_s, unsealed_events = timed(lambda: lifecycle(plain, "plain", args.calls))
            sealed_s, sealed_events = timed(lambda: lifecycle(sealed, "sealed", args.calls))
            plain.close()
            sealed.close()

            # -- encryption cost: media write (ingest) and read (playback) -----------
            bare = MediaStore(f"{tmp}/bare")
            rids = [
                components.ledger.execute(
                    StartCall(
                        interaction_id=f"media-{n}",
                        agent_id="a",
                        customer_id="c",
                        queue="q",
                        direction="inbound",
                        tags={},
                        occurred_at=T0,
                        by=PBX,
                    )
                )
                for n in range(args.media_ops)
            ]
            bare_put_s, _ = timed(lambda: [bare.put_new(f"o/{n}", blob) for n in range(args.media_ops)])
            vault_put_s, _ = timed(lambda: [components.media.put_new(r, f"m/{n}", blob) for n, r in enumerate(rids)])
            bare_get_s, _ = timed(lambda: [bare.get(f"o/{n}") for n in range(args.media_ops)])
            vault_get_s, _ = timed(lambda: [components.media.get(r, f"m/{n}") for n, r in enumerate(rids)])

            # -- purge: only recordings started under this policy are due -----------
            components.ledger.set_policy(
                terms=PolicyTerms(retention=(RetentionRule(purge_after_days=0),)),
                reason="bench: purge when complete",
                occurred_at=T0,
                by=Actor("b", "admin"),
            )
            populate(components, args.recordings, blob[:4096])
            components.projections.catch_up(views=["recordings"])
            purge_s, outcome = timed(lambda: components.retention.run(T0 + timedelta(days=1)))
            purged = len(outcome.purged)
            assert purged == args.recordings, (purged, len(outcome.kept))

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE TABLE raw_keys (id uuid PRIMARY KEY, wrapped bytea)")
                keys = [uuid4() for _ in range(args.recordings)]
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO raw_keys VALUES (%s, %s)", [(k, os.urandom(60)) for k in keys])
                raw_delete_s, _ = timed(
                    lambda: [conn.execute("DELETE FROM raw_keys WHERE id = %s", (k,)) for k in keys]
                )
            files = Path(tmp) / "files"
            files.mkdir()
            for n in range(args.recordings):
                (files / str(n)).write_bytes(blob[:4096])
            unlink_s, _ = timed(lambda: [(files / str(n)).unlink() for n in range(args.recordings)])
        finally:
            components.close()
            drop_scratch_database(args.admin_url, name)

    mb = args.media_ops * len(blob) / 1e6
    print(
        f"# callvault retention and encryption benchmark, PostgreSQL; {args.recordings} recordings purged, "
        f"{args.calls} calls per event run, {args.media_ops} media objects of {args.segment_kb} KB"
    )
    rows = [
        ("purge (retention job: event, key destroyed, media deleted)", rate(purged, purge_s)),
        ("raw psycopg DELETE, one row per transaction", rate(args.recordings, raw_delete_s)),
        ("unlink one 4 KB file each", rate(args.recordings, unlink_s)),
        ("lifecycle events, personal fields sealed", rate(sealed_events, sealed_s)),
        ("lifecycle events, same ledger unsealed", rate(unsealed_events, unsealed_s)),
        ("media write, sealed (vault)", f"{mb / vault_put_s:,.0f} MB/s"),
        ("media write, bare object store", f"{mb / bare_put_s:,.0f} MB/s"),
        ("media read (playback), sealed (vault)", f"{mb / vault_get_s:,.0f} MB/s"),
        ("media read (playback), bare object store", f"{mb / bare_get_s:,.0f} MB/s"),
    ]
    for label, figure in rows:
        print(f"{label + ':':<62} {figure}")
    print(
        f"purge vs raw delete: {raw_delete_s / purge_s:.2f}x; sealed events cost {sealed_s / sealed_events * 1e3:.3f} "
        f"ms vs {unsealed_s / unsealed_events * 1e3:.3f} ms; media write {vault_put_s / bare_put_s:.2f}x, "
        f"read {vault_get_s / bare_get_s:.2f}x the bare store's time"
    )


if __name__ == "__main__":
    main()
