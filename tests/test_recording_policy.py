"""The recording policy over HTTP, on both engines: versions as events, cited by each recording,
soon seen by other processes. The terms' own rules are tested in memory (tests/unit/test_recording_policy.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.recording_policy import PolicyTerms
from tests.support.api_client import Api
from tests.support.screen_sampling import auditors_draw

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def start(api: Api, interaction: str, queue: str = "sales") -> str:
    response = api.call(
        "pbx",
        "POST",
        "/v1/recordings",
        json={
            "interaction_id": interaction,
            "agent_id": "agent-n",
            "customer_id": "c-1",
            "queue": queue,
            "direction": "inbound",
            "occurred_at": T0.isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["recording_id"]


def test_a_mid_day_change_is_cited_by_each_recording_and_rederivable_from_the_log(api: Api) -> None:
    before_any = start(api, "day-0")
    assert (
        api.call("root", "PUT", "/v1/policy", json={"sampling_percent": 30, "reason": "morning"}).json()["version"] == 1
    )
    morning = [start(api, f"day-am-{n}") for n in range(40)]
    changed = api.call(
        "root",
        "PUT",
        "/v1/policy",
        json={"sampling_percent": 70, "sampling_by_queue": {"vip": 100}, "reason": "more QA after the incident"},
    )
    assert changed.json()["version"] == 2
    afternoon = [start(api, f"day-pm-{n}", queue="vip" if n % 4 == 0 else "sales") for n in range(40)]

    # The auditor's view: versions from the log, each recording's CallStarted from its history.
    versions = {v["version"]: v for v in api.call("aud", "GET", "/v1/policy/versions").json()["versions"]}
    assert versions[2]["actor"] == "root" and versions[2]["reason"] == "more QA after the incident"
    cited, selected = {}, {}
    for rid in [before_any, *morning, *afternoon]:
        started = api.call("aud", "GET", f"/v1/recordings/{rid}/history").json()["events"][0]["data"]
        terms = versions[started["policy_version"]]["terms"]
        percent = terms["sampling_by_queue"].get(started["queue"], terms["sampling_percent"])
        assert started["screen_selected"] == auditors_draw(started["interaction_id"], percent)
        cited[rid], selected[rid] = started["policy_version"], started["screen_selected"]
    assert cited[before_any] == 0 and {cited[r] for r in morning} == {1} and {cited[r] for r in afternoon} == {2}
    assert 0 < sum(selected[r] for r in morning) < len(morning)  # a real sample, not all or nothing
    assert sum(selected[r] for r in afternoon) > sum(selected[r] for r in morning)

    # A retried change is no new version; bad terms are refused and change nothing.
    again = api.call(
        "root", "PUT", "/v1/policy", json={"sampling_percent": 70, "sampling_by_queue": {"vip": 100}, "reason": "retry"}
    )
    assert again.json()["version"] == 2
    bad = api.call(
        "root",
        "PUT",
        "/v1/policy",
        json={"retention": [{"archive_after_days": 10, "purge_after_days": 5}], "reason": "typo"},
    )
    assert bad.status_code == 422 and "purge before" in bad.json()["detail"]
    assert api.call("lena", "GET", "/v1/policy").json()["version"] == 2


def test_a_policy_changed_by_another_process_applies_here_soon(api: Api, settings, monkeypatch) -> None:
    from adapters.event_store import open_ledger
    from domain.values import Actor

    other = open_ledger(settings)
    try:
        other.set_policy(terms=PolicyTerms(sampling_percent=0), reason="cli", occurred_at=T0, by=Actor("root", "admin"))
    finally:
        other.close()
    monkeypatch.setattr("domain.ledger.POLICY_REFRESH_SECONDS", 0.0)  # as if the refresh interval had passed
    rid = start(api, "after-cli-change")
    started = api.call("aud", "GET", f"/v1/recordings/{rid}/history").json()["events"][0]["data"]
    assert (started["policy_version"], started["screen_selected"]) == (1, False)
