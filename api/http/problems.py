"""Every error as RFC 9457 problem+json; domain errors mapped to HTTP in this one place."""

from __future__ import annotations

import traceback
from http import HTTPStatus
from typing import Any

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from adapters.media_store import StorageFull
from domain import errors

log = structlog.get_logger(__name__)
PROBLEM = "application/problem+json"
# What a client is told to wait after a database outage answer: about a restart's length.
RETRY_AFTER_SECONDS = 2

STATUS_OF: dict[type[errors.DomainError], tuple[int, str]] = {
    errors.InvalidCommand: (422, "Invalid request"),
    errors.StateConflict: (409, "Conflict with the recording's state"),
    errors.NotFound: (404, "Not found"),
    errors.Forbidden: (403, "Forbidden"),
}


def problem(status: int, title: str, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    body = {"type": "about:blank", "status": status, "title": title, "detail": detail, **extra}
    return Response(body, status_code=status, media_type=PROBLEM)


def status_of(error: errors.DomainError) -> tuple[int, str]:
    for family, status_and_title in STATUS_OF.items():
        if isinstance(error, family):
            return status_and_title
    return 422, "Refused"


def domain_error(_: Request[Any, Any, Any], error: errors.DomainError) -> Response[dict[str, Any]]:
    status, title = status_of(error)
    return problem(status, title, str(error), error=type(error).__name__)


def validation_error(_: Request[Any, Any, Any], error: ValidationException) -> Response[dict[str, Any]]:
    # Malformed or out-of-range input: the same family as a domain InvalidCommand.
    return problem(422, "Invalid request", str(error.detail), errors=error.extra or [])


def http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    response = problem(error.status_code, HTTPStatus(error.status_code).phrase, str(error.detail))
    response.headers.update(error.headers or {})
    return response


def storage_full(_: Request[Any, Any, Any], error: StorageFull) -> Response[dict[str, Any]]:
    # 507, and no Retry-After: space comes back when an operator makes room, not after a
    # time the server could promise. Nothing was stored, so the same upload may be retried.
    log.error("media store full", detail=str(error))
    return problem(
        507, "Insufficient Storage", f"{error}; nothing was stored, retry once space is freed", error="StorageFull"
    )


def nesting_error(request: Request[Any, Any, Any], error: RecursionError) -> Response[dict[str, Any]]:
    # msgspec refuses JSON nested deeper than it can decode by raising RecursionError,
    # which Litestar lets through. Raised by the body decoder it is the client's malformed
    # body; raised anywhere else it is a fault of the server.
    *_, (frame, _) = traceback.walk_tb(error.__traceback__)
    if frame.f_globals.get("__name__") == "litestar.serialization.msgspec_hooks":
        return problem(400, "Bad Request", "the JSON body is nested too deeply to decode")
    return unexpected_error(request, error)


def store_unavailable(_: Request[Any, Any, Any], error: OperationalError | InterfaceError) -> Response[dict[str, Any]]:
    # The database is down, restarting or saturated (the store's waits are bounded, so
    # this comes quickly): a transient state the client should wait out, not a fault.
    log.warning("database unavailable", error=str(error))
    response = problem(
        503,
        "Service Unavailable",
        f"the database is unavailable; retry the request after {RETRY_AFTER_SECONDS} s",
        error=type(error).__name__,
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def unexpected_error(_: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    log.error("unhandled error", exc_info=error)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "Internal error", "the server failed; the request may be retried")


EXCEPTION_HANDLERS = {
    errors.DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    OperationalError: store_unavailable,
    InterfaceError: store_unavailable,
    StorageFull: storage_full,
    RecursionError: nesting_error,
    Exception: unexpected_error,
}
