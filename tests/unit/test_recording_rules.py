"""Every invariant of the Recording aggregate, without any I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import errors
from domain.commands import (
    AddSegment,
    AddSnapshot,
    Annotate,
    EndAcw,
    EndCall,
    Pause,
    PlaceHold,
    RecordExport,
    RecordPlayback,
    RecordVoice,
    ReleaseHold,
    RequestSnapshot,
    Resume,
    StartCall,
    Tag,
)
from domain.recording import Recording, recording_id_for
from domain.values import Actor, RecordingStatus

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PBX = Actor("pbx-1", "telephony")
CLIENT = Actor("capture-client:agent-1", "agent")
LEGAL = Actor("lena", "legal")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def start(screen: bool = True, **overrides: Any) -> Recording:
    args: dict[str, Any] = dict(
        interaction_id="int-1",
        agent_id="agent-1",
        customer_id="cust-1",
        queue="sales",
        direction="inbound",
        tags={"language": "en"},
        screen_selected=screen,
        policy_version=0,
        customer_ref="ref-1",
        tag_refs={"language": "ref-en"},
        occurred_at=T0,
        by=PBX,
    )
    args.update(overrides)
    added = {name: args.pop(name) for name in ("screen_selected", "policy_version", "customer_ref", "tag_refs")}
    return Recording.start(StartCall(**args), **added)


def segment_of(recording: Recording, number: int, seconds: float, digest: str = "a" * 64) -> AddSegment:
    return AddSegment(
        recording.id,
        sequence_number=number,
        start_offset_ms=int(seconds * 1000),
        duration_ms=4000,
        monitor=0,
        width=1280,
        height=720,
        codec="h264",
        fps=5,
        byte_size=1000,
        sha256=digest,
        media_key=f"k/{number}",
        occurred_at=at(seconds),
        by=CLIENT,
    )


def segment(recording: Recording, number: int, seconds: float, digest: str = "a" * 64) -> bool:
    return recording.add_segment(segment_of(recording, number, seconds, digest))


def finished(recording: Recording) -> Recording:
    recording.end_call(EndCall(recording.id, reason="hangup", occurred_at=at(60), by=PBX))
    recording.end_acw(EndAcw(recording.id, reason="status_change", occurred_at=at(90), by=PBX))
    return recording


def event_names(recording: Recording) -> list[str]:
    return [type(e).__name__ for e in recording.collect_events()]


def test_recording_id_is_derived_from_interaction_id() -> None:
    assert start().id == recording_id_for("int-1")
    assert recording_id_for("int-1") != recording_id_for("int-2")


def test_started_recording_is_active_with_its_details() -> None:
    recording = start()
    assert recording.status is RecordingStatus.ACTIVE
    assert (recording.agent_id, recording.customer_id, recording.tags) == ("agent-1", "cust-1", {"language": "en"})
    assert event_names(recording) == ["CallStarted"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("direction", "sideways"), ("agent_id", ""), ("occurred_at", datetime(2026, 1, 1)), ("tags", {"k": 1})],
)
def test_start_rejects_bad_values(field: str, value: Any) -> None:
    with pytest.raises(errors.InvalidCommand):
        start(**{field: value})


def test_no_segment_for_recording_whose_screen_was_not_selected() -> None:
    recording = start(screen=False)
    with pytest.raises(errors.ScreenNotSelected):
        segment(recording, 0, 1)
    assert event_names(recording) == ["CallStarted"]


def test_no_segment_captured_while_paused() -> None:
    recording = start()
    recording.pause(Pause(recording.id, reason="pci", occurred_at=at(10), by=PBX))
    with pytest.raises(errors.SegmentWhilePaused):
        segment(recording, 0, 12)
    assert event_names(recording) == ["CallStarted", "Paused"]


def test_segment_captured_before_pause_is_accepted_when_uploaded_late() -> None:
    recording = start()
    recording.pause(Pause(recording.id, reason="pci", occurred_at=at(10), by=PBX))
    recording.resume(Resume(recording.id, reason="pci", occurred_at=at(20), by=PBX))
    assert segment(recording, 0, 5) is True
    with pytest.raises(errors.SegmentWhilePaused):
        segment(recording, 1, 15)


def test_no_segment_captured_after_acw_end() -> None:
    recording = finished(start())
    with pytest.raises(errors.SegmentAfterAcw):
        segment(recording, 0, 95)
    assert segment(recording, 0, 70) is True  # captured during ACW, uploaded after


def test_segment_numbers_start_at_zero() -> None:
    with pytest.raises(errors.InvalidSegment):
        segment(start(), -1, 1)


def test_repeated_segment_with_same_hash_is_an_idempotent_no_op() -> None:
    recording = start()
    assert segment(recording, 0, 1) is True
    assert segment(recording, 0, 1) is False
    assert event_names(recording) == ["CallStarted", "ScreenSampled"]


def test_repeated_segment_with_different_hash_is_refused() -> None:
    recording = start()
    segment(recording, 0, 1)
    with pytest.raises(errors.SegmentConflict):
        segment(recording, 0, 1, digest="b" * 64)


def test_segment_hash_must_be_sha256_hex() -> None:
    with pytest.raises(errors.InvalidCommand):
        segment(start(), 0, 1, digest="xyz")


def test_gap_in_segment_numbers_is_not_an_error() -> None:
    recording = start()
    segment(recording, 0, 1)
    assert segment(recording, 3, 13) is True
    assert sorted(recording.segments) == [0, 3]


def test_a_segment_is_judged_before_its_media_is_written_and_the_judgement_changes_nothing() -> None:
    """check_segment answers what add_segment would (True: may be added, False: stored already, or
    the rule it breaks) without an event, so media ingest asks it before writing the object."""
    recording = start()
    assert recording.check_segment(segment_of(recording, 0, 1)) is True
    segment(recording, 0, 1)
    assert recording.check_segment(segment_of(recording, 0, 1)) is False
    with pytest.raises(errors.SegmentConflict):
        recording.check_segment(segment_of(recording, 0, 1, digest="b" * 64))
    recording.pause(Pause(recording.id, reason="pci", occurred_at=at(10), by=PBX))
    with pytest.raises(errors.SegmentWhilePaused):
        recording.check_segment(segment_of(recording, 1, 12))
    with pytest.raises(errors.ScreenNotSelected):
        start(screen=False).check_segment(segment_of(recording, 0, 1))
    assert event_names(recording) == ["CallStarted", "ScreenSampled", "Paused"]


def test_voice_and_snapshots_are_judged_before_their_media_is_written() -> None:
    recording = start()
    voice = RecordVoice(
        recording.id,
        codec="opus",
        duration_ms=1000,
        byte_size=10,
        sha256="c" * 64,
        media_key="v",
        occurred_at=at(1),
        by=PBX,
    )
    assert recording.check_voice(voice) is True
    recording.record_voice(voice)
    assert recording.check_voice(voice) is False
    with pytest.raises(errors.MediaConflict):
        recording.check_voice(replace(voice, sha256="d" * 64))
    still = AddSnapshot(
        recording.id,
        snapshot_id="s-1",
        monitor=0,
        width=8,
        height=8,
        byte_size=10,
        sha256="e" * 64,
        media_key="s",
        occurred_at=at(2),
        by=CLIENT,
    )
    with pytest.raises(errors.SnapshotNotRequested):
        recording.check_snapshot(still)
    recording.request_snapshot(
        RequestSnapshot(recording.id, snapshot_id="s-1", annotation="look", occurred_at=at(2), by=LEGAL)
    )
    assert recording.check_snapshot(still) is True
    assert event_names(recording) == ["CallStarted", "VoiceRecorded", "SnapshotRequested"]


def test_pause_only_when_recording() -> None:
    recording = start()
    recording.pause(Pause(recording.id, reason="pci", occurred_at=at(10), by=PBX))
    with pytest.raises(errors.NotRecording):
        recording.pause(Pause(recording.id, reason="pci", occurred_at=at(11), by=PBX))
    recording.resume(Resume(recording.id, reason="pci", occurred_at=at(20), by=PBX))
    recording.end_call(EndCall(recording.id, reason="hangup", occurred_at=at(30), by=PBX))
    with pytest.raises(errors.NotRecording):
        recording.pause(Pause(recording.id, reason="pci", occurred_at=at(31), by=PBX))


def test_resume_only_when_paused() -> None:
    recording = start()
    with pytest.raises(errors.NotPaused):
        recording.resume(Resume(recording.id, reason="pci", occurred_at=at(5), by=PBX))
    recording.pause(Pause(recording.id, reason="pci", occurred_at=at(10), by=PBX))
    recording.resume(Resume(recording.id, reason="pci", occurred_at=at(20), by=PBX))
    assert recording.status is RecordingStatus.ACTIVE


def test_call_ended_once() -> None:
    recording = start()
    recording.end_call(EndCall(recording.id, reason="hangup", occurred_at=at(30), by=PBX))
    assert recording.status is RecordingStatus.ACW
    with pytest.raises(errors.CallAlreadyEnded):
        recording.end_call(EndCall(recording.id, reason="hangup", occurred_at=at(31), by=PBX))


def test_acw_ends_only_after_call_ended_and_once() -> None:
    recording = start()
    with pytest.raises(errors.CallNotEnded):
        recording.end_acw(EndAcw(recording.id, reason="status_change", occurred_at=at(30), by=PBX))
    recording.end_call(EndCall(recording.id, reason="hangup", occurred_at=at(30), by=PBX))
    with pytest.raises(errors.InvalidCommand):
        recording.end_acw(EndAcw(recording.id, reason="lunch", occurred_at=at(40), by=PBX))
    recording.end_acw(EndAcw(recording.id, reason="timeout", occurred_at=at(150), by=PBX))
    assert recording.status is RecordingStatus.COMPLETE
    with pytest.raises(errors.AcwAlreadyEnded):
        recording.end_acw(EndAcw(recording.id, reason="status_change", occurred_at=at(151), by=PBX))


def test_hanging_up_while_paused_closes_the_pause() -> None:
    recording = start()
    recording.pause(Pause(recording.id, reason="pci", occurred_at=at(10), by=PBX))
    recording.end_call(EndCall(recording.id, reason="hangup", occurred_at=at(20), by=PBX))
    assert recording.status is RecordingStatus.ACW
    assert segment(recording, 0, 25) is True


def test_no_purge_while_legal_hold_is_active() -> None:
    recording = finished(start())
    recording.place_hold(PlaceHold(recording.id, case_id="CASE-7", reason="litigation", occurred_at=at(100), by=LEGAL))
    with pytest.raises(errors.LegalHoldActive, match="CASE-7"):
        recording.purge(reason="retention", keys_destroyed=["recording"], occurred_at=at(200), by=LEGAL)
    recording.release_hold(ReleaseHold(recording.id, case_id="CASE-7", reason="settled", occurred_at=at(300), by=LEGAL))
    recording.purge(reason="retention", keys_destroyed=["recording"], occurred_at=at(400), by=LEGAL)
    assert recording.status is RecordingStatus.PURGED


def test_a_query_hold_covering_the_recording_blocks_purge_and_archive_by_name() -> None:
    recording = finished(start())
    for command in (
        lambda: recording.purge(
            reason="retention", keys_destroyed=["recording"], occurred_at=at(100), by=LEGAL, held_by=["CASE-Q"]
        ),
        lambda: recording.archive(
            reason="age", archive_location="archive", occurred_at=at(100), by=LEGAL, held_by=["CASE-Q"]
        ),
    ):
        with pytest.raises(errors.LegalHoldActive, match=r"CASE-Q \(query hold\)"):
            command()
    assert recording.status is RecordingStatus.COMPLETE


def test_purge_records_counts_and_hashes_of_what_it_destroys() -> None:
    recording = finished(start())
    segment(recording, 0, 10)
    recording.purge(reason="retention", keys_destroyed=["recording"], occurred_at=at(100), by=LEGAL)
    purged = recording.collect_events()[-1]
    assert (purged.media_objects, purged.keys_destroyed) == (1, ["recording"])
    assert purged.media_sha256 == sorted(recording.media.values()) and len(purged.media_sha256[0]) == 64


def test_holds_are_per_case_and_placing_twice_is_a_no_op() -> None:
    recording = finished(start())
    assert recording.place_hold(PlaceHold(recording.id, case_id="A", reason="r", occurred_at=at(100), by=LEGAL)) is True
    assert (
        recording.place_hold(PlaceHold(recording.id, case_id="A", reason="r", occurred_at=at(101), by=LEGAL)) is False
    )
    recording.place_hold(PlaceHold(recording.id, case_id="B", reason="r", occurred_at=at(102), by=LEGAL))
    recording.release_hold(ReleaseHold(recording.id, case_id="A", reason="done", occurred_at=at(103), by=LEGAL))
    with pytest.raises(errors.LegalHoldActive, match="B"):
        recording.purge(reason="retention", keys_destroyed=["recording"], occurred_at=at(104), by=LEGAL)
    with pytest.raises(errors.NoSuchHold):
        recording.release_hold(ReleaseHold(recording.id, case_id="A", reason="again", occurred_at=at(105), by=LEGAL))


def test_no_purge_or_archive_before_acw_ended() -> None:
    recording = start()
    with pytest.raises(errors.RecordingNotComplete):
        recording.purge(reason="retention", keys_destroyed=["recording"], occurred_at=at(10), by=LEGAL)
    with pytest.raises(errors.RecordingNotComplete):
        recording.archive(reason="age", archive_location="archive", occurred_at=at(10), by=LEGAL)


def test_only_access_records_after_purge() -> None:
    recording = finished(start())
    recording.purge(reason="retention", keys_destroyed=["recording"], occurred_at=at(100), by=LEGAL)
    refused = [
        lambda: segment(recording, 0, 70),
        lambda: recording.tag(Tag(recording.id, key="k", value="v", occurred_at=at(101), by=LEGAL), "ref-v"),
        lambda: recording.annotate(Annotate(recording.id, media_offset_ms=1, text="x", occurred_at=at(101), by=LEGAL)),
        lambda: recording.place_hold(PlaceHold(recording.id, case_id="C", reason="r", occurred_at=at(101), by=LEGAL)),
        lambda: recording.archive(reason="age", archive_location="archive", occurred_at=at(101), by=LEGAL),
        lambda: recording.purge(reason="again", keys_destroyed=["recording"], occurred_at=at(101), by=LEGAL),
    ]
    for command in refused:
        with pytest.raises(errors.RecordingPurged):
            command()
    recording.record_export(
        RecordExport(recording.id, reason_code="court-order", what="events", occurred_at=at(102), by=LEGAL)
    )
    assert event_names(recording)[-2:] == ["Purged", "Exported"]


def test_no_playback_or_media_export_of_purged_media() -> None:
    recording = start()
    segment(recording, 0, 1)
    finished(recording)
    recording.record_playback(
        RecordPlayback(recording.id, reason_code="qa", what="screen", occurred_at=at(95), by=LEGAL)
    )
    recording.purge(reason="retention", keys_destroyed=["recording"], occurred_at=at(100), by=LEGAL)
    with pytest.raises(errors.MediaPurged):
        recording.record_playback(
            RecordPlayback(recording.id, reason_code="qa", what="screen", occurred_at=at(101), by=LEGAL)
        )
    with pytest.raises(errors.MediaPurged):
        recording.record_export(
            RecordExport(recording.id, reason_code="court-order", what="media", occurred_at=at(101), by=LEGAL)
        )


def test_archive_once_and_not_under_hold() -> None:
    recording = finished(start())
    recording.place_hold(PlaceHold(recording.id, case_id="A", reason="r", occurred_at=at(100), by=LEGAL))
    with pytest.raises(errors.LegalHoldActive):
        recording.archive(reason="age", archive_location="archive", occurred_at=at(101), by=LEGAL)
    recording.release_hold(ReleaseHold(recording.id, case_id="A", reason="done", occurred_at=at(102), by=LEGAL))
    recording.archive(reason="age", archive_location="archive", occurred_at=at(103), by=LEGAL)
    assert recording.status is RecordingStatus.ARCHIVED
    with pytest.raises(errors.AlreadyArchived):
        recording.archive(reason="age", archive_location="archive", occurred_at=at(104), by=LEGAL)


def test_tagging_same_value_twice_is_a_no_op() -> None:
    recording = start()
    assert recording.tag(Tag(recording.id, key="outcome", value="sale", occurred_at=at(1), by=PBX), "ref-sale") is True
    assert recording.tag(Tag(recording.id, key="outcome", value="sale", occurred_at=at(2), by=PBX), "ref-sale") is False
    assert recording.tags["outcome"] == "sale"


def test_every_event_carries_source_time_actor_and_role() -> None:
    recording = start()
    recording.pause(Pause(recording.id, reason="pci", occurred_at=at(10), by=Actor("agent-1", "agent")))
    paused = recording.collect_events()[-1]
    assert (paused.occurred_at, paused.actor, paused.role, paused.reason) == (at(10), "agent-1", "agent", "pci")


def test_replaying_events_rebuilds_the_same_state() -> None:
    recording = finished(start())
    events = recording.collect_events()
    replayed: Any = None
    for e in events:
        replayed = e.mutate(replayed)
    assert replayed.status is RecordingStatus.COMPLETE
    assert replayed.version == recording.version


def test_lifecycle_retries_with_the_same_source_time_are_no_ops() -> None:
    recording = start()
    assert recording.pause(Pause(recording.id, reason="pci", occurred_at=at(10), by=PBX)) is True
    assert recording.pause(Pause(recording.id, reason="pci", occurred_at=at(10), by=PBX)) is False
    assert recording.resume(Resume(recording.id, reason="pci", occurred_at=at(20), by=PBX)) is True
    assert recording.resume(Resume(recording.id, reason="pci", occurred_at=at(20), by=PBX)) is False
    assert recording.end_call(EndCall(recording.id, reason="hangup", occurred_at=at(30), by=PBX)) is True
    assert recording.end_call(EndCall(recording.id, reason="hangup", occurred_at=at(30), by=PBX)) is False
    assert recording.end_acw(EndAcw(recording.id, reason="status_change", occurred_at=at(40), by=PBX)) is True
    assert recording.end_acw(EndAcw(recording.id, reason="status_change", occurred_at=at(40), by=PBX)) is False
    assert event_names(recording) == ["CallStarted", "Paused", "Resumed", "CallEnded", "AcwEnded"]
    with pytest.raises(errors.AcwAlreadyEnded):
        recording.end_acw(EndAcw(recording.id, reason="status_change", occurred_at=at(41), by=PBX))


@pytest.mark.parametrize("tag_refs", [{}, {"language": "ref-en", "extra": "ref-x"}, {"language": ""}])
def test_a_start_must_carry_one_blind_index_per_tag(tag_refs: dict[str, str]) -> None:
    """Views index tags by these alone: a missing or extra index would hide a recording from search."""
    with pytest.raises(errors.InvalidCommand, match="tag"):
        start(tag_refs=tag_refs)


@pytest.mark.parametrize(
    "command",
    [
        lambda r: r.pause(Pause(r.id, reason="p\x00", occurred_at=at(1), by=PBX)),
        lambda r: r.tag(Tag(r.id, key="k", value="v\x00", occurred_at=at(1), by=PBX), "ref-v"),
        lambda r: r.annotate(Annotate(r.id, media_offset_ms=0, text="a\x00b", occurred_at=at(1), by=PBX)),
        lambda r: r.end_call(EndCall(r.id, reason="x" * 5000, occurred_at=at(1), by=PBX)),
    ],
)
def test_text_no_store_can_keep_is_refused(command) -> None:
    """A NUL would be logged forever and then jam every view on PostgreSQL."""
    recording = start()
    with pytest.raises(errors.InvalidCommand):
        command(recording)
    assert event_names(recording) == ["CallStarted"]


def test_source_times_outside_any_plausible_span_are_refused() -> None:
    with pytest.raises(errors.InvalidCommand, match="between the years"):
        start(occurred_at=datetime(1, 1, 1, tzinfo=UTC))
