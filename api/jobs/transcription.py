"""Transcribes new voice uploads with the server's own transcriber, as the system.

A process manager over the log: it reads the log from its own position (kept in the
views' tracking table under its name, so a restart resumes where it stopped), and for
each VoiceRecorded of a recording that has no transcript yet, transcribes the voice and
records the transcript through the same path telephony's take (card numbers masked,
their spans recorded). The position moves on only after the window's transcripts are
stored: a crash means the window is read again, and a recording transcribed meanwhile
is skipped (it has a transcript by then).
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import structlog

from adapters.media_vault import MediaVault
from adapters.speech import Transcriber
from adapters.view_store import ViewStore
from api.services.transcripts import Transcripts
from domain.commands import RecordTranscript
from domain.errors import DomainError
from domain.ledger import RecordingLedger
from domain.recording import Recording
from domain.values import Actor
from projections.follower import read_log

log = structlog.get_logger(__name__)

POSITION = "transcriber"  # its row in the tracking table
TRANSCRIBER = Actor("transcriber", "system")


class Transcription:
    def __init__(
        self,
        ledger: RecordingLedger,
        views: ViewStore,
        media: MediaVault,
        transcripts: Transcripts,
        transcriber: Transcriber,
        window: int = 5000,
    ) -> None:
        self._ledger = ledger
        self._views = views
        self._media = media
        self._transcripts = transcripts
        self._transcriber = transcriber
        self._window = window

    def run(self) -> int:
        """Transcribes the voices uploaded since the last run; the number of transcripts recorded."""
        recorded = 0
        while True:
            previous = self._views.position(POSITION)
            events = read_log(self._ledger, previous, self._window).events
            if not events:
                return recorded
            for logged in events:
                if logged.event_class is Recording.VoiceRecorded:
                    recorded += self._transcribe(logged.originator_id)
            self._views.commit(POSITION, previous, events[-1].notification_id)

    def _transcribe(self, recording_id: UUID) -> int:
        history = self._ledger.history(recording_id)
        recording = history.recording
        if recording.purged or recording.transcript_version:
            return 0
        [voice] = [e for e in history.events if isinstance(e, Recording.VoiceRecorded)]
        audio = self._media.get(recording_id, voice.media_key)  # a store outage stops the run: retried
        try:
            utterances = self._transcriber.transcribe(audio)
        except Exception:  # noqa: BLE001 — the engine failed on this voice (unreadable, or its own fault)
            # Logged, and the voices after it go on: one bad file must not hold up every other.
            log.exception("voice not transcribed", recording_id=str(recording_id))
            return 0
        command = RecordTranscript(
            recording_id,
            source=self._transcriber.name,
            utterances=tuple(utterances),
            occurred_at=datetime.now(UTC),
            by=TRANSCRIBER,
        )
        try:
            self._transcripts.record_trusted(command)
        except DomainError as refusal:  # purged meanwhile, say: nothing to transcribe any more
            log.warning("transcript not recorded", recording_id=str(recording_id), why=str(refusal))
            return 0
        log.info("voice transcribed", recording_id=str(recording_id), utterances=len(utterances))
        return 1
