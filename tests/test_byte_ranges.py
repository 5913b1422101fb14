"""The media response on a real server: pieces cut at the chunks' edges, and a client that
drops the response early (a browser does at every seek) leaves nothing behind in the server."""

from __future__ import annotations

import gc
import socket
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from litestar import Litestar, get
from litestar.params import FromQuery

from api.http.byte_ranges import RangeResponse, serve
from api.services.playback import MediaFile
from tests.support.in_process_server import serving

SIZE = 8 * 1024 * 1024
PIECE = 1024 * 1024
READS: list[tuple[int, int]] = []


def read(first: int, last: int) -> bytes:
    READS.append((first, last))
    return bytes(last - first + 1)


MEDIA = MediaFile("video/mp4", SIZE, '"v1"', read, PIECE)


@get("/media", sync_to_thread=False)
def media(range_header: FromQuery[str | None] = None) -> RangeResponse:
    return serve(MEDIA, range_header, None)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(Litestar([media])) as url:
        yield url


def dropped_request(base_url: str, header: str) -> None:
    """Asks for the rest of the file from ``header``'s offset, reads a little and hangs up."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"GET /media?range_header={header} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        connection.recv(65536)


def test_pieces_never_cross_a_chunk_edge(base_url: str) -> None:
    READS.clear()
    first, last = PIECE - 10, 3 * PIECE + 5
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"GET /media?range_header=bytes={first}-{last} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = b""
        # The headers come first: wait for every byte of the body, not just as many bytes.
        while len(received.partition(b"\r\n\r\n")[2]) < last - first + 1:
            received += connection.recv(1 << 20)
    assert READS == [(first, PIECE - 1), (PIECE, 2 * PIECE - 1), (2 * PIECE, 3 * PIECE - 1), (3 * PIECE, last)]


def test_a_dropped_response_keeps_nothing_alive(base_url: str) -> None:
    gc.collect()
    gc.disable()  # what a dropped response leaves in reference cycles would stay until a collection
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            dropped_request(base_url, "bytes=0-")
        time.sleep(1)  # the server notices each hang-up and finishes
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        gc.enable()
    # Each dropped response had megabytes in flight; what stays is a few kilobytes of bookkeeping.
    assert retained < 2 * PIECE, f"{retained / 2**20:.1f} MiB retained by 20 dropped responses"
