"""A real ``callvault serve`` in a subprocess, configured only through CALLVAULT_* variables."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import structlog

from adapters.settings import PREFIX, Settings
from adapters.view_store import VIEW_TABLES

log = structlog.get_logger(__name__)
CALLVAULT = str(Path(sys.executable).with_name("callvault"))
START_SECONDS = 60.0


# Every scenario's figures in this test session, printed at its end (tests/faults/conftest.py).
REPORTED: list[tuple[str, dict[str, Any]]] = []


def report(directory: Path, name: str, figures: dict[str, Any]) -> None:
    """A scenario's figures: logged, kept as JSON in the test's directory, and summed up at the end."""
    (directory / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str))
    log.info("fault figures", scenario=name, **figures)
    test = os.environ.get("PYTEST_CURRENT_TEST", name).split(" ")[0].rsplit("::", 1)[-1]
    REPORTED.append((test, figures))


def service_env(settings: Settings) -> dict[str, str]:
    """This process's environment without its CALLVAULT_* variables, plus every setting spelled out."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(PREFIX)}
    for field in Settings.__struct_fields__:
        value = getattr(settings, field)
        if value is not None:
            env[PREFIX + field.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def run_cli(settings: Settings, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CALLVAULT, *args], env=service_env(settings), capture_output=True, text=True, timeout=timeout, check=True
    )


class Service:
    """One server process at a time on a fixed port; its output (and its views worker's) in one file."""

    def __init__(self, settings: Settings, workdir: Path, *options: str) -> None:
        self.settings = settings
        self.options = options  # of `callvault serve`
        self.workdir = workdir
        self.log_path = workdir / "server.log"
        self.base_url = f"http://{settings.host}:{settings.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [CALLVAULT, "serve", *self.options],
                env=service_env(self.settings),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited: {self.log_tail()}"
            try:
                if httpx.get(self.base_url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.log_tail()}")

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def views_worker_pid(self) -> int | None:
        """The server's child that folds the views."""
        assert self.process is not None
        children = spawned_children(self.process.pid)
        return children[0] if children else None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_views_caught_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(self.base_url + "/ready", timeout=5)
                if ready.status_code == 200 and not any(ready.json()["views"].values()):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"views did not catch up in {timeout} s: {self.log_tail()}")


def spawned_children(pid: int) -> list[int]:
    """A process's children started by multiprocessing (its spawn entry point): a server's views
    worker, or the workers of `callvault serve --workers N`."""
    # Listed under the thread that started the child (the server's scheduler or its start-up).
    tasks = Path(f"/proc/{pid}/task")
    children = [int(child) for task in tasks.iterdir() for child in _read(task / "children").split()]
    spawned = []
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                spawned.append(child)
        except FileNotFoundError:
            continue
    return spawned


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:  # that thread ended meanwhile
        return ""


@contextmanager
def running(settings: Settings, workdir: Path) -> Iterator[Service]:
    service = Service(settings, workdir)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def view_rows(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every view table, in a stable order (to compare views with a rebuild)."""
    tables = [table for names in VIEW_TABLES.values() for table in names]
    if settings.uses_postgres:
        assert settings.database_url is not None
        with psycopg.connect(settings.database_url) as conn:
            return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}").fetchall()), key=repr) for t in tables}
    with closing(sqlite3.connect(settings.sqlite_file)) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
