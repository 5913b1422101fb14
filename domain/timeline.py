"""A recording's timeline on the call's clock, read from its events: what a reviewer sees under the player.

Offsets are milliseconds from the call's start (CallStarted.occurred_at), the same
clock the screen segments are placed on and the voice starts at. Spans mark
what the media does not show or what frames it (pauses with their reason,
missing screen segments, after-call work, legal holds); marks are points
(annotations, snapshots) a reviewer can jump to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.recording import Recording


@dataclass(frozen=True, slots=True)
class Span:
    kind: str  # "pause", "missing", "acw", "hold" or "card" (card data spoken: muted and blanked)
    start_ms: int
    end_ms: int
    label: str


@dataclass(frozen=True, slots=True)
class Mark:
    kind: str  # "annotation", "snapshot" or "evaluation" (a comment of an evaluation's latest revision)
    at_ms: int
    label: str
    ref: str = ""  # the snapshot's or the evaluation's id


@dataclass(frozen=True, slots=True)
class Timeline:
    duration_ms: int
    has_screen: bool
    has_audio: bool
    spans: tuple[Span, ...]
    marks: tuple[Mark, ...]


def timeline_of(events: Iterable[Any]) -> Timeline:
    """The timeline of one recording from its events, oldest first (a purged one has no media, so no spans)."""
    reader = _Reader()
    for event in events:
        reader.read(event)
    return reader.timeline()


class _Reader:
    def __init__(self) -> None:
        self.started: datetime | None = None
        self.segments: dict[int, tuple[int, int]] = {}  # sequence number -> (start, end)
        self.reported_segments = 0
        self.voice_ms = 0
        self.ended_ms: int | None = None
        self.acw_ended_ms: int | None = None
        self.pauses: list[tuple[int, int | None, str]] = []
        self.holds: dict[str, str] = {}
        self.marks: list[Mark] = []
        self.snapshot_notes: dict[str, str] = {}
        self.evaluation_marks: dict[str, list[Mark]] = {}  # by evaluation: its latest revision's comments
        self.card_spans: set[tuple[int, int]] = set()
        self.purged = False

    def at(self, moment: datetime) -> int:
        assert self.started is not None
        return max(0, round((moment - self.started).total_seconds() * 1000))

    def read(self, event: Any) -> None:  # noqa: C901 — one case per kind of event, as the aggregate applies them
        match event:
            case Recording.CallStarted():
                self.started = event.occurred_at
            case Recording.ScreenSampled():
                self.segments[event.sequence_number] = (
                    event.start_offset_ms,
                    event.start_offset_ms + event.duration_ms,
                )
            case Recording.VoiceRecorded():
                self.voice_ms = event.duration_ms
            case Recording.CaptureReported():
                self.reported_segments = event.segments
            case Recording.Paused():
                self.pauses.append((self.at(event.occurred_at), None, event.reason))
            case Recording.Resumed() if self.pauses and self.pauses[-1][1] is None:
                start, _, reason = self.pauses[-1]
                self.pauses[-1] = (start, self.at(event.occurred_at), reason)
            case Recording.CallEnded():
                self.ended_ms = self.at(event.occurred_at)
                if self.pauses and self.pauses[-1][1] is None:
                    start, _, reason = self.pauses[-1]
                    self.pauses[-1] = (start, self.ended_ms, reason)
            case Recording.AcwEnded():
                self.acw_ended_ms = self.at(event.occurred_at)
            case Recording.LegalHoldPlaced():
                self.holds[event.case_id] = event.reason
            case Recording.LegalHoldReleased():
                self.holds.pop(event.case_id, None)
            case Recording.Annotated():
                self.marks.append(Mark("annotation", event.media_offset_ms, f"{event.actor}: {event.text}"))
            case Recording.SnapshotRequested():
                self.snapshot_notes[event.snapshot_id] = event.annotation
            case Recording.SnapshotTaken():
                note = self.snapshot_notes.get(event.snapshot_id, "")
                self.marks.append(Mark("snapshot", self.at(event.occurred_at), note, event.snapshot_id))
            case Recording.EvaluationSubmitted() | Recording.EvaluationRevised():
                self.evaluation_marks[event.evaluation_id] = [
                    Mark("evaluation", at_ms, comment, event.evaluation_id)
                    for at_ms, comment in zip(event.comment_offsets_ms, event.comments, strict=True)
                ]
            case Recording.CardDataDetected():
                self.card_spans.add((event.start_ms, event.end_ms))
            case Recording.Purged():
                self.purged = True

    def timeline(self) -> Timeline:
        ends = [end for _, end in self.segments.values()]
        call_ms = self.acw_ended_ms if self.acw_ended_ms is not None else self.ended_ms
        duration = max([self.voice_ms, *ends, call_ms or 0])
        evaluated = [mark for marks in self.evaluation_marks.values() for mark in marks]
        marks = sorted([*self.marks, *evaluated], key=lambda mark: mark.at_ms)
        if self.purged:
            return Timeline(duration, False, False, (), tuple(marks))
        spans = [Span("pause", start, duration if end is None else end, reason) for start, end, reason in self.pauses]
        spans += self._missing(duration)
        if self.ended_ms is not None and (self.acw_ended_ms or duration) > self.ended_ms:
            spans.append(Span("acw", self.ended_ms, self.acw_ended_ms or duration, "after-call work"))
        spans += [Span("hold", 0, duration, f"legal hold {case}: {reason}") for case, reason in self.holds.items()]
        spans += [Span("card", start, end, "card data spoken") for start, end in sorted(self.card_spans)]
        spans.sort(key=lambda span: (span.start_ms, span.kind))
        return Timeline(duration, bool(self.segments), self.voice_ms > 0, tuple(spans), tuple(marks))

    def _missing(self, duration: int) -> list[Span]:
        """Each run of absent sequence numbers, between the segments around it."""
        expected = max(self.reported_segments, max(self.segments, default=-1) + 1)
        runs: list[list[int]] = []
        for number in range(expected):
            if number in self.segments:
                continue
            if runs and runs[-1][-1] == number - 1:
                runs[-1].append(number)
            else:
                runs.append([number])
        return [self._gap(run, duration) for run in runs]

    def _gap(self, run: Sequence[int], duration: int) -> Span:
        before = [end for number, (_, end) in self.segments.items() if number < run[0]]
        after = [start for number, (start, _) in self.segments.items() if number > run[-1]]
        start, end = max(before, default=0), min(after, default=duration)
        numbers = f"segment {run[0]}" if len(run) == 1 else f"segments {run[0]}–{run[-1]}"
        return Span("missing", start, max(start, end), f"{numbers} missing")
