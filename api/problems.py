"""Every error as RFC 9457 problem+json; domain errors mapped to HTTP in this one place."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from domain import errors

log = structlog.get_logger(__name__)
PROBLEM = "application/problem+json"

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


def domain_error(_: Request, error: errors.DomainError) -> Response[dict[str, Any]]:
    status, title = status_of(error)
    return problem(status, title, str(error), error=type(error).__name__)


def validation_error(_: Request, error: ValidationException) -> Response[dict[str, Any]]:
    # Malformed or out-of-range input: the same family as a domain InvalidCommand.
    return problem(422, "Invalid request", str(error.detail), errors=error.extra or [])


def http_error(_: Request, error: HTTPException) -> Response[dict[str, Any]]:
    response = problem(error.status_code, HTTPStatus(error.status_code).phrase, str(error.detail))
    response.headers.update(error.headers or {})
    return response


def unexpected_error(_: Request, error: Exception) -> Response[dict[str, Any]]:
    log.error("unhandled error", exc_info=error)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "Internal error", "the server failed; the request may be retried")


EXCEPTION_HANDLERS = {
    errors.DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
