"""Playback over HTTP: opening a viewing (its Played event and grant) and the media its grant serves.

The media routes need both the grant in the URL and the grant's own user signed in
(a bearer token, or the console's session cookie): a `<video>` sends the cookie, a
copied URL works for nobody else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from api.http.byte_ranges import RangeResponse, serve
from api.http.context import Caller, provide
from api.http.guards import may
from api.http.schemas import Body, PathId
from api.services.playback import Playback
from domain.permissions import Action

GrantToken = Annotated[str, QueryParameter(name="grant", min_length=1, max_length=2048)]
Part = Annotated[str, msgspec.Meta(pattern="^(audio|screen)$")]


class ViewingIn(Body, kw_only=True):
    reason_code: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    parts: Annotated[list[Part], msgspec.Meta(max_length=2)] = []  # default: every part the recording has
    unredacted: bool = False  # hear and see where card data was spoken (legal only; recorded as such)


class ViewingOut(msgspec.Struct):
    viewing_id: UUID
    parts: list[str]
    grant: str
    expires_at: datetime
    playable_url: str
    peaks_url: str | None


def media_urls(recording_id: UUID, grant: str) -> tuple[str, str]:
    base = f"/v1/recordings/{recording_id}"
    return f"{base}/playable?grant={grant}", f"{base}/peaks?grant={grant}"


class PlaybackRoutes(Controller):
    path = "/v1/recordings/{recording_id:uuid}"
    tags = ["playback"]
    dependencies = provide("playback")

    @post(
        "/viewings",
        guards=[may(Action.PLAY)],
        status_code=201,
        sync_to_thread=True,
        summary="Open the player: records one Played event with its reason, and grants the media for this viewing",
    )
    def open_viewing(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[ViewingIn],
        principal: Caller,
        playback: NamedDependency[Playback],
    ) -> ViewingOut:
        viewing = playback.open_viewing(
            principal, recording_id, data.reason_code, data.parts, unredacted=data.unredacted
        )
        playable, peaks = media_urls(recording_id, viewing.grant)
        return ViewingOut(
            viewing.viewing_id,
            list(viewing.parts),
            viewing.grant,
            viewing.expires_at,
            playable,
            peaks if "audio" in viewing.parts else None,
        )

    @get(
        "/playable",
        guards=[may(Action.PLAY)],
        media_type="video/mp4",
        sync_to_thread=True,
        summary="The recording as one MP4 on the call's clock (screen and voice), by byte ranges; needs a grant",
    )
    def playable(
        self,
        request: Request[Any, Any, Any],
        recording_id: FromPath[UUID],
        grant: GrantToken,
        principal: Caller,
        playback: NamedDependency[Playback],
    ) -> RangeResponse:
        media = playback.playable(principal, recording_id, grant)
        return serve(media, request.headers.get("range"), request.headers.get("if-range"))

    @get(
        "/peaks",
        guards=[may(Action.PLAY)],
        sync_to_thread=True,
        summary="The voice's waveform peaks (JSON), so the browser never decodes the audio itself; needs a grant",
    )
    def peaks(
        self, recording_id: FromPath[UUID], grant: GrantToken, principal: Caller, playback: NamedDependency[Playback]
    ) -> Response[bytes]:
        data = playback.peaks(principal, recording_id, grant)
        return Response(data, media_type="application/json", headers={"Cache-Control": "private, no-cache"})

    @get(
        "/snapshots/{snapshot_id:str}/image",
        guards=[may(Action.PLAY)],
        media_type="image/jpeg",
        sync_to_thread=True,
        summary="A snapshot's image (JPEG), by byte ranges; needs a grant",
    )
    def snapshot(
        self,
        request: Request[Any, Any, Any],
        recording_id: FromPath[UUID],
        snapshot_id: PathId,
        grant: GrantToken,
        principal: Caller,
        playback: NamedDependency[Playback],
    ) -> RangeResponse:
        media = playback.snapshot(principal, recording_id, snapshot_id, grant)
        return serve(media, request.headers.get("range"), request.headers.get("if-range"))
