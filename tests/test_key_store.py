"""The key store on each engine: made once, found again, destroyed for good."""

from __future__ import annotations

import base64
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest

from adapters.event_store import _database, _dialect, key_store_of, open_ledger
from adapters.key_store import KeyStore
from adapters.master_key import load_master_key
from adapters.migrate import migrate
from adapters.settings import Settings
from domain.ledger import RecordingLedger
from domain.values import REDACTED
from tests.support.calls import start_call
from tests.support.transactions import transaction_blocks


@pytest.fixture
def ledgers(settings: Settings) -> Iterator[list[RecordingLedger]]:
    """Two ledgers on one database, each with its own key store: two processes."""
    migrate(settings)
    opened = [open_ledger(settings, group_commit=False) for _ in range(2)]
    yield opened
    for ledger in opened:
        ledger.close()


def _count(store: KeyStore, table: str) -> int:
    with store._datastore.transaction(commit=False) as cursor:  # noqa: SLF001
        cursor.execute(f"SELECT COUNT(*) AS n FROM {table}")
        return int(dict(cursor.fetchone())["n"])


def test_ensure_is_idempotent_and_keys_for_finds_the_same_keys(ledgers: list[RecordingLedger]) -> None:
    store, other = (key_store_of(ledger) for ledger in ledgers)
    rid = uuid.uuid4()
    keys = store.ensure_recording(rid, "cust-1")
    assert keys is not None and len(keys.recording_key) == len(keys.customer_key) == 32
    assert keys.recording_key != keys.customer_key
    assert keys.customer_ref == store.customer_ref_of("cust-1") == other.customer_ref_of("cust-1")
    assert store.ensure_recording(rid, "cust-1") == keys
    assert other.ensure_recording(rid, "cust-1") == keys
    assert other.keys_for(rid) == keys
    assert other.keys_for(uuid.uuid4()) is None
    # The same customer's next recording shares the customer key, not the recording key.
    second = other.ensure_recording(uuid.uuid4(), "cust-1")
    assert second is not None
    assert second.customer_key == keys.customer_key and second.recording_key != keys.recording_key
    assert (_count(store, "customer_keys"), _count(store, "recording_keys")) == (1, 2)


def test_many_recordings_are_ensured_in_one_call(ledgers: list[RecordingLedger]) -> None:
    store, other = (key_store_of(ledger) for ledger in ledgers)
    known = uuid.uuid4()
    known_keys = other.ensure_recording(known, "cust-1")
    customers = {known: "cust-1", **{uuid.uuid4(): f"cust-{n % 2}" for n in range(5)}}
    keys = store.ensure_recordings(customers)
    assert keys.keys() == customers.keys() and keys[known] == known_keys
    assert all(other.keys_for(rid) == keys[rid] for rid in customers)
    assert {k.customer_ref for k in keys.values()} == {store.customer_ref_of("cust-0"), store.customer_ref_of("cust-1")}
    assert (_count(store, "customer_keys"), _count(store, "recording_keys")) == (2, 6)


def test_keys_of_many_recordings_come_in_one_query_and_only_if_they_exist(ledgers: list[RecordingLedger]) -> None:
    """What a group commit fetches before sealing its events' personal fields."""
    store, other = (key_store_of(ledger) for ledger in ledgers)
    made = {uuid.uuid4(): f"cust-{n}" for n in range(3)}
    keys = store.ensure_recordings(made)
    gone, never = list(made)[0], uuid.uuid4()
    store.destroy_recording_keys([gone])
    queries: list[list[uuid.UUID]] = []
    select = other._select_keys  # noqa: SLF001
    other._select_keys = lambda cursor, ids, generation: queries.append(ids) or select(cursor, ids, generation)  # type: ignore[method-assign]  # noqa: SLF001
    found = other.keys_for_many([*made, never])
    assert found == {rid: keys[rid] for rid in list(made)[1:]}
    assert len(queries) == 1
    assert other.keys_for_many(list(made)[1:]) == found and len(queries) == 1  # cached now


