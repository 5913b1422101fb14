"""Legal holds on queries, subject erasure and the retention run over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import JSONBody

from api.http.context import Caller, Services
from api.http.problems import problem
from api.http.schemas import Body, Id, PathId, RequiredReason, TagKey, TagValue, Text
from api.services.access import actor, allow, record
from api.services.retention import RetentionRun, run_retention
from domain.access_record import Outcome
from domain.permissions import Action
from domain.query_hold import HoldCriteria
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


class QueryHoldOut(msgspec.Struct):
    case_id: str
    criteria: HoldCriteria  # the customer and a tag's value appear only as their blind indexes


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

    @post("/", status_code=201, sync_to_thread=True, summary="Hold every recording matching a query (legal)")
    def place(self, data: JSONBody[QueryHoldIn], principal: Caller, runtime: Services) -> QueryHoldOut:
        allow(runtime, principal, Action.HOLD)
        fields = msgspec.structs.asdict(data)
        customer, tag_value = fields.pop("customer_id"), fields.pop("tag_value")
        case_id, reason = fields.pop("case_id"), fields.pop("reason")
        criteria = HoldCriteria(
            customer_ref=runtime.ledger.customer_ref_of(customer) if customer else None,
            # A value without a key is indexed under "" and then refused for want of the key.
            tag_ref=runtime.ledger.tag_ref(fields["tag_key"] or "", tag_value) if tag_value is not None else None,
            **fields,
        )
        runtime.ledger.place_query_hold(
            case_id=case_id, reason=reason, criteria=criteria, occurred_at=datetime.now(UTC), by=actor(principal)
        )
        return QueryHoldOut(case_id, criteria)

    @get("/", sync_to_thread=True, summary="Query holds in force")
    def active(self, principal: Caller, runtime: Services) -> list[QueryHoldOut]:
        allow(runtime, principal, Action.AUDIT_READ)
        holds = runtime.ledger.query_holds()
        record(runtime, principal, Action.AUDIT_READ, Outcome.ALLOWED, [], {"what": "query holds"})
        return [QueryHoldOut(c, k) for c, k in sorted(holds.active.items())] if holds else []

    @post("/{case_id:str}/release", status_code=200, sync_to_thread=True, summary="Release a query hold (legal)")
    def release(self, case_id: PathId, data: JSONBody[Release], principal: Caller, runtime: Services) -> None:
        allow(runtime, principal, Action.HOLD)
        runtime.ledger.release_query_hold(
            case_id=case_id, reason=data.reason, occurred_at=datetime.now(UTC), by=actor(principal)
        )


class Retention(Controller):
    path = "/v1"
    tags = ["retention"]

    @post(
        "/erasures",
        status_code=200,
        sync_to_thread=True,
        summary="Erase a data subject (GDPR Art. 17): all their recordings and key, or 409 with reasons",
    )
    def erase(self, data: JSONBody[ErasureIn], principal: Caller, runtime: Services) -> Response[Erased]:
        allow(runtime, principal, Action.ERASE)
        ref = runtime.ledger.customer_ref_of(data.customer_id)
        try:
            erased = runtime.ledger.erase_subject(
                data.customer_id,
                runtime.keys.recordings_of_customer(ref),
                now=datetime.now(UTC),
                reason=f"erasure {data.request_id}: {data.reason}",
                by=actor(principal),
                storage=runtime.media,
            )
        except ErasureRefused as refused:
            record(
                runtime,
                principal,
                Action.ERASE,
                Outcome.REFUSED,
                list(refused.reasons),
                {"request_id": data.request_id, "why": str(refused)},
                "refused",
            )
            return problem(
                409,
                "Erasure refused",
                str(refused),
                error="ErasureRefused",
                refusals={str(r): why for r, why in refused.reasons.items()},
            )  # type: ignore[return-value]
        record(runtime, principal, Action.ERASE, Outcome.ALLOWED, erased, {"request_id": data.request_id})
        return Response(Erased(data.request_id, erased))

    @post(
        "/retention/run",
        status_code=200,
        sync_to_thread=True,
        summary="Archive and purge what the policy says is due now (admin; also a scheduled job)",
    )
    def run(self, principal: Caller, runtime: Services) -> RetentionRun:
        allow(runtime, principal, Action.RETENTION_RUN)
        return run_retention(runtime, datetime.now(UTC), by=actor(principal))
