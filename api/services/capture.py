"""What an agent's capture client is told to do: start, pause, resume, stop, take a snapshot.

On a fresh connect the stream first describes the present (start, then pause if paused,
or stop), then each change as it happens; the client treats repeats as no-ops, so a
dropped connection or a restarted client simply resynchronises.

Every message carries a log position (its SSE id): the notification id of the event it
reflects, or the log's head when it describes the present. A client reconnecting with
the last position it saw, to any server, is sent what happened to its recordings after
it, event by event (a pause and resume while it was away arrive as pause, then resume).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.utils import get_topic

from adapters.event_codec import MsgspecMapper
from adapters.event_store import StoredRow, read_recording_rows
from adapters.view_store import ViewStore
from api.services.access import AccessControl
from api.services.capture_hub import COMMAND_EVENTS, CaptureHub
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal
from domain.recording import Recording
from domain.values import RecordingStatus

# A call whose ACW ended this recently still gets its `stop` (for a client that was away).
STOP_WINDOW = timedelta(minutes=10)
# What a stream reads of a recording's log: the commands' events, and the snapshots taken
# (a request already answered is not sent again to a client that missed it).
STREAM_TOPICS = tuple(sorted(get_topic(cls) for cls in (*COMMAND_EVENTS, Recording.SnapshotTaken)))


class Message(NamedTuple):
    position: int  # in the log: the SSE id the client sends back on reconnect
    data: dict[str, Any]


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
    """What one connection has told its client so far, and up to which log position."""

    def __init__(
        self, ledger: RecordingLedger, views: ViewStore, agent: str, started: Callable[[], list[UUID]] = list
    ) -> None:
        self._ledger = ledger
        self._views = views
        self.agent = agent
        self._started = started  # the agent's recordings just started, which the view may not show yet
        self.told: dict[UUID, str] = {}
        self.snapshots_sent: set[str] = set()
        self._interactions: dict[UUID, str] = {}
        self.position = 0  # every event of the recordings told about, up to here, is reflected
        self._since = 0  # where the client's knowledge starts: the position it reconnected with
        self._knew = False  # False: the client knew nothing there (a fresh connection)

    def changes(self) -> list[dict[str, Any]]:
        """What moves the client from what it was told to the truth, for every candidate recording."""
        return self._present(self._candidates())

    def begin(self, last_event_id: str | None) -> list[Message]:
        """The first messages of a connection: what was missed after the client's last
        position if it sent one, else the present."""
        head = self._ledger.recorder.max_notification_id() or 0
        after = _position(last_event_id)
        if after is None:
            self._since = self.position = head
            return [Message(head, data) for data in self.changes()]
        self._since = self.position = min(after, head)
        self._knew = True
        return self._read(self._candidates(), head)

    def follow(self, recordings: Iterable[UUID], upto: int) -> list[Message]:
        """The commands of these recordings' events up to ``upto`` that the client was not sent."""
        return self._read(recordings, upto)

    def resync(self) -> list[Message]:
        """What the events missed (a recording shown late by the view), then any drift from the truth."""
        candidates = self._candidates()
        messages = self._read([c for c in candidates if c not in self.told], self.position)
        return messages + [Message(self.position, data) for data in self._present(candidates)]

    def _candidates(self) -> list[UUID]:
        """The agent's screen recordings that are live or just ended, by the view and by the hub."""
        shown = self._views.capture_candidates(self.agent, datetime.now(UTC) - STOP_WINDOW)
        return list(dict.fromkeys([*(row.recording_id for row in shown), *self._started()]))

    def _present(self, recordings: list[UUID]) -> list[dict[str, Any]]:
        messages = []
        since = datetime.now(UTC) - STOP_WINDOW
        for recording_id in recordings:
            recording = self._ledger.get_recording(recording_id)  # up to the log, whoever wrote it
            if recording.acw_ended_at is None or recording.acw_ended_at >= since:
                messages.extend(self._describe(recording))
        return messages

    def _read(self, recordings: Iterable[UUID], upto: int) -> list[Message]:
        """The commands of these recordings' events up to ``upto``: past this connection's
        position for those its client was told about; for another, past where the client's
        knowledge starts (or, on a fresh connection, its present if it started before)."""
        rows: list[StoredRow] = []
        described: list[Message] = []
        for recording_id in recordings:
            if recording_id in self.told:
                if upto > self.position:
                    rows += read_recording_rows(self._ledger, recording_id, self.position, upto, STREAM_TOPICS)
                continue
            events = read_recording_rows(self._ledger, recording_id, self._since, upto, STREAM_TOPICS)
            if events and events[0][2] == 1:
                pass  # it started since: its start is among the events
            elif not self._knew:
                recording = self._ledger.get_recording(recording_id)
                described += [Message(max(upto, self.position), data) for data in self._describe(recording)]
                continue
            elif events:  # the client knew it as it stood before these events
                self._known(self._ledger.history(recording_id, version=events[0][2] - 1).recording)
            else:
                self._known(self._ledger.get_recording(recording_id))
            rows += events
        self.position = max(self.position, upto)
        return described + self._commands(rows)

    def _known(self, recording: Recording) -> None:
        """The client was told this recording as it stood (it saw the position it stood at)."""
        self._interactions[recording.id] = recording.interaction_id
        self.told[recording.id] = state = capture_state(recording)
        if state == "recording":
            self.snapshots_sent.update(recording.pending_snapshots())

    def _describe(self, recording: Recording) -> list[dict[str, Any]]:
        messages = []
        base = {"recording_id": str(recording.id), "interaction_id": recording.interaction_id}
        self._interactions[recording.id] = recording.interaction_id
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

    def _commands(self, rows: list[StoredRow]) -> list[Message]:
        """Each event's command, in log order, unless the client was already told its effect
        (each recording's rows start where the client's knowledge of it ends, or at its start)."""
        rows.sort(key=lambda row: row[0])
        mapper = self._ledger.mapper
        assert isinstance(mapper, MsgspecMapper)  # every ledger's factory builds it (adapters/event_store.py)
        events = [(row[0], mapper.decode(row[3], row[4], row[1], row[2])) for row in rows]
        taken = {event.snapshot_id for _, event in events if isinstance(event, Recording.SnapshotTaken)}
        return [
            Message(position, data)
            for position, event in events
            if not isinstance(event, Recording.SnapshotTaken)
            for data in self._command(event, taken)
        ]

    def _command(self, event: Any, taken: set[str]) -> list[dict[str, Any]]:
        recording_id = event.originator_id
        was = self.told.get(recording_id)
        now, command, extra = was, None, dict[str, Any]()
        if isinstance(event, Recording.CallStarted):
            self._interactions[recording_id] = event.interaction_id
            now, command = "recording", "start" if was is None else None
        elif isinstance(event, Recording.Paused):
            now, command = "paused", "pause" if was == "recording" else None
        elif isinstance(event, Recording.Resumed | Recording.CallEnded):  # hanging up ends any pause
            now, command = "recording", "resume" if was == "paused" else None
        elif isinstance(event, Recording.AcwEnded):
            now, command = "stopped", "stop" if was != "stopped" else None
        elif isinstance(event, Recording.SnapshotRequested):
            if event.snapshot_id not in self.snapshots_sent and event.snapshot_id not in taken:
                self.snapshots_sent.add(event.snapshot_id)
                command = "snapshot"
                extra = {"snapshot_id": event.snapshot_id, "taker": event.actor, "annotation": event.annotation}
        if now is not None:
            self.told[recording_id] = now
        if command is None:
            return []
        return [
            {
                "recording_id": str(recording_id),
                "interaction_id": self._interactions[recording_id],
                "command": command,
                **extra,
                "at": event.occurred_at.isoformat(),
            }
        ]


def _position(last_event_id: str | None) -> int | None:
    """The log position a reconnecting client last saw (None: absent or not one of ours)."""
    if last_event_id is None or not last_event_id.isascii() or not last_event_id.isdigit():
        return None
    return int(last_event_id)


class CaptureCommands:
    def __init__(self, ledger: RecordingLedger, views: ViewStore, access: AccessControl, hub: CaptureHub) -> None:
        self._ledger = ledger
        self._views = views
        self._access = access
        self.hub = hub

    def connect(self, principal: Principal) -> AgentCommands:
        """One connection's command stream, for the calling agent's own recordings."""
        self._access.allow(principal, Action.CAPTURE)
        return AgentCommands(self._ledger, self._views, principal.name, partial(self.hub.started, principal.name))