def test_concurrent_ensures_end_with_one_key(ledgers: list[RecordingLedger]) -> None:
    stores = [key_store_of(ledger) for ledger in ledgers]
    rid = uuid.uuid4()
    others = [uuid.uuid4() for _ in range(4)]
    # 8 threads: within the connection pool, so a loaded machine tests the race, not the pool's timeout.
    barrier = threading.Barrier(8)
    results: list[object] = []

    def ensure(n: int) -> None:
        barrier.wait()
        store = stores[n % 2]
        results.append(store.ensure_recording(rid, "cust-race"))
        store.ensure_recording(others[n // 2], "cust-race")  # many recordings, one new customer

    threads = [threading.Thread(target=ensure, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 8 and results[0] is not None
    assert all(result == results[0] for result in results)
    assert (_count(stores[0], "customer_keys"), _count(stores[0], "recording_keys")) == (1, 5)


def test_postgres_makes_a_calls_keys_by_one_statement_that_commits_alone(
    pg_ledger: RecordingLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starting a call made its keys in a transaction block of five round trips (BEGIN, two
    inserts, the read-back, COMMIT): a third of the call start. On PostgreSQL one statement
    (migrations/postgresql/0017) inserts and reads them back, for a known customer too."""
    store = key_store_of(pg_ledger)
    known = store.ensure_recording(uuid.uuid4(), "cust-known")
    assert known is not None
    datastore = _database(pg_ledger)
    blocks = transaction_blocks(monkeypatch, datastore)
    made = {uuid.uuid4(): "cust-known", uuid.uuid4(): "cust-new"}
    keys = store.ensure_recordings(made)
    assert blocks == []
    fresh = KeyStore(datastore, _dialect(pg_ledger))  # another process: nothing cached
    fresh.unlock(store._master)  # noqa: SLF001
    assert fresh.keys_for_many(made) == keys
    assert {rid: k.customer_ref for rid, k in keys.items()} == {
        rid: store.customer_ref_of(c) for rid, c in made.items()
    }
    rids = list(made)
    assert keys[rids[0]].customer_key == known.customer_key  # the customer's key is shared, not remade
    assert keys[rids[1]].customer_key != known.customer_key
    assert (_count(store, "customer_keys"), _count(store, "recording_keys")) == (2, 3)


@pytest.fixture
def pg_ledgers(postgres_url: str, tmp_path: Path) -> Iterator[list[RecordingLedger]]:
    """Two ledgers on one PostgreSQL database, each with its own key store: two processes."""
    settings = Settings(database_url=postgres_url, master_key_file=str(tmp_path / "master.key"), views_process=False)
    migrate(settings)
    opened = [open_ledger(settings, group_commit=False) for _ in range(3)]
    yield opened
    for ledger in opened:
        ledger.close()


def _customer_of(reader: RecordingLedger, recording_id: uuid.UUID) -> str:
    """The recording's customer as a process that has cached nothing reads it from the log."""
    return reader.get_recording(recording_id).customer_id


def test_postgres_stores_a_calls_keys_with_its_events_in_one_statement(
    pg_ledgers: list[RecordingLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making the keys in a commit of their own, before the events' append, was a round trip and
    a commit more on every call start: the append's statement (migrations/postgresql/0018)
    stores them now, for a new customer and for one whose key the writer read first."""
    writer, reader, _ = pg_ledgers
    known = start_call(writer, "int-known", customer_id="cust-known")
    store = key_store_of(writer)
    monkeypatch.setattr(store, "ensure_recordings", lambda *_: pytest.fail("keys made in a commit of their own"))
    blocks = transaction_blocks(monkeypatch, _database(writer))
    new = start_call(writer, "int-new", customer_id="cust-new")
    again = start_call(writer, "int-again", customer_id="cust-known")
    assert blocks == []
    assert [_customer_of(reader, rid) for rid in (known, new, again)] == ["cust-known", "cust-new", "cust-known"]
    keys = key_store_of(reader)
    assert keys.keys_for(again).customer_key == keys.keys_for(known).customer_key  # shared, not remade
    assert keys.keys_for(new).customer_key != keys.keys_for(known).customer_key
    assert (_count(store, "customer_keys"), _count(store, "recording_keys")) == (2, 3)


def _meanwhile(monkeypatch: pytest.MonkeyPatch, store: KeyStore, other_writer: Callable[[], object]) -> list[bool]:
    """Runs ``other_writer`` once, after ``store`` has made keys to seal with and before they are
    stored; returns, for each time ``store`` is asked for keys, whether it was to store them first."""
    made, asked = store.keys_to_seal, []

    def and_meanwhile(customers: Any, *, store_first: bool = False) -> Any:
        sealing = made(customers, store_first=store_first)
        asked.append(store_first)
        if len(asked) == 1:
            other_writer()
        return sealing

    monkeypatch.setattr(store, "keys_to_seal", and_meanwhile)
    return asked


def test_postgres_start_seals_again_when_another_writer_made_the_new_customers_key_first(
    pg_ledgers: list[RecordingLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, reader = pg_ledgers
    other: list[uuid.UUID] = []
    _meanwhile(
        monkeypatch, key_store_of(second), lambda: other.append(start_call(first, "int-1", customer_id="cust-x"))
    )
    mine = start_call(second, "int-2", customer_id="cust-x")
    assert [_customer_of(reader, rid) for rid in (other[0], mine)] == ["cust-x", "cust-x"]
    keys = key_store_of(reader)
    assert keys.keys_for(mine).customer_key == keys.keys_for(other[0]).customer_key
    assert (_count(keys, "customer_keys"), _count(keys, "recording_keys")) == (1, 2)


def test_postgres_start_never_brings_back_a_customer_key_erased_while_it_was_sealed(
    pg_ledgers: list[RecordingLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, reader = pg_ledgers
    earlier = start_call(first, "int-earlier", customer_id="cust-erased")
    ref = key_store_of(first).customer_ref_of("cust-erased")
    asked = _meanwhile(monkeypatch, key_store_of(second), lambda: key_store_of(first).destroy_customer_key(ref))
    later = start_call(second, "int-later", customer_id="cust-erased")
    assert asked == [False, True]
    assert _customer_of(reader, earlier) == REDACTED  # the key read before the erasure is not stored again
    assert _customer_of(reader, later) == "cust-erased"  # sealed again, under a key made after it
    assert _count(key_store_of(reader), "customer_keys") == 1


def test_a_start_repeated_by_another_process_keeps_the_first_ones_keys(ledgers: list[RecordingLedger]) -> None:
    """The second process has not cached the recording, so it makes keys for it as for a new one;
    they must give way to the stored ones, and the start be answered as the same recording."""
    first, second = ledgers
    rid = start_call(first, "int-twice")
    stored = key_store_of(first).keys_for(rid)
    assert start_call(second, "int-twice") == rid
    assert key_store_of(second).keys_for(rid) == stored
    assert (_count(key_store_of(first), "customer_keys"), _count(key_store_of(first), "recording_keys")) == (1, 1)
    assert second.get_recording(rid).version == 1


def test_destroyed_recording_key_is_gone_for_every_store(ledgers: list[RecordingLedger]) -> None:
    store, other = (key_store_of(ledger) for ledger in ledgers)
    rid, kept = uuid.uuid4(), uuid.uuid4()
    store.ensure_recording(rid, "cust-1")
    store.ensure_recording(kept, "cust-1")
    assert store.destroy_recording_keys([rid]) == 1
    assert store.keys_for(rid) is None
    assert other.keys_for(rid) is None  # a second store that had not cached it
    assert store.destroy_recording_keys([rid]) == 0
    assert store.keys_for(kept) is not None
    assert store.recordings_of_customer(store.customer_ref_of("cust-1")) == [kept]


def test_destroyed_customer_key_is_gone_for_all_its_recordings(ledgers: list[RecordingLedger]) -> None:
    store, other = (key_store_of(ledger) for ledger in ledgers)
    mine = sorted(uuid.uuid4() for _ in range(3))
    for rid in mine:
        store.ensure_recording(rid, "cust-erased")
    theirs = uuid.uuid4()
    store.ensure_recording(theirs, "cust-other")
    ref = store.customer_ref_of("cust-erased")
    assert store.recordings_of_customer(ref) == mine
    assert other.destroy_customer_key(ref) is True
    assert all(other.keys_for(rid) is None for rid in mine)
    assert store.keys_for(theirs) is not None
    assert other.destroy_customer_key(ref) is False


def test_destroy_in_another_store_is_seen_after_the_cache_time(
    ledgers: list[RecordingLedger], settings: Settings
) -> None:
    store = key_store_of(ledgers[0])
    watcher = KeyStore(ledgers[1].factory.datastore, _dialect(ledgers[1]), cache_seconds=0.2)
    watcher.unlock(load_master_key(settings))
    rid = uuid.uuid4()
    store.ensure_recording(rid, "cust-1")
    assert watcher.keys_for(rid) is not None  # now cached there
    store.destroy_recording_keys([rid])
    time.sleep(0.3)
    assert watcher.keys_for(rid) is None


def test_expired_keys_leave_the_cache_as_new_ones_come(ledgers: list[RecordingLedger], settings: Settings) -> None:
    """Keys are kept a moment (a destroy elsewhere must be seen soon after); held past it
    until asked for again, they filled the cache and weighed on every full garbage collection."""
    store = key_store_of(ledgers[0])
    reader = KeyStore(ledgers[1].factory.datastore, _dialect(ledgers[1]), cache_seconds=0.2)
    reader.unlock(load_master_key(settings))
    early = [uuid.uuid4() for _ in range(20)]
    later = uuid.uuid4()
    for rid in [*early, later]:
        store.ensure_recording(rid, "cust-1")
    assert len(reader.keys_for_many(early)) == 20
    assert len(reader._cache) == 20  # noqa: SLF001
    time.sleep(0.3)
    assert reader.keys_for(later) is not None
    assert list(reader._cache) == [later]  # noqa: SLF001


def test_keys_do_not_open_under_another_master_key(ledgers: list[RecordingLedger]) -> None:
    store = key_store_of(ledgers[0])
    rid = uuid.uuid4()
    store.ensure_recording(rid, "cust-1")
    stranger = KeyStore(ledgers[1].factory.datastore, _dialect(ledgers[1]))
    stranger.unlock(b"\x01" * 32)
    with pytest.raises(ValueError, match="wrong key"):
        stranger.keys_for(rid)


# -- the master key ------------------------------------------------------------


def test_master_key_file_is_created_once_with_owner_only_access(tmp_path) -> None:
    settings = Settings(master_key_file=str(tmp_path / "keys" / "master.key"))
    key = load_master_key(settings)
    assert len(key) == 32 and load_master_key(settings) == key
    assert stat.S_IMODE((tmp_path / "keys" / "master.key").stat().st_mode) == 0o600
    assert list((tmp_path / "keys").iterdir()) == [tmp_path / "keys" / "master.key"]


def test_master_key_from_settings_wins_and_is_checked(tmp_path) -> None:
    key = bytes(range(32))
    settings = Settings(master_key=base64.b64encode(key).decode(), master_key_file=str(tmp_path / "unused"))
    assert load_master_key(settings) == key
    assert not (tmp_path / "unused").exists()
    with pytest.raises(ValueError, match="CALLVAULT_MASTER_KEY"):
        load_master_key(msgspec.structs.replace(settings, master_key="not-a-key"))
    with pytest.raises(ValueError, match="32 bytes"):
        load_master_key(msgspec.structs.replace(settings, master_key=base64.b64encode(b"short").decode()))


def test_postgres_service_role_may_make_read_and_destroy_keys_but_not_change_them(postgres_url: str) -> None:
    migrate(Settings(database_url=postgres_url))
    with psycopg.connect(postgres_url) as conn:
        rights = {
            (table, right): conn.execute(
                "SELECT has_table_privilege('callvault_service', %s, %s)", [table, right]
            ).fetchone()[0]
            for table in ("customer_keys", "recording_keys")
            for right in ("SELECT", "INSERT", "DELETE", "UPDATE", "TRUNCATE")
        }
    assert {key for key, granted in rights.items() if granted} == {
        (table, right) for table in ("customer_keys", "recording_keys") for right in ("SELECT", "INSERT", "DELETE")
    }


def test_a_new_sqlite_store_switches_to_wal_past_a_concurrent_writer(tmp_path) -> None:
    """The switch to WAL meets a writer holding the reserved lock: SQLite refuses it
    at once, without the busy timeout. It must be waited out, not fail a caller."""
    settings = Settings(sqlite_path=str(tmp_path / "callvault.sqlite3"), master_key_file=str(tmp_path / "master.key"))
    migrate(settings)
    writer = sqlite3.connect(settings.sqlite_file, isolation_level=None, check_same_thread=False)
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
    writer.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, writer.rollback).start()
    ledger = open_ledger(settings, group_commit=False)
    try:
        assert key_store_of(ledger).ensure_recording(uuid.uuid4(), "cust-1") is not None
    finally:
        ledger.close()
        writer.close()
    with sqlite3.connect(settings.sqlite_file) as check:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_master_key_never_enters_the_ledgers_environment(
    ledgers: list[RecordingLedger], settings: Settings
) -> None:
    key = load_master_key(settings)
    encodings = {key.hex(), base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode()}
    for ledger in ledgers:
        assert not [name for name, value in ledger.env.items() if any(text in str(value) for text in encodings)]
        assert not [name for name, value in ledger.factory.env.items() if any(text in str(value) for text in encodings)]
        assert key_store_of(ledger).customer_ref_of("cust-1")  # and yet the key store has it


def test_a_key_store_without_the_master_key_refuses_to_work(ledgers: list[RecordingLedger]) -> None:
    locked = KeyStore(ledgers[0].factory.datastore, _dialect(ledgers[0]))
    with pytest.raises(RuntimeError, match="master key"):
        locked.ensure_recording(uuid.uuid4(), "cust-1")
