"""Several real ``callvault serve`` processes on one store, and what their logs say they did."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from adapters.settings import Settings
from tests.support.ports import free_port
from tests.support.service import Service


def start_nodes(settings: Settings, workdir: Path, count: int, *, first: int = 0) -> list[Service]:
    """``count`` servers on one store, each on its own port and with its own log file
    (``node-<first>``, ``node-<first + 1>`` …).

    Started one after another: the first migrates the store, the others find it migrated.
    """
    nodes = []
    for n in range(first, first + count):
        directory = workdir / f"node-{n}"
        directory.mkdir()
        node = Service(msgspec.structs.replace(settings, port=free_port()), directory)
        node.start()
        nodes.append(node)
    return nodes


def kill_node(node: Service) -> None:
    """As if its machine died: the server and its views worker killed at once, no shutdown code run."""
    worker = node.views_worker_pid()
    if worker is not None:
        os.kill(worker, signal.SIGKILL)
    node.kill()


def log_lines(node: Service) -> list[dict[str, Any]]:
    """The node's JSON log lines (the server's and its views worker's)."""
    lines = []
    for line in node.log_text().splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by SIGKILL
    return lines


def logged(node: Service, event: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(node) if line.get("event") == event]


def job_runs(nodes: list[Service]) -> Counter[tuple[str, str]]:
    """How many times each (job, due time) ran, over every node's log."""
    return Counter((line["job"], line["due_at"]) for node in nodes for line in logged(node, "scheduled job ran"))


def logged_at(line: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(line["timestamp"])


class FailoverTransport(httpx.HTTPTransport):
    """A client's way to a cluster (what a load balancer does): the server it used until that
    one stopped answering, then the next."""

    def __init__(self, base_urls: list[str]) -> None:
        super().__init__()
        self._bases = [httpx.URL(url) for url in base_urls]
        self.current = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(len(self._bases)):
            base = self._bases[self.current]
            request.url = request.url.copy_with(host=base.host, port=base.port)
            try:
                return super().handle_request(request)
            except httpx.ConnectError:
                self.current = (self.current + 1) % len(self._bases)
        raise httpx.ConnectError("no server of the cluster answers", request=request)
