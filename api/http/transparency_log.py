"""The transparency log over HTTP: checkpoints, proofs, and court-ready exports."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from api.http.context import Caller, provide
from api.http.guards import may
from api.http.schemas import ConsistencyProof, ExportRequest, RecordingProofs
from api.services.exports import Exports
from api.services.transparency import TransparencyLog
from domain.permissions import Action

MAX_TREE_SIZE = 2**63 - 1  # what a 64-bit database integer holds
Size = Annotated[int | None, QueryParameter(ge=0, le=MAX_TREE_SIZE)]
NOTE = "text/plain; charset=utf-8"


@get(
    "/v1/log/public-key",
    tags=["log"],
    summary="The verifier key of the log's checkpoint signatures",
    dependencies=provide("transparency"),
)
async def public_key(transparency: NamedDependency[TransparencyLog]) -> Response[str]:
    return Response(transparency.public_key + "\n", media_type=NOTE)


class TransparencyLogRoutes(Controller):
    path = "/v1/log"
    tags = ["log"]
    guards = [may(Action.LOG_READ)]
    dependencies = provide("exports", "transparency")

    @get("/checkpoint", sync_to_thread=True, summary="The latest signed checkpoint (C2SP signed note)")
    def latest(self, transparency: NamedDependency[TransparencyLog]) -> Response[bytes]:
        return Response(transparency.checkpoint()[1], media_type=NOTE)

    @get("/checkpoints/{size:int}", sync_to_thread=True, summary="The signed checkpoint of a tree size")
    def by_size(
        self,
        size: Annotated[int, PathParameter(ge=0, le=MAX_TREE_SIZE)],
        transparency: NamedDependency[TransparencyLog],
    ) -> Response[bytes]:
        return Response(transparency.checkpoint(size)[1], media_type=NOTE)

    @get(
        "/proofs/recordings/{recording_id:uuid}",
        sync_to_thread=True,
        summary="Inclusion proofs of every event of a recording against a signed checkpoint",
    )
    def inclusion(
        self, recording_id: FromPath[UUID], principal: Caller, exports: NamedDependency[Exports], size: Size = None
    ) -> RecordingProofs:
        tree_size, note, proofs = exports.proofs(principal, recording_id, size)
        return RecordingProofs(tree_size=tree_size, checkpoint=note.decode(), events=[p.as_json() for p in proofs])

    @get("/proofs/consistency", sync_to_thread=True, summary="Proof that a later tree extends an earlier one")
    def consistency(
        self,
        transparency: NamedDependency[TransparencyLog],
        old_size: Annotated[int, QueryParameter(name="from", ge=0, le=MAX_TREE_SIZE)],
        new_size: Annotated[int, QueryParameter(name="to", ge=0, le=MAX_TREE_SIZE)],
    ) -> ConsistencyProof:
        proof = transparency.consistency(old_size, new_size)
        return ConsistencyProof(old_size=old_size, new_size=new_size, proof=[h.hex() for h in proof])


@post(
    "/v1/recordings/{recording_id:uuid}/exports",
    tags=["log"],
    status_code=201,
    guards=[may(Action.EXPORT)],
    dependencies=provide("exports"),
    sync_to_thread=True,
    summary="A court-ready bundle of one recording (zip), verifiable offline; recorded as Exported",
)
def export(
    recording_id: FromPath[UUID], data: JSONBody[ExportRequest], principal: Caller, exports: NamedDependency[Exports]
) -> Response[bytes]:
    bundle = exports.export(principal, recording_id, reason=data.reason)
    return Response(
        bundle,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="recording-{recording_id}.zip"'},
    )
