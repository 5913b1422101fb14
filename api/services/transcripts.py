"""Transcripts: a call's words beside its media, and where card data was spoken in it.

A transcript arrives from telephony, a speech service or our own transcriber
(api/jobs/transcription.py) through ``record``; the Recording stores it as a new
version with card numbers masked and their spans recorded (domain/card_data.py).
Reading one is an access like playback: allowed by role and team, and recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from api.services.access import AccessControl
from domain.access_record import Outcome
from domain.commands import RecordTranscript
from domain.errors import NotFound
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal
from domain.recording import Recording, utterances_of
from domain.transcript import Span, Utterance


@dataclass(frozen=True)
class Stored:
    applied: bool  # False: the same transcript was already the current version
    version: int
    card_spans: tuple[Span, ...]  # every span where card data was found, this version's and earlier


@dataclass(frozen=True)
class Transcript:
    version: int
    versions: int  # how many were recorded (the latest supersedes the others)
    source: str
    recorded_at: datetime
    utterances: list[Utterance]
    card_spans: tuple[Span, ...]


def card_spans_of(recording: Recording) -> tuple[Span, ...]:
    return tuple(Span(start, end) for start, end in sorted(recording.card_spans))


class Transcripts:
    def __init__(self, ledger: RecordingLedger, access: AccessControl) -> None:
        self._ledger = ledger
        self._access = access

    def record(self, principal: Principal, transcript: RecordTranscript) -> Stored:
        self._access.allow_recording(principal, Action.TRANSCRIBE, transcript.recording_id)
        return self.record_trusted(transcript)

    def record_trusted(self, transcript: RecordTranscript) -> Stored:
        """For the server's own transcriber, which acts as the system on every recording."""
        applied = self._ledger.execute(transcript) is not False
        recording = self._ledger.get_recording(transcript.recording_id)
        return Stored(applied, recording.transcript_version, card_spans_of(recording))

    def read(self, principal: Principal, recording_id: UUID, version: int | None = None) -> Transcript:
        """The latest version (or the one asked for), its texts opened for the reader; the read is recorded."""
        self._access.allow_recording(principal, Action.READ_TRANSCRIPT, recording_id)
        history = self._ledger.history(recording_id)
        versions = [e for e in history.events if isinstance(e, Recording.TranscriptRecorded)]
        if not versions:
            raise NotFound(f"recording {recording_id} has no transcript")
        chosen = versions[-1] if version is None else next((e for e in versions if e.version == version), None)
        if chosen is None:
            raise NotFound(f"recording {recording_id} has no transcript version {version}")
        detail = {"version": str(chosen.version)}
        self._access.record(principal, Action.READ_TRANSCRIPT, Outcome.ALLOWED, [recording_id], detail)
        return Transcript(
            version=chosen.version,
            versions=len(versions),
            source=chosen.source,
            recorded_at=chosen.occurred_at,
            utterances=utterances_of(chosen),
            card_spans=card_spans_of(history.recording),
        )
