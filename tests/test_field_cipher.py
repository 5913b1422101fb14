"""Personal fields through a real ledger: sealed in the log, readable until their key is destroyed."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg

from adapters.event_store import key_store_of, open_ledger
from adapters.settings import Settings
from domain.commands import Annotate, Pause, StartCall, Tag
from domain.ledger import RecordingLedger
from domain.values import REDACTED, Actor

PBX = Actor("pbx-1", "telephony")
QA = Actor("quinn", "quality")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRETS = ("cust-secret-123", "tag-secret-en", "tag-secret-sale", "note-secret-xyz")


def _record(ledger: RecordingLedger, interaction: str, customer: str) -> UUID:
    rid = ledger.execute(
        StartCall(
            interaction_id=interaction,
            agent_id="agent-1",
            customer_id=customer,
            queue="sales",
            direction="inbound",
            tags={"language": "tag-secret-en"},
            occurred_at=T0,
            by=PBX,
        )
    )
    ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=PBX))
    ledger.execute(Tag(rid, key="outcome", value="tag-secret-sale", occurred_at=T0 + timedelta(seconds=6), by=QA))
    ledger.execute(
        Annotate(rid, media_offset_ms=1000, text="note-secret-xyz", occurred_at=T0 + timedelta(seconds=7), by=QA)
    )
    return rid


def _stored_states(settings: Settings) -> bytes:
    if settings.uses_postgres:
        with psycopg.connect(settings.database_url) as conn:
            rows = conn.execute("SELECT state FROM stored_events").fetchall()
    else:
        with sqlite3.connect(settings.sqlite_path) as conn:
            rows = conn.execute("SELECT state FROM stored_events").fetchall()
    return b"\n".join(bytes(row[0]) for row in rows)


def _personal(ledger: RecordingLedger, rid: UUID) -> tuple[str, dict[str, str], str, str]:
    """customer_id, the start's tags, the later tag's value and the annotation, as read from the log."""
    started, _paused, tagged, annotated = ledger.history(rid).events
    return started.customer_id, started.tags, tagged.value, annotated.text  # type: ignore[attr-defined]


def test_personal_fields_are_sealed_in_the_log_and_open_on_read(ledger: RecordingLedger, settings: Settings) -> None:
    rid = _record(ledger, "int-1", "cust-secret-123")
    stored = _stored_states(settings)
    for secret in SECRETS:
        assert secret.encode() not in stored
    assert b"sealed:v1:" in stored
    assert b'"language"' in stored and b'"pci"' in stored  # tag keys and other events stay in clear
    assert _personal(ledger, rid) == (
        "cust-secret-123",
        {"language": "tag-secret-en"},
        "tag-secret-sale",
        "note-secret-xyz",
    )
    fresh = open_ledger(settings, group_commit=False)
    try:
        recording = fresh.get_recording(rid)
        assert recording.customer_id == "cust-secret-123"
        assert recording.tags == {"language": "tag-secret-en", "outcome": "tag-secret-sale"}
    finally:
        fresh.close()


def test_destroyed_recording_key_redacts_that_recording_only(ledger: RecordingLedger, settings: Settings) -> None:
    purged = _record(ledger, "int-purged", "cust-secret-123")
    same_customer = _record(ledger, "int-kept", "cust-secret-123")
    assert key_store_of(ledger).destroy_recording_keys([purged]) == 1
    fresh = open_ledger(settings, group_commit=False)  # no cache of either kind
    try:
        assert _personal(fresh, purged) == (REDACTED, {"language": REDACTED}, REDACTED, REDACTED)
        assert len(fresh.history(purged).events) == 4
        assert fresh.get_recording(purged).customer_id == REDACTED
        assert _personal(fresh, same_customer)[0] == "cust-secret-123"
        # The views' follower reads through the same mapper.
        notifications = fresh.recorder.select_notifications(start=1, limit=100)
        started = [fresh.mapper.to_domain_event(n) for n in notifications if n.originator_id == purged][0]
        assert started.customer_id == REDACTED  # type: ignore[attr-defined]
    finally:
        fresh.close()


def test_destroyed_customer_key_redacts_all_of_that_customers_recordings(
    ledger: RecordingLedger, settings: Settings
) -> None:
    erased = [_record(ledger, f"int-erased-{n}", "cust-erase-me") for n in range(2)]
    other = _record(ledger, "int-other", "cust-secret-123")
    keys = key_store_of(ledger)
    ref = keys.customer_ref_of("cust-erase-me")
    assert sorted(keys.recordings_of_customer(ref)) == sorted(erased)
    assert keys.destroy_customer_key(ref)
    fresh = open_ledger(settings, group_commit=False)
    try:
        for rid in erased:
            assert _personal(fresh, rid) == (REDACTED, {"language": REDACTED}, REDACTED, REDACTED)
            assert len(fresh.history(rid).events) == 4
        assert _personal(fresh, other) == (
            "cust-secret-123",
            {"language": "tag-secret-en"},
            "tag-secret-sale",
            "note-secret-xyz",
        )
    finally:
        fresh.close()


def test_personal_data_arriving_after_an_erasure_is_stored_redacted(
    ledger: RecordingLedger, settings: Settings
) -> None:
    rid = _record(ledger, "int-late", "cust-erase-me")
    keys = key_store_of(ledger)
    keys.destroy_customer_key(keys.customer_ref_of("cust-erase-me"))
    ledger.execute(Tag(rid, key="late", value="late-secret", occurred_at=T0 + timedelta(seconds=9), by=QA))
    assert b"late-secret" not in _stored_states(settings)
    fresh = open_ledger(settings, group_commit=False)
    try:
        assert fresh.history(rid).events[-1].value == REDACTED  # type: ignore[attr-defined]
    finally:
        fresh.close()
