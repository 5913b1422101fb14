"""Ingest, replay and reports over HTTP, on both engines."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from tests.support.api_client import Api

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def start(api: Api, interaction: str, agent: str = "agent-n") -> UUID:
    response = api.call(
        "pbx",
        "POST",
        "/v1/recordings",
        json={
            "interaction_id": interaction,
            "agent_id": agent,
            "customer_id": "cust-42",
            "queue": "sales",
            "direction": "inbound",
            "tags": {"lang": "en"},
            "occurred_at": at(0),
        },
    )
    assert response.status_code == 201, response.text
    return UUID(response.json()["recording_id"])


@pytest.fixture
def group_commit() -> bool:
    return True


def test_retried_lifecycle_requests_never_double_an_event(api: Api) -> None:
    """20 calls' lifecycles, each request sent 5 times, concurrently: 100 requests per step."""
    interactions = [f"retry-{n}" for n in range(20)]
    steps = [
        (
            "POST",
            "/v1/recordings",
            lambda i: {
                "interaction_id": i,
                "agent_id": "agent-n",
                "customer_id": "c",
                "queue": "q",
                "direction": "inbound",
                "occurred_at": at(0),
            },
        ),
        ("POST", "pause", lambda i: {"reason": "pci", "occurred_at": at(10)}),
        ("POST", "resume", lambda i: {"reason": "pci", "occurred_at": at(20)}),
        ("POST", "tags", lambda i: {"key": "outcome", "value": "sale", "occurred_at": at(25)}),
        ("POST", "end", lambda i: {"reason": "hangup", "occurred_at": at(30)}),
        ("POST", "acw-end", lambda i: {"reason": "status_change", "occurred_at": at(60)}),
    ]
    ids = {i: api.components.ledger.recording_id(i) for i in interactions}
    with ThreadPoolExecutor(max_workers=16) as pool:
        for method, path, body in steps:

            def send(interaction: str, method: str = method, path: str = path, body=body) -> int:
                url = path if path.startswith("/") else f"/v1/recordings/{ids[interaction]}/{path}"
                return api.call("pbx", method, url, json=body(interaction)).status_code

            statuses = list(pool.map(send, [i for i in interactions for _ in range(5)]))
            assert set(statuses) <= {200, 201}, (path, statuses)
    for interaction in interactions:
        events = api.components.ledger.history(ids[interaction]).events
        assert [type(e).__name__ for e in events] == [
            "CallStarted",
            "Paused",
            "Resumed",
            "Tagged",
            "CallEnded",
            "AcwEnded",
        ]


def test_history_as_of_a_moment_between_pause_and_resume_shows_paused(api: Api) -> None:
    rid = start(api, "replay-1")
    assert api.call(
        "pbx", "POST", f"/v1/recordings/{rid}/pause", json={"reason": "pci", "occurred_at": at(10)}
    ).json() == {"applied": True}
    between = datetime.now(UTC)
    api.call("pbx", "POST", f"/v1/recordings/{rid}/resume", json={"reason": "pci", "occurred_at": at(20)})
    then = api.call("aud", "GET", f"/v1/recordings/{rid}/history", params={"as_of": between.isoformat()}).json()
    assert then["state"]["status"] == "paused" and then["state"]["paused"] is True
    assert [e["type"] for e in then["events"]] == ["CallStarted", "Paused"]
    now = api.call("aud", "GET", f"/v1/recordings/{rid}/history").json()
    assert now["state"]["status"] == "active" and now["version"] == 3
    by_version = api.call("lena", "GET", f"/v1/recordings/{rid}/history", params={"version": 2}).json()
    assert by_version["state"]["status"] == "paused"
    naive = api.call("aud", "GET", f"/v1/recordings/{rid}/history", params={"as_of": "2026-11-23T09:00:00"})
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]


def test_detail_shows_view_and_events_and_is_audited(api: Api) -> None:
    rid = start(api, "detail-1")
    detail = api.call("lena", "GET", f"/v1/recordings/{rid}").json()
    assert detail["recording"]["interaction_id"] == "detail-1" and detail["recording"]["tags"] == {"lang": "en"}
    assert detail["events"][0]["type"] == "CallStarted" and detail["events"][0]["actor"] == "pbx"
    trail = api.call("aud", "GET", "/v1/audit", params={"recording": str(rid)}).json()["items"]
    assert [(row["action"], row["actor"]) for row in trail] == [("call_started", "pbx"), ("view", "lena")]
    assert trail[1]["customer_id"] == "cust-42" and trail[1]["interaction_id"] == "detail-1"
    # Reads show in the view once its follower folds them: read-your-writes covers the
    # recording's own events, not the access records every read writes (each read would
    # otherwise wait for the one before it).
    api.components.projections.catch_up(views=["recordings"])
    row = api.call("lena", "GET", f"/v1/recordings/{rid}").json()["recording"]
    assert row["last_access_at"] is not None


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/recordings", {"interaction_id": "x"}, 422),  # fields missing
        (
            "/v1/recordings",
            {
                "interaction_id": "x",
                "agent_id": "a",
                "customer_id": "c",
                "queue": "q",
                "direction": "sideways",
                "occurred_at": at(0),
            },
            422,
        ),
        (
            "/v1/recordings",
            {
                "interaction_id": "x",
                "agent_id": "a",
                "customer_id": "c",
                "queue": "q",
                "direction": "inbound",
                "occurred_at": "2026-11-23T09:00:00",
            },
            422,
        ),  # no zone
        (
            "/v1/recordings",
            {
                "interaction_id": "",
                "agent_id": "a",
                "customer_id": "c",
                "queue": "q",
                "direction": "inbound",
                "occurred_at": at(0),
            },
            422,
        ),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_stores_nothing(api: Api, path: str, body: dict, status: int) -> None:
    before = api.components.ledger.recorder.max_notification_id()
    response = api.call("pbx", "POST", path, json=body)
    assert response.status_code == status
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == status and problem["detail"]
    assert api.components.ledger.recorder.max_notification_id() == before


