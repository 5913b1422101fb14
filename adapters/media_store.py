"""Media objects behind one interface: a local directory by default, S3, GCS or
Azure for scale (obstore speaks to all of them).

Objects are written create-only: a key once stored is never overwritten, so a
recording's media can only ever be what its events say it is.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import AlreadyExistsError, GenericError
from obstore.store import LocalStore, ObjectStore, from_url

from domain.errors import MediaConflict

# obstore reports a local file system's failures as text only, ending in "(os error N)".
_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


class StorageFull(Exception):
    """The media store has no room for an object: nothing was stored, and the same
    upload succeeds once an operator made room (not a rule of the ledger, so no domain error)."""


class MediaStore:
    def __init__(self, location: str) -> None:
        """``location`` is a directory path or a URL (file://, s3://, gs://, az://, …)."""
        self._store: ObjectStore
        scheme = urlsplit(location).scheme
        if scheme in ("", "file"):
            path = Path(urlsplit(location).path if scheme else location)
            path.mkdir(parents=True, exist_ok=True)
            self._store = LocalStore(str(path.resolve()), mkdir=True)
        else:
            # Credentials come from the provider's usual environment variables.
            self._store = from_url(location)

    def put_new(self, key: str, data: bytes | Callable[[], Iterator[bytes]]) -> bool:
        """Stores the object; False if exactly these bytes were already there. ``data`` is the
        bytes, or gives them piece by piece each time it is called (once more to compare them
        with an object already there)."""
        try:
            # A create-only write is a single request, never a multipart upload: obstore gathers
            # the pieces into one buffer (outside Python's heap) and sends it.
            obstore.put(self._store, key, data if isinstance(data, bytes) else data(), mode="create")
        except AlreadyExistsError:
            if self.get(key) != (data if isinstance(data, bytes) else b"".join(data())):
                raise MediaConflict(f"another object is already stored at {key}") from None
            return False
        except GenericError as error:
            # obstore writes to a temporary file and links it into place only when complete,
            # so a write that ran out of space leaves no partial object behind.
            if (code := _OS_ERROR.search(str(error))) and int(code.group(1)) in _NO_SPACE:
                raise StorageFull(f"the media store has no space left for {key}") from error
            raise
        return True

    def get(self, key: str) -> bytes:
        return bytes(obstore.get(self._store, key).bytes())

    def exists(self, key: str) -> bool:
        try:
            obstore.head(self._store, key)
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        """Only for media no event refers to (a refused upload), and for purges."""
        obstore.delete(self._store, key)

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is none."""
        try:
            return int(obstore.head(self._store, key)["size"])
        except FileNotFoundError:
            return None

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` up to (not including) ``end``, read without fetching the rest."""
        return bytes(obstore.get_range(self._store, key, start=start, end=end))

    def delete_under(self, prefix: str) -> int:
        """Deletes every object whose key starts with ``prefix`` (derived media of a purged recording)."""
        keys = [meta["path"] for batch in obstore.list(self._store, prefix) for meta in batch]
        for key in keys:
            obstore.delete(self._store, key)
        return len(keys)
