"""Media served by byte ranges (RFC 9110 §14), so a player can seek in a long recording.

Litestar's `File` response and static router answer a Range request with the whole
body; a `<video>` then cannot seek (Chromium reports nothing seekable). One
range per request is honoured (a multi-range request gets the whole body, as the
RFC allows).

The body is sent a piece at a time (each piece opens one sealed chunk, read in a
worker thread) by a small ASGI response of our own rather than Litestar's `Stream`:
a browser drops most media requests after their first piece (at every seek), and a
stream cancelled while sending keeps its piece alive in the cancellation's
reference cycle until the garbage collector runs, megabytes per dropped request.
Here the sending loop is never cancelled: a watcher notes the disconnect and the
loop stops before reading the next piece.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import anyio
import anyio.to_thread
from litestar.types import Receive, ReceiveMessage, Scope, Send

from api.http.problems import PROBLEM
from api.services.playback import MediaFile

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte asked for; None for the whole body; ValueError if unsatisfiable."""
    match = _RANGE.fullmatch((header or "").strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None  # absent, malformed or several ranges: the whole body
    first, last = match.groups()
    if first == "":  # a suffix: the last N bytes
        if int(last) == 0:
            raise ValueError("an empty suffix range")
        return max(0, size - int(last)), size - 1
    if int(first) >= size or (last != "" and int(last) < int(first)):
        raise ValueError(f"bytes {first}-{last} of {size}")
    return int(first), min(size - 1, int(last)) if last else size - 1


class RangeResponse:
    """An ASGI response: the status and headers, then the body's pieces until done or the client leaves."""

    def __init__(self, status: int, headers: dict[str, str], media: MediaFile | None, first: int, last: int) -> None:
        """Reads the first piece at once (the handler runs in a worker thread already): a seek's
        whole answer is usually that one piece, sent without another trip to a thread."""
        self._status = status
        self._headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        self._media = media
        self._first, self._last = first, last
        self._body = b""
        if media is not None and first <= last:
            end = self._piece_end(first)
            self._body, self._first = media.read(first, end), end + 1

    def _piece_end(self, at: int) -> int:
        assert self._media is not None
        step = self._media.piece_bytes
        return min(self._last, (at // step + 1) * step - 1)

    @classmethod
    def unsatisfiable(cls, headers: dict[str, str], detail: str) -> RangeResponse:
        body = json.dumps({"type": "about:blank", "status": 416, "title": "Range Not Satisfiable", "detail": detail})
        response = cls(416, {**headers, "Content-Type": PROBLEM, "Content-Length": str(len(body))}, None, 0, -1)
        response._body = body.encode()
        return response

    def _pieces(self) -> Iterator[tuple[int, int]]:
        at = self._first
        while at <= self._last:
            end = self._piece_end(at)
            yield at, end
            at = end + 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self._status, "headers": self._headers})
        if self._media is None or self._last < self._first:  # all of it read already
            await send({"type": "http.response.body", "body": self._body, "more_body": False})
            return
        await send({"type": "http.response.body", "body": self._body, "more_body": True})
        self._body = b""
        left = anyio.Event()

        async def watch() -> None:
            message: ReceiveMessage = await receive()
            while message["type"] != "http.disconnect":
                message = await receive()
            left.set()

        read = self._media.read
        async with anyio.create_task_group() as watching:
            watching.start_soon(watch)
            for first, last in self._pieces():
                if left.is_set():
                    break
                piece = await anyio.to_thread.run_sync(read, first, last)
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            else:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            watching.cancel_scope.cancel()


def serve(media: MediaFile, range_header: str | None, if_range: str | None) -> RangeResponse:
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": media.etag,
        "Cache-Control": "private, no-cache",  # each use is checked against its grant
        "X-Content-Type-Options": "nosniff",
    }
    if if_range is not None and if_range != media.etag:
        range_header = None  # the client's copy is of another version: send this one whole
    try:
        wanted = requested_range(range_header, media.size)
    except ValueError as unsatisfiable:
        return RangeResponse.unsatisfiable({**headers, "Content-Range": f"bytes */{media.size}"}, str(unsatisfiable))
    if wanted is None:
        first, last, status = 0, media.size - 1, 200
    else:
        (first, last), status = wanted, 206
        headers["Content-Range"] = f"bytes {first}-{last}/{media.size}"
    headers.update({"Content-Length": str(last - first + 1), "Content-Type": media.content_type})
    return RangeResponse(status, headers, media, first, last)