def test_state_conflicts_are_409_and_unknown_recordings_404(api: Api) -> None:
    rid = start(api, "conflict-1")
    api.call("pbx", "POST", f"/v1/recordings/{rid}/end", json={"occurred_at": at(30)})
    again = api.call("pbx", "POST", f"/v1/recordings/{rid}/end", json={"occurred_at": at(31)})
    assert again.status_code == 409 and again.json()["error"] == "CallAlreadyEnded"
    pause = api.call("pbx", "POST", f"/v1/recordings/{rid}/pause", json={"occurred_at": at(32)})
    assert pause.status_code == 409 and "acw" in pause.json()["detail"]
    missing = api.call("pbx", "POST", f"/v1/recordings/{UUID(int=7)}/pause", json={"occurred_at": at(1)})
    assert missing.status_code == 404
    assert api.call("pbx", "GET", "/v1/recordings/not-a-uuid").status_code in (404, 422)


def test_acw_timeout_job_ends_overdue_after_call_work(api: Api) -> None:
    """The timeout comes from the recording policy an admin set."""
    changed = api.call("root", "PUT", "/v1/policy", json={"acw_timeout_seconds": 200, "reason": "longer wrap-up"})
    assert changed.status_code == 200 and changed.json()["terms"]["acw_timeout_seconds"] == 200
    overdue = start(api, "acw-late")
    api.call("pbx", "POST", f"/v1/recordings/{overdue}/end", json={"occurred_at": at(30)})
    recent = start(api, "acw-recent")
    api.call("pbx", "POST", f"/v1/recordings/{recent}/end", json={"occurred_at": at(500)})
    api.components.projections.catch_up(views=["recordings"])
    timeout = 200
    assert api.components.acw_timeout.run(now=T0 + timedelta(seconds=30 + timeout - 1)) == 0
    assert api.components.acw_timeout.run(now=T0 + timedelta(seconds=30 + timeout + 1)) == 1
    assert api.components.acw_timeout.run(now=T0 + timedelta(seconds=30 + timeout + 1)) == 0  # rerun: nothing new
    ended = api.components.ledger.history(overdue).events[-1]
    assert (type(ended).__name__, ended.reason, ended.actor) == ("AcwEnded", "timeout", "system")
    assert ended.occurred_at == T0 + timedelta(seconds=30 + timeout)
    assert type(api.components.ledger.history(recent).events[-1]).__name__ == "CallEnded"


def test_audit_report_as_csv_is_itself_audited(api: Api) -> None:
    rid = start(api, "report-1")
    report = api.call("aud", "GET", "/v1/audit", params={"format": "csv", "recording": str(rid)})
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert rows[0]["action"] == "call_started" and rows[0]["customer_id"] == "cust-42"
    reports = api.call("lena", "GET", "/v1/audit", params={"action": "audit_report", "actor": "aud"}).json()["items"]
    assert reports and reports[0]["detail"]["format"] == "csv" and reports[0]["recording_id"] == str(rid)


def test_new_users_can_act_at_once_and_tokens_rotate(api: Api) -> None:
    created = api.call("root", "POST", "/v1/users", json={"name": "pbx-2", "role": "telephony"})
    assert created.status_code == 201
    api.tokens["pbx-2"] = created.json()["token"]
    assert (
        api.call(
            "pbx-2",
            "POST",
            "/v1/recordings",
            json={
                "interaction_id": "new-user-1",
                "agent_id": "agent-n",
                "customer_id": "c",
                "queue": "q",
                "direction": "outbound",
                "occurred_at": at(0),
            },
        ).status_code
        == 201
    )
    rotated = api.call("root", "POST", "/v1/users/pbx-2/token").json()["token"]
    assert api.call("pbx-2", "GET", "/v1/recordings").status_code == 401  # the old token is gone
    api.tokens["pbx-2"] = rotated
    assert api.call("pbx-2", "GET", "/v1/recordings").status_code == 403  # telephony may not search
    duplicate = api.call("root", "POST", "/v1/users", json={"name": "pbx-2", "role": "telephony"})
    assert duplicate.status_code == 409
    stored = api.call("root", "GET", "/v1/users").json()
    assert not any("token" in user for user in stored)


