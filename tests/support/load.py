"""Concurrent telephony clients writing whole calls through the HTTP API, and the check of what they were told.

Each client thread writes call after call, alternating the per-event endpoints
(start, pause, resume, tag, end, ACW end: six requests) and the batch endpoint
(the same six events in one request). A request answered 503 or not answered at
all (connection refused or reset) is sent again unchanged, as telephony would:
the lifecycle commands are idempotent on their natural keys. Every event whose
request (or batch item) was answered 2xx is acknowledged, and afterwards each
acknowledged event must be in the log exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from adapters.event_store import open_ledger
from adapters.settings import Settings
from domain.ledger import RecordingLedger
from domain.recording import recording_id_for

PROBLEM = "application/problem+json"
# (step, event class it writes, the per-event path after /v1/recordings/{id}, the batch item type)
STEPS = [
    ("start", "CallStarted", "", "start"),
    ("pause", "Paused", "/pause", "pause"),
    ("resume", "Resumed", "/resume", "resume"),
    ("tag", "Tagged", "/tags", "tag"),
    ("end", "CallEnded", "/end", "end"),
    ("acw_end", "AcwEnded", "/acw-end", "acw_end"),
]


@dataclass(frozen=True)
class Ack:
    recording_id: UUID
    event: str
    occurred_at: datetime


@dataclass
class Figures:
    requests: int = 0  # HTTP answers received
    statuses: Counter[int] = field(default_factory=Counter)
    acks: list[Ack] = field(default_factory=list)
    bad_503: list[str] = field(default_factory=list)  # without Retry-After or a problem body
    unexpected: list[str] = field(default_factory=list)  # any other non-2xx answer, or item
    hangs: int = 0  # no answer within the client's timeout
    transport_errors: int = 0  # refused or reset: the server was gone
    abandoned: int = 0  # calls given up at the deadline
    slowest: float = 0.0
    first_503: float | None = None  # seconds into the run
    last_503: float | None = None
    ack_times: list[float] = field(default_factory=list)  # seconds into the run

    @property
    def server_errors(self) -> dict[int, int]:
        return {status: n for status, n in self.statuses.items() if status >= 500}

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "acknowledged": len(self.acks),
            "statuses": dict(sorted(self.statuses.items())),
            "5xx": self.server_errors,
            "bad_503": len(self.bad_503),
            "unexpected": len(self.unexpected),
            "hangs": self.hangs,
            "transport_errors": self.transport_errors,
            "abandoned": self.abandoned,
            "slowest_answer_s": round(self.slowest, 2),
        }


class Servers:
    """Behind a load balancer that is not sticky: each request goes to the next server, so a
    call's events are spread over all of them, and one that is gone costs one failed request."""

    def __init__(self, base_urls: list[str], headers: dict[str, str], timeout: float, *, first: int) -> None:
        self._clients = [httpx.Client(base_url=url, headers=headers, timeout=timeout) for url in base_urls]
        self._next = first

    def post(self, url: str, *, json: dict[str, Any]) -> httpx.Response:
        self._next += 1
        return self._clients[self._next % len(self._clients)].post(url, json=json)

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *_: object) -> None:
        for client in self._clients:
            client.close()


