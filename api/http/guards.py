"""Role checks declared on the routes: ``guards=[may(Action.X)]``.

Separation of duties lives in the domain's table of who may do what
(domain/permissions.py); a guard applies it before the handler runs and records a
refusal in the audit trail, as every refused access is evidence. The per-recording
scope (the team hierarchy) is the application services' part (api/services/access.py).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from api.http.context import principal_of
from domain.access_record import Outcome
from domain.errors import Forbidden
from domain.permissions import ALLOWED, Action, require


def may(*actions: Action) -> Guard:
    """The caller's role may do at least one of ``actions`` (a batch may hold several kinds)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = principal_of(connection)  # 401 without a valid token
        if any(principal.role in ALLOWED[action] for action in actions):
            return
        try:
            require(principal, actions[0])
        except Forbidden as refusal:
            recording = connection.path_params.get("recording_id")
            detail = {**dict(connection.query_params), "why": str(refusal)}
            access = connection.app.state.components.access
            await anyio.to_thread.run_sync(
                lambda: access.record(
                    principal, actions[0], Outcome.REFUSED, [recording] if recording else [], detail, "refused"
                )
            )
            raise

    return guard
