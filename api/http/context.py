"""Per request: a request id, the caller resolved from its bearer token (or the console's
session cookie), one log line.

Resolved here, in the request's own context, so that the request id and actor
are bound for every log line the request causes, in any worker thread.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import anyio.to_thread
import structlog
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send

from api.http.problems import PROBLEM
from api.services.freshness import client_position
from api.services.identity import Identity
from domain.permissions import Principal

log = structlog.get_logger("callvault.http")

# The handler parameter that Litestar fills with the authenticated caller.
Caller = NamedDependency[Principal]


def provide(*services: str) -> dict[str, Provide]:
    """The application services a controller's handlers ask for, by parameter name, from the
    composition root's ``Components``.

    Declared per controller, not app-wide: Litestar reports an invalid body field whose name
    is also a dependency's as a server error (500), so ``PolicyIn.retention`` must not meet a
    ``retention`` dependency on the same route.
    """

    def provider(service: str) -> Provide:
        def dependency(state: State) -> Any:
            return getattr(state.components, service)

        return Provide(dependency, sync_to_thread=False)

    return {service: provider(service) for service in services}


PRINCIPAL = "principal"
SESSION = "console_session"
SESSION_COOKIE = "callvault_session"
LOG_POSITION = "callvault-log-position"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


METRICS_PATH = "/metrics"


def request_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b""):
            # No store can keep NUL; refuse it before it reaches a query.
            await _refuse(send, 422, "query parameters must not contain NUL characters")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or str(uuid.uuid4())
        seen = headers.get(LOG_POSITION, "0")
        if not seen.isdigit() or len(seen) > 18:
            await _refuse(send, 400, f"the {LOG_POSITION} header must be a log position a write answered with")
            return
        client_position.set(int(seen))
        writing = scope["method"] in WRITE_METHODS
        # /metrics takes its own token (api/http/metrics.py), never a user's: no directory look-up.
        principal = (
            None if scope["path"] == METRICS_PATH else await _authenticate(scope, headers.get("authorization", ""))
        )
        cookies = headers.get("cookie", "")
        if principal is None and (session_id := _session_cookie(scope["path"], scope["method"], cookies)):
            principal = await _from_session(scope, session_id)
            scope.setdefault("state", {})[SESSION] = session_id if principal else None
        scope.setdefault("state", {})[PRINCIPAL] = principal
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                added = [(b"x-request-id", request_id.encode())]
                if writing and message["status"] < 400:
                    # Where the log stood after this write: a read naming it shows the write, on any server.
                    position = scope["app"].state.components.ledger.logged_up_to()
                    added.append((LOG_POSITION.encode(), str(position).encode()))
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(
            request_id=request_id,
            actor=principal.name if principal else None,
            actor_role=principal.role.value if principal else None,
        ):
            try:
                await app(scope, receive, send_with_id)
            finally:
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status["code"],
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )

    return middleware


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "status": status, "title": "Invalid request", "detail": detail})
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", PROBLEM.encode())],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body.encode(), "more_body": False}
    await send(end)


async def _authenticate(scope: Scope, authorization: str) -> Principal | None:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    identity: Identity = scope["app"].state.components.identity
    # Most requests find their caller cached: answered here, without a hop to a worker thread.
    if (principal := identity.cached_principal(token.strip())) is not None:
        return principal
    return await anyio.to_thread.run_sync(identity.principal_for, token.strip())


def _session_cookie(path: str, method: str, cookies: str) -> str | None:
    """The console's session id, where a cookie may act for its user: every console page and
    form (which check the session's CSRF token) and the API's reads (the media a `<video>`
    fetches), never the API's writes, which only a bearer token may make."""
    if path.startswith("/v1/") and method not in ("GET", "HEAD"):
        return None
    for pair in cookies.split(";"):
        name, _, value = pair.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None


async def _from_session(scope: Scope, session_id: str) -> Principal | None:
    sessions = scope["app"].state.components.console_sessions
    principal: Principal | None = await anyio.to_thread.run_sync(sessions.principal_of, session_id)
    return principal


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The console session the request came with, if it is a live one."""
    session: str | None = connection.scope.get("state", {}).get(SESSION)
    return session


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The authenticated caller, or 401."""
    principal: Principal | None = connection.scope.get("state", {}).get(PRINCIPAL)
    if principal is None:
        raise NotAuthorizedException(
            "a valid bearer token is required", headers={"WWW-Authenticate": 'Bearer realm="callvault"'}
        )
    return principal
