"""Every log line is one JSON object (readable text when a person reads stderr); a request's lines carry
its request id and actor."""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import select
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog

from adapters.settings import Settings
from api.logging import configure_logging


@pytest.fixture
def logging_restored_afterwards() -> Iterator[None]:
    """configure_logging binds this test's captured stderr, which closes when the test ends."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


@pytest.mark.usefixtures("logging_restored_afterwards")
def test_service_and_library_lines_are_json_with_the_request_context(capfd) -> None:
    configure_logging(Settings(log_level="INFO", log_json=True))
    structlog.contextvars.bind_contextvars(request_id="req-1", actor="sue")
    try:
        structlog.get_logger("api").info("search", hits=3)
        logging.getLogger("uvicorn.error").warning("from a library: %s", "worker")
        logging.getLogger("apscheduler.executors.default").info("job executed successfully")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [(line["event"], line["level"], line["request_id"], line["actor"]) for line in lines] == [
        ("search", "info", "req-1", "sue"),
        ("from a library: worker", "warning", "req-1", "sue"),
    ]
    assert lines[0]["hits"] == 3 and lines[1]["logger"] == "uvicorn.error"
    assert all(line["timestamp"].endswith("Z") for line in lines)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@contextmanager
def stderr_on_a_terminal() -> Iterator[int]:
    """sys.stderr on a real pseudo-terminal for the block; yields the terminal's reading end.

    Entered in the test itself: pytest sets sys.stderr anew (its capture) when the test starts.
    """
    reader, writer = pty.openpty()
    original = sys.stderr
    with open(writer, "w", buffering=1, encoding="utf-8") as stream:
        sys.stderr = stream
        try:
            yield reader
        finally:
            sys.stderr = original
            os.close(reader)


def log_two_lines() -> None:
    structlog.get_logger("api").info("search", hits=3)
    logging.getLogger("uvicorn.error").warning("from a library: %s", "worker")


def read_terminal(reader: int, lines: int = 2) -> str:
    """The first ``lines`` lines the terminal shows (the kernel hands them over a moment after the
    write, and turns each newline into CR LF)."""
    shown = b""
    while shown.count(b"\n") < lines and select.select([reader], [], [], 5)[0]:
        shown += os.read(reader, 65536)
    return shown.decode().replace("\r\n", "\n")


def assert_readable(text: str) -> None:
    lines = ANSI.sub("", text).splitlines()
    assert len(lines) == 2, text
    for line in lines:
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
    assert "search" in lines[0] and "hits=3" in lines[0] and "info" in lines[0]
    assert "from a library: worker" in lines[1] and "warning" in lines[1] and "uvicorn.error" in lines[1]


@pytest.mark.usefixtures("logging_restored_afterwards")
def test_unset_on_a_terminal_logs_readable_coloured_lines() -> None:
    with stderr_on_a_terminal() as terminal:
        configure_logging(Settings(log_level="INFO"))
        log_two_lines()
        text = read_terminal(terminal)

    assert_readable(text)
    assert ANSI.search(text), "a terminal gets colours"


@pytest.mark.usefixtures("logging_restored_afterwards")
def test_unset_when_not_a_terminal_logs_json_lines(capfd: pytest.CaptureFixture[str]) -> None:
    assert not sys.stderr.isatty()
    configure_logging(Settings(log_level="INFO"))
    log_two_lines()

    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [(line["event"], line["level"]) for line in lines] == [
        ("search", "info"),
        ("from a library: worker", "warning"),
    ]


@pytest.mark.usefixtures("logging_restored_afterwards")
def test_log_json_true_forces_json_on_a_terminal() -> None:
    with stderr_on_a_terminal() as terminal:
        configure_logging(Settings(log_level="INFO", log_json=True))
        log_two_lines()
        text = read_terminal(terminal)

    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["event"] for line in lines] == ["search", "from a library: worker"]


@pytest.mark.usefixtures("logging_restored_afterwards")
def test_log_json_false_forces_readable_lines_without_colours_into_a_file(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_level="INFO", log_json=False))
    log_two_lines()
    text = capfd.readouterr().err

    assert_readable(text)
    assert not ANSI.search(text), "no escape codes in a file"


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("true", True), ("false", False)])
def test_the_setting_is_unset_unless_the_environment_says(value: str | None, expected: bool | None) -> None:
    environ = {} if value is None else {"CALLVAULT_LOG_JSON": value}

    assert Settings.from_env(environ).log_json is expected
