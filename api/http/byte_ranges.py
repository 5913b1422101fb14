"""Media served by byte ranges (RFC 9110 §14), so a player can seek in a long recording.

Litestar's `File` response and static router answer a Range request with the whole
body; a `<video>` then cannot seek (Chromium reports nothing seekable). One
range per request is honoured (a multi-range request gets the whole body, as the
RFC allows); the bytes are streamed from the store a chunk at a time.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.response import Response, Stream

from api.http.problems import problem
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


def serve(media: MediaFile, range_header: str | None, if_range: str | None) -> Response[Any] | Stream:
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
        response: Response[Any] = problem(416, "Range Not Satisfiable", f"cannot serve {unsatisfiable}")
        response.headers.update({**headers, "Content-Range": f"bytes */{media.size}"})
        return response
    if wanted is None:
        first, last, status = 0, media.size - 1, 200
    else:
        (first, last), status = wanted, 206
        headers["Content-Range"] = f"bytes {first}-{last}/{media.size}"
    headers["Content-Length"] = str(last - first + 1)
    body = media.read(first, last) if media.size else iter(())
    return Stream(body, status_code=status, media_type=media.content_type, headers=headers)