def test_openapi_schema_is_served(api: Api) -> None:
    schema = api.call(None, "GET", "/schema/openapi.json").json()
    assert "/v1/recordings/{recording_id}/history" in schema["paths"]
    ready = api.call(None, "GET", "/ready").json()
    assert ready["status"] == "ready" and set(ready["views"]) == {
        "recordings",
        "audit_trail",
        "directory",
        "log_leaves",
        "evaluations",
    }


def test_nul_in_a_query_is_refused_before_any_store_sees_it(api: Api) -> None:
    response = api.call("lena", "GET", "/v1/recordings?agent=a%00b")
    assert response.status_code == 422 and "NUL" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/log/checkpoints/1438393439765488268738560",
        "/v1/log/proofs/consistency?from=0&to=99999999999999999999",
        "/v1/audit?after=99999999999999999999.1",
    ],
)
def test_numbers_beyond_what_a_store_holds_are_refused_not_crashed_on(api: Api, path: str) -> None:
    """Found by schemathesis: a 64-bit integer column cannot take them."""
    response = api.call("aud", "GET", path)
    assert response.status_code in (404, 422), response.text


def test_history_version_beyond_64_bits_is_refused(api: Api) -> None:
    rid = start(api, "version-1")
    assert api.call("aud", "GET", f"/v1/recordings/{rid}/history", params={"version": 2**64}).status_code == 422


@pytest.mark.parametrize(
    "user, method, path",
    [
        ("pbx", "POST", "/v1/recordings"),
        ("root", "PUT", "/v1/policy"),
        ("lena", "POST", "/v1/holds"),
        ("pbx", "POST", "/v1/lifecycle-events"),
    ],
)
def test_deeply_nested_json_is_a_bad_request(api: Api, user: str, method: str, path: str) -> None:
    """The decoder gives up on it with a RecursionError, which must not become a 500."""
    before = api.components.ledger.recorder.max_notification_id()
    response = api.client.request(
        method,
        path,
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={"Authorization": f"Bearer {api.tokens[user]}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"], response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert api.components.ledger.recorder.max_notification_id() == before


def test_control_characters_are_refused_in_every_body(api: Api) -> None:
    rid = start(api, "nul-1")
    policy = {"sampling_percent": 50.0, "reason": "half"}
    assert api.call("root", "PUT", "/v1/policy", json=policy).status_code == 200
    before = api.components.ledger.recorder.max_notification_id()
    refused = [
        api.call("lena", "POST", "/v1/holds", json={"case_id": "CASE-N", "reason": "r", "agent_id": "agent\x00n"}),
        api.call("root", "PUT", "/v1/policy", json={**policy, "reason": "half\x00"}),  # terms unchanged: a retry
        api.call("pbx", "POST", f"/v1/recordings/{rid}/pause", json={"reason": "pci\x07", "occurred_at": at(5)}),
        api.call(
            "pbx", "POST", f"/v1/recordings/{rid}/tags", json={"key": "k\x1b", "value": "v", "occurred_at": at(6)}
        ),
        api.call("lena", "POST", f"/v1/recordings/{rid}/holds", json={"case_id": "../CASE", "reason": "r"}),
    ]
    for response in refused:
        assert response.status_code == 422 and response.json()["detail"], response.text
    assert api.components.ledger.recorder.max_notification_id() == before
    # Prose keeps its line breaks and any script or emoji.
    noted = api.call(
        "pbx", "POST", f"/v1/recordings/{rid}/pause", json={"reason": "PCI\n\u202eتوقف 🙊", "occurred_at": at(5)}
    )
    assert noted.json() == {"applied": True}


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+00:00", "2200-01-01T00:00:00+00:00", "1969-12-31T23:59:59+00:00", "2026-11-23T09:00:06"],
)
def test_a_retry_with_an_invalid_time_is_refused_not_answered_as_applied(api: Api, moment: str) -> None:
    """The retry shortcut (same tag value, same report, same hold) comes after validation."""
    rid = start(api, f"time-{moment}")
    tag = {"key": "outcome", "value": "sale", "occurred_at": at(6)}
    assert api.call("pbx", "POST", f"/v1/recordings/{rid}/tags", json=tag).json() == {"applied": True}
    hold = {"case_id": "CASE-T", "reason": "r", "started_from": at(0)}
    assert api.call("lena", "POST", "/v1/holds", json=hold).status_code == 201
    before = api.components.ledger.recorder.max_notification_id()
    again = api.call("pbx", "POST", f"/v1/recordings/{rid}/tags", json={**tag, "occurred_at": moment})
    assert again.status_code == 422 and "occurred_at" in again.json()["detail"], again.text
    hold_again = api.call("lena", "POST", "/v1/holds", json={**hold, "started_from": moment})
    assert hold_again.status_code == 422, hold_again.text
    assert api.components.ledger.recorder.max_notification_id() == before
