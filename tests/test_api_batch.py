"""Lifecycle events posted in batches: per-item answers, idempotent retries, refusals kept apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.api_client import Api

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LIFECYCLE = ["CallStarted", "Paused", "Resumed", "Tagged", "CallEnded", "AcwEnded"]


@pytest.fixture
def group_commit() -> bool:
    return True  # the server's own default: a batch shares one transaction


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def whole_call(api: Api, interaction: str, agent: str = "agent-n") -> list[dict[str, Any]]:
    rid = str(api.components.ledger.recording_id(interaction))
    return [
        {
            "type": "start",
            "interaction_id": interaction,
            "agent_id": agent,
            "customer_id": "cust-7",
            "queue": "sales",
            "direction": "inbound",
            "occurred_at": at(0),
        },
        {"type": "pause", "recording_id": rid, "reason": "pci", "occurred_at": at(10)},
        {"type": "resume", "recording_id": rid, "reason": "pci", "occurred_at": at(20)},
        {"type": "tag", "recording_id": rid, "key": "outcome", "value": "sale", "occurred_at": at(25)},
        {"type": "end", "recording_id": rid, "reason": "hangup", "occurred_at": at(30)},
        {"type": "acw_end", "recording_id": rid, "reason": "status_change", "occurred_at": at(60)},
    ]


def post(api: Api, user: str, events: list[dict[str, Any]]) -> Any:
    return api.call(user, "POST", "/v1/lifecycle-events", json={"events": events})


def test_whole_calls_in_one_batch_and_a_retried_batch_doubles_nothing(api: Api) -> None:
    # Interleaved across calls, as a gateway would send them in time order.
    calls = [whole_call(api, f"batch-{n}") for n in range(3)]
    events = [step for steps in zip(*calls, strict=True) for step in steps]
    first = post(api, "pbx", events)
    assert first.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == [201] * 3 + [200] * 15
    assert all(r["applied"] for r in first.json()["results"][3:])
    again = post(api, "pbx", events).json()["results"]
    assert [r["status"] for r in again] == [201] * 3 + [200] * 15
    assert not any(r["applied"] for r in again[3:])
    for n in range(3):
        rid = api.components.ledger.recording_id(f"batch-{n}")
        assert [type(e).__name__ for e in api.components.ledger.history(rid).events] == LIFECYCLE


def test_each_item_is_judged_alone_and_refusals_are_audited(api: Api) -> None:
    good = whole_call(api, "batch-good")
    other_agents = whole_call(api, "batch-south", agent="agent-s")
    post(api, "pbx", other_agents[:1])
    unknown = str(api.components.ledger.recording_id("never-started"))
    mixed = [
        good[0],
        {"type": "resume", "recording_id": good[1]["recording_id"], "reason": "x", "occurred_at": at(5)},
        good[1],
        {"type": "pause", "recording_id": unknown, "reason": "pci", "occurred_at": at(10)},
        {
            "type": "start",
            "interaction_id": "batch-bad",
            "agent_id": "agent-n",
            "customer_id": "c",
            "queue": "q",
            "direction": "inbound",
            "occurred_at": "1900-01-01T00:00:00Z",
        },
    ]
    results = post(api, "pbx", mixed).json()["results"]
    assert [r["status"] for r in results] == [201, 409, 200, 404, 422]
    assert results[1]["error"] == "NotPaused" or "paused" in results[1]["detail"]
    history = api.components.ledger.history(api.components.ledger.recording_id("batch-good")).events
    assert [type(e).__name__ for e in history] == ["CallStarted", "Paused"]

    # An agent may tag its own call but not another agent's; the refusal is evidence.
    mine = {**good[3], "occurred_at": at(30)}
    theirs = {**other_agents[3], "occurred_at": at(31)}
    results = post(api, "agent-n", [mine, theirs]).json()["results"]
    assert [r["status"] for r in results] == [200, 403]
    refusals = api.call("aud", "GET", "/v1/audit", params={"actor": "agent-n", "outcome": "refused"}).json()
    assert [entry["recording_id"] for entry in refusals["items"]] == [theirs["recording_id"]]


def test_a_role_that_may_post_none_of_it_is_refused_whole(api: Api) -> None:
    response = post(api, "aud", whole_call(api, "batch-auditor"))
    assert response.status_code == 403
    assert api.call("pbx", "GET", "/v1/recordings").status_code == 403  # nothing else changes roles


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"events": []}, "length >= 1"),
        ({"events": [{"type": "launch", "occurred_at": at(0)}]}, "launch"),
        ({"events": [{"type": "pause", "recording_id": "nope", "occurred_at": at(0)}]}, "uuid"),
        ({"events": [{"type": "pause", "occurred_at": at(0)}] * 1001}, "length <= 1000"),
    ],
)
def test_malformed_batches_are_422_and_store_nothing(api: Api, body: dict[str, Any], reason: str) -> None:
    before = api.components.ledger.recorder.max_notification_id()
    response = api.call("pbx", "POST", "/v1/lifecycle-events", json=body)
    assert response.status_code == 422 and reason in response.text.lower(), response.text
    assert api.components.ledger.recorder.max_notification_id() == before


def test_a_retried_item_with_an_invalid_time_is_refused_on_its_own(api: Api) -> None:
    """Each item is checked before its retry shortcut: 422 for it, never 200 {"applied": false}."""
    steps = whole_call(api, "batch-times")
    assert [r["status"] for r in post(api, "pbx", steps[:4]).json()["results"]] == [201, 200, 200, 200]
    before = api.components.ledger.recorder.max_notification_id()
    tag_again = [
        {**steps[3], "occurred_at": moment}
        for moment in ("0001-01-01T00:00:00Z", "2200-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-11-23T09:00:25")
    ]
    results = post(api, "pbx", tag_again).json()["results"]
    assert [(r["status"], r["error"]) for r in results] == [(422, "InvalidCommand")] * 4
    assert api.components.ledger.recorder.max_notification_id() == before


def test_control_characters_in_any_item_refuse_the_batch_as_malformed(api: Api) -> None:
    steps = whole_call(api, "batch-nul")
    before = api.components.ledger.recorder.max_notification_id()
    response = post(api, "pbx", [steps[0], {**steps[1], "reason": "pci\x00"}])
    assert response.status_code == 422 and "events[1].reason" in response.text, response.text
    assert api.components.ledger.recorder.max_notification_id() == before
