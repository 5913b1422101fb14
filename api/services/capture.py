"""What an agent's capture client is told to do: start, pause, resume, stop, take a snapshot.

On every (re)connect the stream first describes the present (start, then pause if paused,
or stop), then each change as it happens; the client treats repeats as no-ops, so a
dropped connection or a restarted client simply resynchronises.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from adapters.view_store import ViewStore
from api.services.access import AccessControl
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal
from domain.recording import Recording
from domain.values import RecordingStatus

# A call whose ACW ended this recently still gets its `stop` (for a client that was away).
STOP_WINDOW = timedelta(minutes=10)


def capture_state(recording: Recording) -> str:
    if recording.status in (RecordingStatus.COMPLETE, RecordingStatus.ARCHIVED, RecordingStatus.PURGED):
        return "stopped"
    return "paused" if recording.paused else "recording"


def transition(recording: Recording, was: str | None, now: str) -> list[tuple[str, datetime | None]]:
    """The commands that move a client from what it was told to what is true now."""
    last_pause = recording.pauses[-1] if recording.pauses else (None, None)
    if now == "stopped":
        return [] if was == "stopped" else [("stop", recording.acw_ended_at)]
    steps: list[tuple[str, datetime | None]] = []
    if was is None:
        steps.append(("start", recording.started_at))
        was = "recording"
    if was == "recording" and now == "paused":
        steps.append(("pause", last_pause[0]))
    elif was == "paused" and now == "recording":
        steps.append(("resume", last_pause[1]))
    return steps


class AgentCommands:
    """What one connection has told its client so far."""

    def __init__(self, ledger: RecordingLedger, views: ViewStore, agent: str) -> None:
        self._ledger = ledger
        self._views = views
        self.agent = agent
        self.told: dict[UUID, str] = {}
        self.snapshots_sent: set[str] = set()

    def changes(self) -> list[dict[str, Any]]:
        messages = []
        since = datetime.now(UTC) - STOP_WINDOW
        for row in self._views.capture_candidates(self.agent, since):
            recording = self._ledger.get_recording(row.recording_id)  # up to the log, whoever wrote it
            base = {"recording_id": str(recording.id), "interaction_id": recording.interaction_id}
            state = capture_state(recording)
            for command, at in transition(recording, self.told.get(recording.id), state):
                messages.append({**base, "command": command, "at": at.isoformat() if at else None})
            self.told[recording.id] = state
            if state == "recording":
                for snapshot_id, (taker, annotation, at) in recording.pending_snapshots().items():
                    if snapshot_id not in self.snapshots_sent:
                        self.snapshots_sent.add(snapshot_id)
                        messages.append(
                            {
                                **base,
                                "command": "snapshot",
                                "snapshot_id": snapshot_id,
                                "taker": taker,
                                "annotation": annotation,
                                "at": at.isoformat(),
                            }
                        )
        return messages


class CaptureCommands:
    def __init__(self, ledger: RecordingLedger, views: ViewStore, access: AccessControl) -> None:
        self._ledger = ledger
        self._views = views
        self._access = access

    def connect(self, principal: Principal) -> AgentCommands:
        """One connection's command stream, for the calling agent's own recordings."""
        self._access.allow(principal, Action.CAPTURE)
        return AgentCommands(self._ledger, self._views, principal.name)
