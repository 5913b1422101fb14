"""Sends spooled items to the server, oldest first, one at a time."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import httpx

from capture_client.backoff import Backoff
from capture_client.spool import Spool, SpoolItem

log = logging.getLogger(__name__)

ACKNOWLEDGED = {200, 201}
REFUSED = {409, 422}  # retrying cannot help: keep the evidence in rejected/ and go on


class UploadRate:
    """Acknowledged bytes over the last `window` seconds, for the status line."""

    def __init__(self, window: float = 10.0) -> None:
        self._window = window
        self._sent: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def add(self, size: int) -> None:
        with self._lock:
            self._sent.append((time.monotonic(), size))

    def kbps(self) -> float:
        horizon = time.monotonic() - self._window
        with self._lock:
            while self._sent and self._sent[0][0] < horizon:
                self._sent.popleft()
            return sum(size for _, size in self._sent) * 8 / 1000 / self._window


class Uploader(threading.Thread):
    """Keeps order: an item that fails is retried (with backoff) before anything after it."""

    def __init__(self, spool: Spool, client: httpx.Client, backoff: Backoff | None = None) -> None:
        super().__init__(name="capture-uploader", daemon=True)
        self._spool, self._client = spool, client
        self._backoff = backoff or Backoff()
        self._deadline: float | None = None  # set by stop()
        self._retry_wait = threading.Event()  # set by stop() to cut a backoff wait short
        self.rate = UploadRate()

    def stop(self, drain_seconds: float) -> None:
        """Keeps sending for up to `drain_seconds` while items remain, then ends; the rest stays spooled."""
        self._deadline = time.monotonic() + drain_seconds
        self._retry_wait.set()
        self._spool.changed.set()
        self.join()

    def run(self) -> None:
        while self._deadline is None or time.monotonic() < self._deadline:
            self._spool.changed.clear()
            item = self._spool.oldest()
            if item is None:
                if self._deadline is not None:
                    return
                self._spool.changed.wait(1.0)
            elif self._deliver(item):
                self._backoff.reset()
            elif self._deadline is not None:
                return  # stopping: what failed stays spooled for the next start
            else:
                self._retry_wait.wait(self._backoff.next_delay())

    def _deliver(self, item: SpoolItem) -> bool:
        """True when the item left the spool (acknowledged or refused)."""
        request = item.request
        body = item.body_path.read_bytes()
        try:
            answer = self._client.request(
                request["method"],
                request["path"],
                params=request["params"],
                content=body,
                headers={"Content-Type": request["content_type"]},
            )
        except httpx.HTTPError as error:
            log.warning("upload of %s failed (%s); will retry", item.name, error)
            return False
        if answer.status_code in ACKNOWLEDGED:
            self._spool.remove(item)
            self.rate.add(len(body))
            return True
        if answer.status_code in REFUSED:
            log.error("server refused %s with %s: %s; kept in rejected/", item.name, answer.status_code, answer.text)
            self._spool.reject(item, {"status": answer.status_code, "body": answer.text})
            return True
        log.warning("server answered %s to %s; will retry", answer.status_code, item.name)
        return False
