"""An upload's body as it streams in: hashed, spooled to disk past a megabyte, nothing kept past its limit."""

from __future__ import annotations

import hashlib

from adapters.upload_body import IN_MEMORY, PIECE_BYTES, UploadBody


def test_a_body_is_hashed_as_it_arrives_and_read_back_in_pieces() -> None:
    data = bytes(range(256)) * (3 * IN_MEMORY // 256) + b"tail"
    with UploadBody(limit=len(data)) as body:
        for at in range(0, len(data), 65_536):
            body.write(data[at : at + 65_536])
        assert (body.size, body.digest) == (len(data), hashlib.sha256(data).digest())
        pieces = list(body.pieces())
        assert b"".join(pieces) == data and max(map(len, pieces)) == PIECE_BYTES
        assert b"".join(body.pieces()) == data  # read again from the start
        assert body.file().read() == data


def test_a_large_body_goes_to_disk_a_small_one_stays_in_memory() -> None:
    small, large = UploadBody.of(b"x" * IN_MEMORY), UploadBody.of(b"x" * (IN_MEMORY + 1))
    try:
        # SpooledTemporaryFile's own flag: whether its bytes moved to a file on disk.
        assert (small.file()._rolled, large.file()._rolled) == (False, True)  # type: ignore[attr-defined]
    finally:
        small.close()
        large.close()


def test_what_arrives_past_the_limit_is_counted_not_kept() -> None:
    with UploadBody(limit=10) as body:
        body.write(b"0123456789")
        body.write(b"more and more")
        assert body.size == 23
        assert b"".join(body.pieces()) == b"0123456789"
