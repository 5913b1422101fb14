"""Data keys, kept outside the event log: one per customer, one per recording.

The log never changes, so personal data in it is made unreadable by destroying
the key that sealed it (crypto-shredding). These two tables are therefore the
one place where the service may DELETE. Keys are stored wrapped by the master
key, which lives in settings or a file, never in the database.

Unwrapped keys are cached for ``cache_seconds`` only. A destroy in this process
evicts them at once; one in another process is seen here after that time at the
latest. Asking the database on every read instead would cost a query per event
while views replay the log, for a window the caller can shrink at will.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from adapters import crypto
from adapters.read_cursor import read_cursor, write_cursor
from adapters.sql_dialect import Dialect

log = structlog.get_logger(__name__)

CACHE_SECONDS = 1.0
CACHE_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class RecordingKeys:
    recording_key: bytes
    customer_key: bytes
    customer_ref: str


class KeysChanged(Exception):
    """The keys some events were sealed with were made or destroyed by another writer before
    they could be stored with them: nothing was stored, and the events must be sealed again."""


@dataclass(frozen=True, slots=True)
class UnstoredKeys:
    """Keys made for new recordings, to be stored by the statement that appends their events."""

    customers: dict[str, bytes]  # customer ref -> wrapped key, for customers who had none
    recordings: dict[UUID, tuple[str, bytes, bytes]]  # -> (customer ref, wrapped key, customer's wrapped key)
    generation: int  # the key store's destroy count when they were made

    def columns(self) -> list[list[Any]]:
        """The arrays callvault_append_with_keys takes after the events', in key order."""
        customers = sorted(self.customers.items())
        recordings = sorted(self.recordings.items())
        return [
            [ref for ref, _ in customers],
            [wrapped for _, wrapped in customers],
            [rid for rid, _ in recordings],
            [ref for _, (ref, _, _) in recordings],
            [wrapped for _, (_, wrapped, _) in recordings],
            [customer_wrapped for _, (_, _, customer_wrapped) in recordings],
        ]


@dataclass(frozen=True, slots=True)
class SealingKeys:
    """The keys a save seals its new recordings' events with, and those of them not stored yet."""

    keys: Mapping[UUID, RecordingKeys]
    unstored: UnstoredKeys | None = None


def _recording_key_id(recording_id: UUID) -> bytes:
    return b"recording:" + recording_id.bytes


def _customer_key_id(customer_ref: str) -> bytes:
    return b"customer:" + customer_ref.encode()


