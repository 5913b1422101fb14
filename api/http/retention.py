"""Legal holds on queries, subject erasure and the retention run over HTTP."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.http.context import Caller, provide
from api.http.guards import may
from api.http.problems import problem
from api.http.schemas import Body, Id, PathId, RequiredReason, TagKey, TagValue, Text
from api.services.retention import QueryHold, Retention, RetentionRun
from domain.permissions import Action
from domain.retention import ErasureRefused


class QueryHoldIn(Body, kw_only=True):
    """Every given criterion must match; it also covers recordings made after the hold."""

    case_id: Id  # released by its path
    reason: RequiredReason
    customer_id: Text | None = None
    agent_id: Text | None = None
    queue: Text | None = None
    tag_key: TagKey | None = None
    tag_value: TagValue | None = None
    started_from: datetime | None = None
    started_until: datetime | None = None


class Release(Body, kw_only=True):
    reason: RequiredReason


class ErasureIn(Body, kw_only=True):
    customer_id: Text
    request_id: Text  # the data subject's request, as the DPO files it
    reason: RequiredReason


class Erased(msgspec.Struct):
    request_id: str
    recordings: list[UUID]


class LegalHolds(Controller):
    path = "/v1/holds"
    tags = ["retention"]
    dependencies = provide("retention")

    @post(
        "/",
        guards=[may(Action.HOLD)],
        status_code=201,
        sync_to_thread=True,
        summary="Hold every recording matching a query (legal)",
    )
    def place(self, data: JSONBody[QueryHoldIn], principal: Caller, retention: NamedDependency[Retention]) -> QueryHold:
        return retention.place_query_hold(principal, **msgspec.structs.asdict(data))

    @get("/", guards=[may(Action.AUDIT_READ)], sync_to_thread=True, summary="Query holds in force")
    def active(self, principal: Caller, retention: NamedDependency[Retention]) -> list[QueryHold]:
        return retention.query_holds(principal)

    @post(
        "/{case_id:str}/release",
        guards=[may(Action.HOLD)],
        status_code=200,
        sync_to_thread=True,
        summary="Release a query hold (legal)",
    )
    def release(
        self, case_id: PathId, data: JSONBody[Release], principal: Caller, retention: NamedDependency[Retention]
    ) -> None:
        retention.release_query_hold(principal, case_id=case_id, reason=data.reason)


class RetentionRoutes(Controller):
    path = "/v1"
    tags = ["retention"]
    dependencies = provide("retention")

    @post(
        "/erasures",
        guards=[may(Action.ERASE)],
        status_code=200,
        sync_to_thread=True,
        summary="Erase a data subject (GDPR Art. 17): all their recordings and key, or 409 with reasons",
    )
    def erase(
        self, data: JSONBody[ErasureIn], principal: Caller, retention: NamedDependency[Retention]
    ) -> Response[Erased]:
        try:
            erased = retention.erase_subject(
                principal, customer_id=data.customer_id, request_id=data.request_id, reason=data.reason
            )
        except ErasureRefused as refused:
            return problem(
                409,
                "Erasure refused",
                str(refused),
                error="ErasureRefused",
                refusals={str(r): why for r, why in refused.reasons.items()},
            )  # type: ignore[return-value]
        return Response(Erased(data.request_id, erased))

    @post(
        "/retention/run",
        guards=[may(Action.RETENTION_RUN)],
        status_code=200,
        sync_to_thread=True,
        summary="Archive and purge what the policy says is due now (admin; also a scheduled job)",
    )
    def run(self, principal: Caller, retention: NamedDependency[Retention]) -> RetentionRun:
        return retention.run_for(principal)
