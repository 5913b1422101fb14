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
from adapters.upload_body import UploadBody
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

    def put_new(self, recording_id: UUID, key: str, data: bytes | UploadBody) -> bool:
        """Stores the sealed object; False if it was already there (a retried upload).
        An upload's body is sealed piece by piece as the store reads it, to the same bytes."""
        recording_key = self._recording_key(recording_id)
        if isinstance(data, bytes):
            return self._live.put_new(key, crypto.seal_media(recording_key, key, data))
        return self._live.put_new(key, lambda: crypto.seal_media_pieces(recording_key, key, data.digest, data.pieces()))

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

    def open_derived(self, recording_id: UUID, key: str) -> DerivedObject | None:
        """The derived object, to read by byte ranges; None when it is not built.
        A purged recording has nothing to serve, built or not (MediaPurged)."""
        recording_key = self._recording_key(recording_id)
        sealed_size = self._live.size(key)
        return None if sealed_size is None else DerivedObject(self._live, key, recording_key, sealed_size)

    def get_derived(self, recording_id: UUID, key: str) -> bytes | None:
        derived = self.open_derived(recording_id, key)
        return None if derived is None else derived.read(0, derived.size - 1)

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


class DerivedObject:
    """One derived object's size in clear and its bytes by range; each read opens only the chunks
    it lies in (a range within one chunk, as the media responses cut them, opens one)."""

    def __init__(self, store: MediaStore, key: str, recording_key: bytes, sealed_size: int) -> None:
        self._store, self._key, self._recording_key = store, key, recording_key
        self._sealed_size, self._count = sealed_size, crypto.chunk_count(sealed_size)
        self.size = crypto.plain_size(sealed_size)

    def read(self, first: int, last: int) -> bytes:
        """Bytes ``first`` to ``last``, inclusive."""
        step, pieces = crypto.CHUNK_BYTES, []
        for index in range(first // step, last // step + 1):
            at = index * crypto.SEALED_CHUNK_BYTES
            sealed = self._store.get_range(self._key, at, min(at + crypto.SEALED_CHUNK_BYTES, self._sealed_size))
            chunk = crypto.open_chunk(self._recording_key, self._key, index, self._count, sealed)
            pieces.append(chunk[max(0, first - index * step) : last - index * step + 1])
        return b"".join(pieces)
