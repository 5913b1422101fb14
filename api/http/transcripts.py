"""Transcripts over HTTP: telephony (or a speech service) puts one, reviewers read it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import Meta

from api.http.context import Caller, provide
from api.http.guards import may
from api.http.schemas import Body, LongText, Text
from api.services.access import actor
from api.services.transcripts import Transcripts
from domain.commands import RecordTranscript
from domain.permissions import Action
from domain.transcript import MAX_UTTERANCES, Utterance, Word

Offset = Annotated[int, Meta(ge=0, le=7 * 24 * 3600 * 1000)]  # ms on the call's clock, a week at most


class WordIn(Body, kw_only=True):
    text: Annotated[str, Meta(min_length=1, max_length=256, pattern=r"^\S+$")]
    start_ms: Offset
    end_ms: Offset


class UtteranceIn(Body, kw_only=True):
    speaker: Literal["agent", "customer", "unknown"]
    start_ms: Offset
    end_ms: Offset
    text: LongText
    words: Annotated[list[WordIn], Meta(max_length=1024)] = []


class TranscriptIn(Body, kw_only=True):
    source: Text  # "telephony", the speech service's name and model
    utterances: Annotated[list[UtteranceIn], Meta(max_length=MAX_UTTERANCES)]
    produced_at: datetime | None = None  # default: when the server is told


class SpanOut(msgspec.Struct):
    start_ms: int
    end_ms: int


class TranscriptStored(msgspec.Struct):
    applied: bool
    version: int
    card_spans: list[SpanOut]


class WordOut(msgspec.Struct):
    text: str
    start_ms: int
    end_ms: int


class UtteranceOut(msgspec.Struct):
    speaker: str
    start_ms: int
    end_ms: int
    text: str
    words: list[WordOut]


class TranscriptOut(msgspec.Struct):
    version: int
    versions: int
    source: str
    recorded_at: datetime
    utterances: list[UtteranceOut]
    card_spans: list[SpanOut]


class TranscriptRoutes(Controller):
    path = "/v1/recordings/{recording_id:uuid}/transcript"
    tags = ["quality"]
    dependencies = provide("transcripts")

    @put(
        "/",
        guards=[may(Action.TRANSCRIBE)],
        status_code=200,
        sync_to_thread=True,
        summary="Store a new version of the call's transcript (card numbers in it are masked, their spans recorded)",
    )
    def put_transcript(
        self,
        recording_id: FromPath[UUID],
        data: JSONBody[TranscriptIn],
        principal: Caller,
        transcripts: NamedDependency[Transcripts],
    ) -> TranscriptStored:
        utterances = tuple(
            Utterance(
                u.speaker, u.start_ms, u.end_ms, u.text, tuple(Word(w.text, w.start_ms, w.end_ms) for w in u.words)
            )
            for u in data.utterances
        )
        command = RecordTranscript(
            recording_id,
            source=data.source,
            utterances=utterances,
            occurred_at=data.produced_at or datetime.now(UTC),
            by=actor(principal),
        )
        stored = transcripts.record(principal, command)
        return TranscriptStored(
            stored.applied, stored.version, [SpanOut(s.start_ms, s.end_ms) for s in stored.card_spans]
        )

    @get(
        "/",
        guards=[may(Action.READ_TRANSCRIPT)],
        sync_to_thread=True,
        summary="The latest transcript (or ?version=N) and the spans where card data was spoken; the read is recorded",
    )
    def get_transcript(
        self,
        recording_id: FromPath[UUID],
        principal: Caller,
        transcripts: NamedDependency[Transcripts],
        version: Annotated[int | None, QueryParameter(ge=1)] = None,
    ) -> TranscriptOut:
        transcript = transcripts.read(principal, recording_id, version)
        return TranscriptOut(
            transcript.version,
            transcript.versions,
            transcript.source,
            transcript.recorded_at,
            [
                UtteranceOut(
                    u.speaker, u.start_ms, u.end_ms, u.text, [WordOut(w.text, w.start_ms, w.end_ms) for w in u.words]
                )
                for u in transcript.utterances
            ],
            [SpanOut(s.start_ms, s.end_ms) for s in transcript.card_spans],
        )
