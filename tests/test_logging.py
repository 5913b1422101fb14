"""Every log line is one JSON object; a request's lines carry its request id and actor."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

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
