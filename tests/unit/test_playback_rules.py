"""The domain's playback rules: what a viewing may name, the policy's reasons and agents'
own calls, and the timeline a reviewer sees (pauses, missing segments, after-call work,
holds, annotations and snapshots on the call's clock)."""

from __future__ import annotations

import pytest

from domain import errors
from domain.commands import (
    AddSnapshot,
    Annotate,
    EndAcw,
    EndCall,
    Pause,
    PlaceHold,
    RecordPlayback,
    ReleaseHold,
    RequestSnapshot,
    Resume,
)
from domain.recording_policy import DEFAULT_TERMS, PolicyTerms
from domain.timeline import Mark, Span, timeline_of
from domain.values import Actor
from tests.unit.test_recording_rules import LEGAL, PBX, at, segment, start

QUALITY = Actor("quinn", "quality")


def play(recording, what: str) -> None:
    recording.record_playback(
        RecordPlayback(recording.id, reason_code="dispute", what=what, occurred_at=at(70), by=LEGAL)
    )


def test_a_viewing_names_only_parts_the_recording_has() -> None:
    recording = start()
    with pytest.raises(errors.InvalidCommand, match="no screen"):
        play(recording, "screen")
    segment(recording, 0, 1)
    play(recording, "screen")
    for bad in ("video", "screen,screen", "", "audio"):  # audio: no voice has arrived
        with pytest.raises(errors.InvalidCommand):
            play(recording, bad)
    assert [type(e).__name__ for e in recording.collect_events()][-1] == "Played"


def test_the_policy_names_the_reasons_and_whether_agents_play_their_own_calls() -> None:
    DEFAULT_TERMS.check_playback("quality_evaluation", by_agent=False)
    with pytest.raises(errors.InvalidCommand, match="reason_code"):
        DEFAULT_TERMS.check_playback("curiosity", by_agent=False)
    with pytest.raises(errors.Forbidden):
        DEFAULT_TERMS.check_playback("quality_evaluation", by_agent=True)
    PolicyTerms(agents_play_own_calls=True).check_playback("coaching", by_agent=True)
    for reasons in ((), ("has space",)):
        with pytest.raises(errors.InvalidCommand):  # InvalidPolicy, or the id rule a reason breaks
            PolicyTerms(playback_reasons=reasons).checked()


def test_the_timeline_places_pauses_gaps_acw_holds_and_marks_on_the_call_clock() -> None:
    recording = start()
    segment(recording, 0, 0)  # 0-4 s
    recording.pause(Pause(recording.id, reason="card details", occurred_at=at(5), by=PBX))
    recording.resume(Resume(recording.id, reason="done", occurred_at=at(9), by=PBX))
    segment(recording, 1, 9)  # 9-13 s; segment 2 never arrives
    segment(recording, 3, 17)  # 17-21 s
    snapshot = recording.request_snapshot(
        RequestSnapshot(recording.id, snapshot_id="s1", annotation="error dialog", occurred_at=at(10), by=QUALITY)
    )
    assert snapshot is not False
    recording.add_snapshot(
        AddSnapshot(
            recording.id,
            snapshot_id="s1",
            monitor=0,
            width=8,
            height=8,
            byte_size=10,
            sha256="b" * 64,
            media_key="k",
            occurred_at=at(11),
            by=Actor("agent-1", "agent"),
        )
    )
    recording.end_call(EndCall(recording.id, reason="hangup", occurred_at=at(22), by=PBX))
    recording.end_acw(EndAcw(recording.id, reason="status_change", occurred_at=at(30), by=PBX))
    recording.annotate(
        Annotate(recording.id, media_offset_ms=12_500, text="reads card", occurred_at=at(40), by=QUALITY)
    )
    recording.place_hold(PlaceHold(recording.id, case_id="C-1", reason="dispute", occurred_at=at(41), by=LEGAL))
    recording.place_hold(PlaceHold(recording.id, case_id="C-2", reason="audit", occurred_at=at(42), by=LEGAL))
    recording.release_hold(ReleaseHold(recording.id, case_id="C-2", reason="closed", occurred_at=at(43), by=LEGAL))

    timeline = timeline_of(recording.collect_events())
    assert timeline.duration_ms == 30_000 and timeline.has_screen and not timeline.has_audio
    assert timeline.spans == (
        Span("hold", 0, 30_000, "legal hold C-1: dispute"),
        Span("pause", 5_000, 9_000, "card details"),
        Span("missing", 13_000, 17_000, "segment 2 missing"),
        Span("acw", 22_000, 30_000, "after-call work"),
    )
    assert timeline.marks == (
        Mark("snapshot", 11_000, "error dialog", "s1"),
        Mark("annotation", 12_500, "quinn: reads card"),
    )