class KeyStore:
    """The data keys, wrapped by the master key.

    Built by the event store's factory (it shares the factory's connections), and handed
    the master key afterwards by whoever opened the store (``unlock``): the key is never
    put into eventsourcing's environment, which is made of plain strings that end up in
    reprs and logs.
    """

    def __init__(self, datastore: Any, dialect: Dialect, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self._datastore = datastore
        self._dialect = dialect
        self._master = b""
        self._index_key = b""
        self._cache_seconds = cache_seconds
        self._cache: OrderedDict[UUID, tuple[float, RecordingKeys]] = OrderedDict()
        self._cache_lock = threading.Lock()
        # Counts destroys, so a read that raced one is not cached afterwards.
        self._destroyed = 0

    def unlock(self, master_key: bytes) -> None:
        """Hands the store the master key; nothing is sealed or opened before."""
        if len(master_key) != crypto.KEY_BYTES:
            raise ValueError(f"the master key must be {crypto.KEY_BYTES} bytes")
        self._master = master_key
        self._index_key = crypto.index_key(master_key)

    def customer_ref_of(self, customer_id: str) -> str:
        return crypto.customer_ref(self._locked_or(self._index_key), customer_id)

    @staticmethod
    def _locked_or(key: bytes) -> bytes:
        if not key:
            raise RuntimeError("the key store was not given the master key (KeyStore.unlock)")
        return key

    def ensure_recording(self, recording_id: UUID, customer_id: str) -> RecordingKeys | None:
        """The recording's keys, made if new. Idempotent, and safe against concurrent
        callers: the first insert wins and everyone reads it back.

        None only if the recording already belongs to another customer whose key
        was destroyed (the recording's own row always decides its customer).
        """
        return self.ensure_recordings({recording_id: customer_id}).get(recording_id)

    def ensure_recordings(self, customers: Mapping[UUID, str]) -> dict[UUID, RecordingKeys]:
        """ensure_recording for many recordings (a group commit's new calls) in one transaction."""
        found, missing, generation = self._split_cached(customers)
        if not missing:
            return found
        now = self._dialect.value(datetime.now(UTC))
        master = self._locked_or(self._master)
        # Sorted, so that concurrent transactions take the rows' locks in one order.
        customer_refs = sorted(set(missing.values()))
        customer_wrapped = [crypto.wrap_key(master, _customer_key_id(ref), crypto.new_key()) for ref in customer_refs]
        recordings = sorted(missing.items())
        recording_wrapped = [crypto.wrap_key(master, _recording_key_id(rid), crypto.new_key()) for rid, _ in recordings]
        if self._dialect.name == "postgresql":
            # Both inserts and the read-back in one statement (migrations/postgresql/0017):
            # one round trip and one commit.
            with write_cursor(self._datastore) as cursor:
                cursor.execute(
                    "SELECT * FROM callvault_ensure_keys(%s, %s, %s, %s, %s, %s)",
                    [
                        customer_refs,
                        customer_wrapped,
                        [rid for rid, _ in recordings],
                        [ref for _, ref in recordings],
                        recording_wrapped,
                        now,
                    ],
                    prepare=True,
                )
                return found | self._unwrap(cursor.fetchall(), generation)
        with self._datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                "INSERT INTO customer_keys (customer_ref, wrapped, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (customer_ref) DO NOTHING",
                [[ref, wrapped, now] for ref, wrapped in zip(customer_refs, customer_wrapped, strict=True)],
            )
            cursor.executemany(
                "INSERT INTO recording_keys (recording_id, customer_ref, wrapped, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (recording_id) DO NOTHING",
                [
                    [self._dialect.value(rid), ref, wrapped, now]
                    for (rid, ref), wrapped in zip(recordings, recording_wrapped, strict=True)
                ],
            )
            return found | self._select_keys(cursor, list(missing), generation)

    def keys_to_seal(self, customers: Mapping[UUID, str], *, store_first: bool = False) -> SealingKeys:
        """The keys to seal these recordings' events with, made for those that have none.

        On PostgreSQL the keys made here are not stored yet: the statement that appends the
        events they seal stores them too (``SealingKeys.unstored``, migrations/postgresql/0018),
        so a call's start is one commit, not two. Customers' keys are read first; one made here
        is only for a customer who had none. SQLite (or ``store_first``) stores them at once.
        """
        if store_first or self._dialect.name != "postgresql":
            return SealingKeys(self.ensure_recordings(customers))
        found, missing, generation = self._split_cached(customers)
        if not missing:
            return SealingKeys(found)
        master = self._locked_or(self._master)
        refs = sorted(set(missing.values()))
        with read_cursor(self._datastore) as cursor:
            cursor.execute(
                "SELECT customer_ref, wrapped FROM customer_keys WHERE customer_ref = ANY(%s)", [refs], prepare=True
            )
            stored = {row["customer_ref"]: bytes(row["wrapped"]) for row in map(dict, cursor.fetchall())}
        customer_keys: dict[str, tuple[bytes, bytes]] = {}  # ref -> (key, wrapped)
        new_customers: dict[str, bytes] = {}
        for ref in refs:
            if ref in stored:
                wrapped = stored[ref]
                customer_keys[ref] = (crypto.unwrap_key(master, _customer_key_id(ref), wrapped), wrapped)
            else:
                key = crypto.new_key()
                new_customers[ref] = crypto.wrap_key(master, _customer_key_id(ref), key)
                customer_keys[ref] = (key, new_customers[ref])
        keys = dict(found)
        new_recordings: dict[UUID, tuple[str, bytes, bytes]] = {}
        for recording_id, ref in sorted(missing.items()):
            key = crypto.new_key()
            customer_key, customer_wrapped = customer_keys[ref]
            keys[recording_id] = RecordingKeys(recording_key=key, customer_key=customer_key, customer_ref=ref)
            new_recordings[recording_id] = (
                ref,
                crypto.wrap_key(master, _recording_key_id(recording_id), key),
                customer_wrapped,
            )
        return SealingKeys(keys, UnstoredKeys(new_customers, new_recordings, generation))

    def stored(self, sealing: SealingKeys) -> None:
        """The keys made by ``keys_to_seal`` were committed with the events: cached from now on."""
        if sealing.unstored is not None:
            new = {rid: sealing.keys[rid] for rid in sealing.unstored.recordings}
            self._remember(new, sealing.unstored.generation)

    def keys_for(self, recording_id: UUID) -> RecordingKeys | None:
        """None when either key was destroyed, or never made."""
        return self.keys_for_many([recording_id]).get(recording_id)

    def keys_for_many(self, recording_ids: Iterable[UUID]) -> dict[UUID, RecordingKeys]:
        """The keys of those recordings that have them, with one query for all not cached."""
        found: dict[UUID, RecordingKeys] = {}
        missing = []
        generation = self._destroyed
        for recording_id in set(recording_ids):
            cached, _ = self._cached(recording_id)
            if cached is not None:
                found[recording_id] = cached
            else:
                missing.append(recording_id)
        if missing:
            with read_cursor(self._datastore) as cursor:
                found |= self._select_keys(cursor, missing, generation)
        return found

    def destroy_recording_keys(self, recording_ids: list[UUID]) -> int:
        """Destroys many recordings' keys in one transaction (a retention run); how many existed."""
        if not recording_ids:
            return 0
        marks = ", ".join("?" * len(recording_ids))
        destroyed = self._delete(
            f"DELETE FROM recording_keys WHERE recording_id IN ({marks}) RETURNING recording_id",
            [self._dialect.value(rid) for rid in recording_ids],
        )
        gone = set(recording_ids)
        self._forget(lambda rid, _: rid in gone)
        return destroyed

    def destroy_customer_key(self, customer_ref: str) -> bool:
        """Destroys what the customer's key sealed in every recording (an erasure)."""
        destroyed = self._delete(
            "DELETE FROM customer_keys WHERE customer_ref = ? RETURNING customer_ref", [customer_ref]
        )
        self._forget(lambda _, keys: keys.customer_ref == customer_ref)
        return destroyed == 1

    def recordings_of_customer(self, customer_ref: str) -> list[UUID]:
        """Recordings whose key still exists, of one customer."""
        with read_cursor(self._datastore) as cursor:
            cursor.execute(
                self._sql("SELECT recording_id FROM recording_keys WHERE customer_ref = ? ORDER BY recording_id"),
                [customer_ref],
            )
            return [UUID(str(dict(row)["recording_id"])) for row in cursor.fetchall()]

    # -- plumbing --------------------------------------------------------

    def _split_cached(self, customers: Mapping[UUID, str]) -> tuple[dict[UUID, RecordingKeys], dict[UUID, str], int]:
        """The cached keys, the customer refs of the recordings not cached, and the destroy count."""
        found: dict[UUID, RecordingKeys] = {}
        missing: dict[UUID, str] = {}
        generation = self._destroyed
        for recording_id, customer_id in customers.items():
            cached, _ = self._cached(recording_id)
            if cached is not None:
                found[recording_id] = cached
            else:
                missing[recording_id] = self.customer_ref_of(customer_id)
        return found, missing, generation

    def _sql(self, statement: str) -> str:
        return self._dialect.sql(statement)

    def _select_keys(self, cursor: Any, recording_ids: list[UUID], generation: int) -> dict[UUID, RecordingKeys]:
        marks = ", ".join("?" * len(recording_ids))
        cursor.execute(
            self._sql(
                "SELECT r.recording_id AS recording_id, r.wrapped AS recording_wrapped, "
                "c.wrapped AS customer_wrapped, r.customer_ref AS customer_ref "
                "FROM recording_keys r JOIN customer_keys c ON c.customer_ref = r.customer_ref "
                f"WHERE r.recording_id IN ({marks})"
            ),
            [self._dialect.value(rid) for rid in recording_ids],
        )
        return self._unwrap(cursor.fetchall(), generation)

    def _unwrap(self, rows: Iterable[Any], generation: int) -> dict[UUID, RecordingKeys]:
        """Rows of (recording_id, recording_wrapped, customer_wrapped, customer_ref), unwrapped and cached."""
        found = {}
        for row in map(dict, rows):
            recording_id, ref = UUID(str(row["recording_id"])), row["customer_ref"]
            found[recording_id] = RecordingKeys(
                recording_key=crypto.unwrap_key(
                    self._locked_or(self._master), _recording_key_id(recording_id), bytes(row["recording_wrapped"])
                ),
                customer_key=crypto.unwrap_key(
                    self._locked_or(self._master), _customer_key_id(ref), bytes(row["customer_wrapped"])
                ),
                customer_ref=ref,
            )
        self._remember(found, generation)
        return found

    def _delete(self, statement: str, params: list[Any]) -> int:
        with self._datastore.transaction(commit=True) as cursor:
            # SQLite: zero the deleted row in the database file (copies may linger
            # in the WAL until it is checkpointed and reused). PostgreSQL keeps the
            # dead tuple until VACUUM reclaims it. Either way, what lingers is a
            # wrapped key, useless without the master key.
            if self._dialect.name == "sqlite":
                cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute(self._sql(statement), params)
            return len(cursor.fetchall())

    def _forget(self, matches: Callable[[UUID, RecordingKeys], bool]) -> None:
        """Evicts after the delete committed, and stops reads begun before it from caching."""
        with self._cache_lock:
            self._destroyed += 1
            for recording_id in [r for r, (_, keys) in self._cache.items() if matches(r, keys)]:
                del self._cache[recording_id]

    def _cached(self, recording_id: UUID) -> tuple[RecordingKeys | None, int]:
        """The cached keys if still fresh, and the destroy count to read the database under."""
        with self._cache_lock:
            entry = self._cache.get(recording_id)
            if entry is not None and entry[0] < time.monotonic():
                del self._cache[recording_id]
                entry = None
            return (entry[1] if entry else None), self._destroyed

    def _remember(self, found: dict[UUID, RecordingKeys], generation: int) -> None:
        if self._cache_seconds <= 0:
            return
        with self._cache_lock:
            if generation != self._destroyed:
                return  # a destroy ran meanwhile: these keys may be gone already
            now = time.monotonic()
            for recording_id, keys in found.items():
                self._cache[recording_id] = (now + self._cache_seconds, keys)
                self._cache.move_to_end(recording_id)
            # In order of expiry, so the expired are at the front: kept until asked for, they
            # filled the cache and gave every full garbage collection 40,000 objects to walk.
            while self._cache and (len(self._cache) > CACHE_ENTRIES or next(iter(self._cache.values()))[0] < now):
                self._cache.popitem(last=False)
