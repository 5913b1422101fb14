"""Media objects behind one interface: a local directory by default, S3, GCS or
Azure for scale (obstore speaks to all of them).

Objects are written create-only: a key once stored is never overwritten, so a
recording's media can only ever be what its events say it is.

A cloud URL may say where its service is after a "?" (``s3://media/live?endpoint=
https://s3.example.net&region=eu-central-1``: an S3-compatible store on premises, an
emulator): each store its own, so the mirror can live elsewhere than the media. Never a
credential: the archive's URL is written into Archived events. Credentials come from the
provider's usual environment variables (AWS_*, GOOGLE_*, AZURE_*) or the machine's role.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import obstore
from obstore.exceptions import AlreadyExistsError, GenericError
from obstore.store import LocalStore, ObjectStore, from_url

from domain.errors import MediaConflict

# obstore reports a local file system's failures as text only, ending in "(os error N)".
_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
# What a URL's query may set: the store's own options, and the HTTP client's.
_STORE_OPTIONS = {"endpoint", "region", "account_name", "virtual_hosted_style_request"}
_CLIENT_OPTIONS = {"allow_http"}


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
            config, client = _options(location)
            self._store = from_url(location.partition("?")[0], config=config, client_options=client)

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

    def keys_under(self, prefix: str) -> list[str]:
        """The keys of every object whose key starts with ``prefix``."""
        return [meta["path"] for batch in obstore.list(self._store, prefix) for meta in batch]

    def delete_under(self, prefix: str) -> int:
        """Deletes every object whose key starts with ``prefix`` (derived media of a purged recording)."""
        keys = self.keys_under(prefix)
        for key in keys:
            obstore.delete(self._store, key)
        return len(keys)


def _options(location: str) -> tuple[Any, Any]:
    """The store's and the client's options a URL's query sets; any other name is refused, so a
    credential is never taken from a URL (nor a misspelt option silently ignored)."""
    options = dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
    if unknown := set(options) - _STORE_OPTIONS - _CLIENT_OPTIONS:
        raise ValueError(
            f"{location.partition('?')[0]}: unknown option(s) {', '.join(sorted(unknown))} "
            f"(a URL may set {', '.join(sorted(_STORE_OPTIONS | _CLIENT_OPTIONS))}; "
            "credentials come from the provider's environment variables)"
        )
    return (
        {name: value for name, value in options.items() if name in _STORE_OPTIONS},
        {name: value for name, value in options.items() if name in _CLIENT_OPTIONS},
    )
