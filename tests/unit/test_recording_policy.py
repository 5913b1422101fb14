"""The recording policy's terms: deterministic screen sampling, the longest retention duty, contradictions refused."""

from __future__ import annotations

import pytest

from domain import errors
from domain.recording_policy import PolicyTerms, Retention, RetentionRule
from tests.support.screen_sampling import auditors_draw


def test_screen_selection_follows_the_percentage_and_the_queue_override() -> None:
    terms = PolicyTerms(sampling_percent=20, sampling_by_queue={"vip": 100, "internal": 0})
    ids = [f"call-{n}" for n in range(5000)]
    share = sum(terms.selects_screen(i, "sales") for i in ids) / len(ids)
    assert 0.18 < share < 0.22
    assert all(terms.selects_screen(i, "vip") for i in ids[:200])
    assert not any(terms.selects_screen(i, "internal") for i in ids[:200])
    assert [terms.selects_screen(i, "sales") for i in ids] == [auditors_draw(i, 20) for i in ids]


def test_the_longest_retention_duty_wins() -> None:
    terms = PolicyTerms(
        retention=(
            RetentionRule(archive_after_days=30, purge_after_days=365 * 6),
            RetentionRule(queue="trading", archive_after_days=90, purge_after_days=365 * 7),
            RetentionRule(tag_key="dispute", tag_value="yes"),  # no end at all
        )
    )
    assert terms.retention_for("sales", {}) == Retention(30, 365 * 6)
    assert terms.retention_for("trading", {}) == Retention(90, 365 * 7)
    assert terms.retention_for("trading", {"dispute": "yes"}) == Retention(None, None)
    assert PolicyTerms().retention_for("sales", {}) == Retention(None, None)


@pytest.mark.parametrize(
    "terms, rule",
    [
        (PolicyTerms(sampling_percent=101), "between 0 and 100"),
        (PolicyTerms(sampling_by_queue={"q": -1}), "between 0 and 100"),
        (PolicyTerms(acw_timeout_seconds=0), "acw_timeout_seconds"),
        (PolicyTerms(retention=(RetentionRule(archive_after_days=10, purge_after_days=5),)), "purge before"),
        (PolicyTerms(retention=(RetentionRule(tag_key="k"),)), "tag_key and tag_value"),
    ],
)
def test_contradictory_terms_are_refused(terms: PolicyTerms, rule: str) -> None:
    with pytest.raises(errors.InvalidPolicy, match=rule):
        terms.checked()
