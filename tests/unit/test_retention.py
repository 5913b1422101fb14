"""The retention rules, in memory: due dates by policy version, query holds, purge, archive and erasure records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import pytest

from domain import errors
from domain.commands import PlaceHold, ReleaseHold, Tag
from domain.ledger import RecordingLedger
from domain.query_hold import HoldCriteria
from domain.recording_policy import PolicyTerms, RetentionRule
from domain.retention import ErasureRefused
from domain.values import Actor, RecordingStatus
from tests.support.retention_calls import LEGAL, PBX, T0, completed_call, keep_for_30_days

JOB = Actor("system", "system")


@dataclass
class FakeRetentionStorage:
    """Records what the ledger asked to destroy or move (a fake next to the tests that use it)."""

    shredded: dict[UUID, list[str]] = field(default_factory=dict)
    archived: dict[UUID, list[str]] = field(default_factory=dict)
    customers: list[str] = field(default_factory=list)

    def archive_media(self, recording_id: UUID, media_keys: list[str]) -> str:
        self.archived[recording_id] = media_keys
        return "archive/"

    def shred_recordings(self, media: dict[UUID, list[str]]) -> None:
        self.shredded.update(media)

    def shred_customer(self, customer_ref: str) -> None:
        self.customers.append(customer_ref)


@pytest.fixture
def keep_30_days(ledger: RecordingLedger) -> RecordingLedger:
    return keep_for_30_days(ledger)


def test_purge_waits_for_the_cited_policy_and_records_what_it_destroys(keep_30_days: RecordingLedger) -> None:
    ledger, storage = keep_30_days, FakeRetentionStorage()
    rid = completed_call(ledger, "p-1")
    with pytest.raises(errors.RetentionDuty, match="kept until 2026-02-04"):
        ledger.purge(rid, now=T0 + timedelta(days=29), reason="retention", by=JOB, storage=storage)
    assert storage.shredded == {}
    ledger.purge(rid, now=T0 + timedelta(days=31), reason="retention", by=JOB, storage=storage)
    assert storage.shredded == {rid: ["seg/p-1/0"]}
    purged = ledger.history(rid).events[-1]
    assert (type(purged).__name__, purged.media_objects, purged.media_sha256, purged.keys_destroyed) == (
        "Purged",
        1,
        ["ab" * 32],
        ["recording"],
    )
    assert ledger.get_recording(rid).status is RecordingStatus.PURGED


def test_a_query_hold_protects_recordings_made_after_it(keep_30_days: RecordingLedger) -> None:
    ledger, storage = keep_30_days, FakeRetentionStorage()
    ledger.place_query_hold(
        case_id="CASE-9",
        reason="fraud inquiry",
        criteria=HoldCriteria(agent_id="agent-7", started_from=T0),
        occurred_at=T0,
        by=LEGAL,
    )
    later = completed_call(ledger, "q-held", agent="agent-7", started=T0 + timedelta(hours=3))
    other = completed_call(ledger, "q-free", agent="agent-8", started=T0 + timedelta(hours=3))
    month = T0 + timedelta(days=40)
    with pytest.raises(errors.LegalHoldActive, match=r"CASE-9 \(query hold\)"):
        ledger.purge(later, now=month, reason="retention", by=JOB, storage=storage)
    with pytest.raises(errors.LegalHoldActive, match="CASE-9"):
        ledger.archive(later, now=month, reason="retention", by=JOB, storage=storage)
    ledger.purge(other, now=month, reason="retention", by=JOB, storage=storage)
    assert list(storage.shredded) == [other] and storage.archived == {}
    assert ledger.get_recording(later).status is RecordingStatus.COMPLETE

    assert (
        ledger.place_query_hold(
            case_id="CASE-9",
            reason="retry",
            criteria=HoldCriteria(agent_id="agent-7", started_from=T0),
            occurred_at=T0,
            by=LEGAL,
        )
        is False
    )
    with pytest.raises(errors.InvalidCommand, match="at least one criterion"):
        ledger.place_query_hold(case_id="CASE-10", reason="x", criteria=HoldCriteria(), occurred_at=T0, by=LEGAL)
    ledger.release_query_hold(case_id="CASE-9", reason="closed", occurred_at=month, by=LEGAL)
    ledger.purge(later, now=month, reason="retention", by=JOB, storage=storage)
    assert later in storage.shredded


def test_a_query_hold_by_tag_matches_by_blind_index_and_keeps_the_value_out_of_the_log(
    keep_30_days: RecordingLedger,
) -> None:
    ledger, storage = keep_30_days, FakeRetentionStorage()
    account = "ACC-4711-SECRET"
    criteria = HoldCriteria(tag_key="account", tag_ref=ledger.tag_ref("account", account))
    ledger.place_query_hold(case_id="CASE-T", reason="dispute", criteria=criteria, occurred_at=T0, by=LEGAL)
    tagged_later = completed_call(ledger, "t-held")
    ledger.execute(Tag(tagged_later, key="account", value=account, occurred_at=T0 + timedelta(minutes=7), by=PBX))
    other = completed_call(ledger, "t-free")
    ledger.execute(Tag(other, key="account", value="ACC-other", occurred_at=T0 + timedelta(minutes=7), by=PBX))
    month = T0 + timedelta(days=40)
    with pytest.raises(errors.LegalHoldActive, match="CASE-T"):
        ledger.purge(tagged_later, now=month, reason="retention", by=JOB, storage=storage)
    ledger.purge(other, now=month, reason="retention", by=JOB, storage=storage)
    assert list(storage.shredded) == [other]
    holds_log = ledger.recorder.select_events(ledger.query_holds().id)
    assert holds_log and not any(account.encode() in stored.state for stored in holds_log)
    with pytest.raises(errors.InvalidCommand, match="tag_key and tag_value"):
        ledger.place_query_hold(
            case_id="CASE-U", reason="x", criteria=HoldCriteria(tag_key="account"), occurred_at=T0, by=LEGAL
        )


def test_archive_when_due_moves_media_and_records_where(keep_30_days: RecordingLedger) -> None:
    ledger, storage = keep_30_days, FakeRetentionStorage()
    rid = completed_call(ledger, "a-1")
    with pytest.raises(errors.RetentionDuty):
        ledger.archive(rid, now=T0 + timedelta(days=9), reason="retention", by=JOB, storage=storage)
    ledger.archive(rid, now=T0 + timedelta(days=11), reason="retention", by=JOB, storage=storage)
    archived = ledger.history(rid).events[-1]
    assert (type(archived).__name__, archived.archive_location) == ("Archived", "archive/")
    assert storage.archived == {rid: ["seg/a-1/0"]}


def test_erasure_is_all_of_a_customer_or_nothing_with_reasons(ledger: RecordingLedger) -> None:
    storage = FakeRetentionStorage()
    ledger.set_policy(
        terms=PolicyTerms(retention=(RetentionRule(queue="trading", purge_after_days=365 * 5),)),
        reason="MiFID II",
        occurred_at=T0 - timedelta(days=1),
        by=Actor("root", "admin"),
    )
    sales = completed_call(ledger, "e-sales", customer="cust-erase")
    trading = completed_call(ledger, "e-trading", customer="cust-erase", queue="trading")
    held = completed_call(ledger, "e-held", customer="cust-erase")
    ledger.execute(PlaceHold(held, case_id="CASE-1", reason="dispute", occurred_at=T0, by=LEGAL))
    bystander = completed_call(ledger, "e-other", customer="cust-other")
    ids = [sales, trading, held, bystander]

    with pytest.raises(ErasureRefused) as refused:
        ledger.erase_subject(
            "cust-erase", ids, now=T0 + timedelta(days=3), reason="GDPR request R-1", by=LEGAL, storage=storage
        )
    assert set(refused.value.reasons) == {trading, held}
    assert "retention duty until 2031" in refused.value.reasons[trading]
    assert "CASE-1" in refused.value.reasons[held]
    assert storage.shredded == {} and storage.customers == []  # nothing destroyed

    ledger.execute(ReleaseHold(held, case_id="CASE-1", reason="settled", occurred_at=T0, by=LEGAL))
    erased = ledger.erase_subject(
        "cust-erase", ids, now=T0 + timedelta(days=365 * 5 + 2), reason="GDPR request R-1", by=LEGAL, storage=storage
    )
    assert sorted(erased) == sorted([sales, trading, held])
    assert set(storage.shredded) == {sales, trading, held}
    assert storage.customers == [ledger.customer_ref_of("cust-erase")]
    assert ledger.history(sales).events[-1].keys_destroyed == ["recording", "customer"]
    assert ledger.get_recording(bystander).status is RecordingStatus.COMPLETE