class Load:
    def __init__(
        self,
        base_url: str | list[str],
        token: str,
        *,
        clients: int,
        request_timeout: float,
        retry_seconds: float = 60.0,
        name: str = "load",
    ) -> None:
        self.base_urls = [base_url] if isinstance(base_url, str) else base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.clients = clients
        self.request_timeout = request_timeout
        self.retry_seconds = retry_seconds  # how long after the run a started call may still retry
        self.name = name
        self.figures = Figures()
        self._lock = threading.Lock()
        self._started = 0.0

    def elapsed(self) -> float:
        """Seconds since the run started, on the clock its figures use."""
        return time.monotonic() - self._started

    def run(self, seconds: float) -> Figures:
        """Writes for ``seconds`` (calls in progress then finish, retrying up to retry_seconds more)."""
        thread = self.start(seconds)
        thread.join()
        return self.figures

    def start(self, seconds: float) -> threading.Thread:
        """The same, in the background: join the thread returned."""
        self._started = time.monotonic()
        stop_at = self._started + seconds
        give_up_at = stop_at + self.retry_seconds
        workers = [
            threading.Thread(target=self._client, args=(n, stop_at, give_up_at), daemon=True)
            for n in range(self.clients)
        ]
        for worker in workers:
            worker.start()

        def join_all() -> None:
            for worker in workers:
                worker.join()

        joiner = threading.Thread(target=join_all, daemon=True)
        joiner.start()
        return joiner

    def _client(self, n: int, stop_at: float, give_up_at: float) -> None:
        with Servers(self.base_urls, self.headers, self.request_timeout, first=n) as http:
            call = 0
            while time.monotonic() < stop_at:
                interaction = f"{self.name}-{n}-{call}"
                at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
                write = self._per_event if call % 2 == 0 else self._batch
                if not write(http, interaction, at, give_up_at):
                    with self._lock:
                        self.figures.abandoned += 1
                call += 1

    @staticmethod
    def _body(step: str, interaction: str, at: datetime) -> dict[str, Any]:
        body: dict[str, Any] = {"occurred_at": at.isoformat().replace("+00:00", "Z")}
        if step == "start":
            body |= {
                "interaction_id": interaction,
                "agent_id": "agent-1",
                "customer_id": f"cust-{interaction}",
                "queue": "sales",
                "direction": "inbound",
            }
        elif step == "tag":
            body |= {"key": "topic", "value": f"v-{interaction}"}
        elif step in ("pause", "resume"):
            body |= {"reason": "card details"}
        return body

    def _per_event(self, http: Servers, interaction: str, at: datetime, give_up_at: float) -> bool:
        recording_id = recording_id_for(interaction)
        for offset, (step, event, path, _) in enumerate(STEPS):
            when = at + timedelta(seconds=offset)
            url = "/v1/recordings" + (f"/{recording_id}{path}" if path else "")
            answer = self._send(http, url, self._body(step, interaction, when), give_up_at)
            if answer is None:
                return False
            self._ack(Ack(recording_id, event, when))
        return True

    def _batch(self, http: Servers, interaction: str, at: datetime, give_up_at: float) -> bool:
        recording_id = recording_id_for(interaction)
        items = []
        for offset, (step, _, _, item_type) in enumerate(STEPS):
            item = self._body(step, interaction, at + timedelta(seconds=offset)) | {"type": item_type}
            if step != "start":
                item["recording_id"] = str(recording_id)
            items.append(item)
        answer = self._send(http, "/v1/lifecycle-events", {"events": items}, give_up_at)
        if answer is None:
            return False
        complete = True
        for offset, ((_, event, _, _), result) in enumerate(zip(STEPS, answer.json()["results"], strict=True)):
            if 200 <= result["status"] < 300:
                self._ack(Ack(recording_id, event, at + timedelta(seconds=offset)))
            else:
                complete = False
                with self._lock:
                    self.figures.unexpected.append(f"batch item {event}: {result}")
        return complete

    def _send(self, http: Servers, url: str, body: dict[str, Any], give_up_at: float) -> httpx.Response | None:
        """The 2xx answer, sending again after a 503 or a lost connection; None if refused or out of time."""
        while time.monotonic() < give_up_at:
            sent = time.monotonic()
            try:
                answer = http.post(url, json=body)
            except httpx.TimeoutException:
                with self._lock:
                    self.figures.hangs += 1
                continue
            except httpx.TransportError:
                with self._lock:
                    self.figures.transport_errors += 1
                time.sleep(0.2)
                continue
            self._count(answer, time.monotonic() - sent)
            if answer.is_success:
                return answer
            if answer.status_code != 503:
                with self._lock:
                    self.figures.unexpected.append(f"{url}: {answer.status_code} {answer.text[:300]}")
                return None
            # Honoured, but capped: the test measures recovery, not patience.
            time.sleep(min(float(answer.headers.get("retry-after", "1")), 1.0))
        return None

    def _count(self, answer: httpx.Response, took: float) -> None:
        at = self.elapsed()
        with self._lock:
            f = self.figures
            f.requests += 1
            f.statuses[answer.status_code] += 1
            f.slowest = max(f.slowest, took)
            if answer.status_code == 503:
                f.first_503 = at if f.first_503 is None else f.first_503
                f.last_503 = at
                if (
                    "retry-after" not in answer.headers
                    or not answer.headers.get("content-type", "").startswith(PROBLEM)
                    or not answer.json().get("detail")
                ):
                    f.bad_503.append(f"{answer.headers} {answer.text[:300]}")

    def _ack(self, ack: Ack) -> None:
        with self._lock:
            self.figures.acks.append(ack)
            self.figures.ack_times.append(time.monotonic() - self._started)


@dataclass
class LogCheck:
    acknowledged: int
    found: int  # acknowledged events in the log exactly once
    lost: list[Ack]
    duplicated: list[tuple[UUID, str, datetime]]  # any event of these recordings stored twice
    gaps: list[UUID]  # recordings whose versions are not 1..n

    def summary(self) -> dict[str, int]:
        return {
            "acknowledged": self.acknowledged,
            "found": self.found,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "version_gaps": len(self.gaps),
        }


def check_log(settings: Settings, acks: list[Ack]) -> LogCheck:
    """Reads every recording the load touched back from the log."""
    ledger = open_ledger(settings, group_commit=False)
    try:
        return _check(ledger, acks)
    finally:
        ledger.close()


def _check(ledger: RecordingLedger, acks: list[Ack]) -> LogCheck:
    stored: Counter[tuple[UUID, str, datetime]] = Counter()
    gaps = []
    for recording_id in {ack.recording_id for ack in acks}:
        events = list(ledger.events.get(recording_id))
        if [e.originator_version for e in events] != list(range(1, len(events) + 1)):
            gaps.append(recording_id)
        stored.update((recording_id, type(e).__name__, e.occurred_at) for e in events)
    lost = [a for a in acks if stored[(a.recording_id, a.event, a.occurred_at)] == 0]
    return LogCheck(
        acknowledged=len(acks),
        found=sum(1 for a in acks if stored[(a.recording_id, a.event, a.occurred_at)] == 1),
        lost=lost,
        duplicated=[key for key, n in stored.items() if n > 1],
        gaps=gaps,
    )
