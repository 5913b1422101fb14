"""An upload's body as it arrives: hashed and kept in a temporary file, never whole in memory
unless it is small.

The body must be judged (its size, its SHA-256, its media) before anything is stored, so it is
kept until then, in memory up to ``IN_MEMORY`` bytes and on disk past that; what arrives past
the upload's limit is counted but not kept, since the upload is refused for its size anyway.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from typing import BinaryIO, Self, cast

# Most screen segments stay in memory; a larger body (an hour of voice) goes to disk.
IN_MEMORY = 1024 * 1024
PIECE_BYTES = 256 * 1024  # how much is read back at a time to seal and store


class UploadBody:
    def __init__(self, limit: int) -> None:
        self._file = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=IN_MEMORY))  # noqa: SIM115 (closed by close())
        self._hash = hashlib.sha256()
        self._limit = limit
        self.size = 0

    @classmethod
    def of(cls, data: bytes) -> Self:
        body = cls(len(data))
        body.write(data)
        return body

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= self._limit:
            self._hash.update(chunk)
            self._file.write(chunk)

    @property
    def digest(self) -> bytes:
        """The SHA-256 of the body (of the part kept, for one over its limit)."""
        return self._hash.digest()

    def file(self) -> BinaryIO:
        """The body as a file to read, from its start."""
        self._file.seek(0)
        return self._file

    def pieces(self) -> Iterator[bytes]:
        """The body from its start, ``PIECE_BYTES`` at a time."""
        source = self.file()
        while piece := source.read(PIECE_BYTES):
            yield piece

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
