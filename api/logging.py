"""structlog setup: JSON lines (or readable lines on a terminal) with request id and actor bound per request or command.

Libraries that log through the standard library (uvicorn, APScheduler,
eventsourcing) are rendered by the same processors, so every line of the
process is one line (JSON unless a person reads it) carrying the request's context.
"""

from __future__ import annotations

import logging
import sys

import structlog

from adapters.settings import Settings

# Libraries that say at INFO, line by line, what the service says once (migrations
# applied) or need not say at all (a scheduled job ran, every few seconds).
QUIETER = {"apscheduler": logging.WARNING, "yoyo": logging.WARNING}


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    # structlog's own convention: readable (and coloured) for a person at a terminal, JSON for
    # whatever collects the output otherwise; CALLVAULT_LOG_JSON=true/false forces either.
    terminal = sys.stderr.isatty()
    as_json = (not terminal) if settings.log_json is None else settings.log_json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=terminal)
    )
    context: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*context, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*context, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, quieter in QUIETER.items():
        logging.getLogger(name).setLevel(max(level, quieter))
