"""Media at rest: sealed with the recording's data key, archived and shredded on the ledger's word.

Every object is AES-256-GCM sealed under its recording's key before it reaches
the object store, so destroying that key (a purge) makes every copy unreadable,
including any the store or a backup still keeps; the objects are deleted too.
Archived objects live in a second store (or prefix); reads fall back to it, so
a crash between moving media and recording the move loses nothing.

Derived media (the playable file a player streams, its waveform peaks) is kept
under ``derived_prefix``: rebuilt from the originals whenever needed, never named
by an event, sealed in chunks so that a byte range opens only the chunks it needs,
and deleted with the rest by a purge or an archive.
"""

from __future__ import annotations

from uuid import UUID

import structlog

from adapters import crypto
from adapters.key_store import KeyStore
from adapters.media_store import MediaStore
from domain.errors import MediaConflict, MediaPurged

log = structlog.get_logger(__name__)


class MediaVault:
    def __init__(self, live: MediaStore, archive: MediaStore, archive_location: str, keys: KeyStore) -> None:
        self._live = live
        self._archive = archive
        self._archive_location = archive_location
        self._keys = keys

    def _recording_key(self, recording_id: UUID) -> bytes:
        keys = self._keys.keys_for(recording_id)
        if keys is None:
            raise MediaPurged(f"the media of recording {recording_id} was purged (its key is destroyed)")
        return keys.recording_key

    def put_new(self, recording_id: UUID, key: str, data: bytes) -> bool:
        """Stores the sealed object; False if it was already there (a retried upload)."""
        return self._live.put_new(key, crypto.seal_media(self._recording_key(recording_id), key, data))

    def get(self, recording_id: UUID, key: str) -> bytes:
        recording_key = self._recording_key(recording_id)
        try:
            sealed = self._live.get(key)
        except FileNotFoundError:
            sealed = self._archive.get(key)
        return crypto.open_media(recording_key, key, sealed)

    # -- derived media ---------------------------------------------------

    @staticmethod
    def derived_prefix(recording_id: UUID) -> str:
        return f"recordings/{recording_id}/derived/"

    def put_derived(self, recording_id: UUID, key: str, data: bytes) -> None:
        """Stores a derived object (a concurrent build of the same object may win: either is the same)."""
        try:
            self._live.put_new(key, crypto.seal_chunks(self._recording_key(recording_id), key, data))
        except MediaConflict:
            log.info("derived media built twice at once; the first is kept", key=key)

    def derived_size(self, recording_id: UUID, key: str) -> int | None:
        """The derived object's size in clear, or None when it is not built."""
        self._recording_key(recording_id)  # a purged recording has nothing to serve, built or not
        sealed = self._live.size(key)
        return None if sealed is None else crypto.plain_size(sealed)

    def read_derived(self, recording_id: UUID, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (inclusive) of a derived object, opening only the chunks they lie in
        (a range within one chunk, as a player's reads are cut, opens one)."""
        recording_key = self._recording_key(recording_id)
        sealed_size = self._live.size(key)
        if sealed_size is None:
            raise FileNotFoundError(key)
        count, step, pieces = crypto.chunk_count(sealed_size), crypto.CHUNK_BYTES, []
        for index in range(start // step, end // step + 1):
            at = index * crypto.SEALED_CHUNK_BYTES
            sealed = self._live.get_range(key, at, min(at + crypto.SEALED_CHUNK_BYTES, sealed_size))
            chunk = crypto.open_chunk(recording_key, key, index, count, sealed)
            pieces.append(chunk[max(0, start - index * step) : end - index * step + 1])
        return b"".join(pieces)

    def get_derived(self, recording_id: UUID, key: str) -> bytes | None:
        size = self.derived_size(recording_id, key)
        return None if size is None else self.read_derived(recording_id, key, 0, max(0, size - 1))

    # -- the ledger's RetentionStorage -----------------------------------

    def archive_media(self, recording_id: UUID, media_keys: list[str]) -> str:
        """Copies each sealed object to the archive, then deletes the live one (both idempotent).
        Derived media is not archived: it is rebuilt from the archived originals when asked for."""
        self._live.delete_under(self.derived_prefix(recording_id))
        for key in media_keys:
            if self._live.exists(key):
                self._archive.put_new(key, self._live.get(key))
                self._live.delete(key)
        return self._archive_location

    def shred_recordings(self, media: dict[UUID, list[str]]) -> None:
        """Destroys the recordings' keys (one transaction), then deletes their objects wherever they are."""
        self._keys.destroy_recording_keys(list(media))
        for key in (key for keys in media.values() for key in keys):
            for store in (self._live, self._archive):
                if store.exists(key):
                    store.delete(key)
        for recording_id in media:
            self._live.delete_under(self.derived_prefix(recording_id))
        log.info("recordings shredded", recordings=len(media), objects=sum(map(len, media.values())))

    def shred_customer(self, customer_ref: str) -> None:
        self._keys.destroy_customer_key(customer_ref)
        log.info("customer key destroyed", customer_ref=customer_ref)
