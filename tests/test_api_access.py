"""Every role against every endpoint: who may, who may not, and refusals in the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.commands import EndCall, Pause, StartCall
from domain.values import Actor
from tests.support.api_client import Api

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PBX = Actor("pbx", "telephony")
ROLES = ["root", "pbx", "agent-n", "sam", "quinn", "lena", "aud"]  # admin … auditor; sam answers for south only


def fresh_call(api: Api, label: str, agent: str = "agent-n", state: str = "active") -> UUID:
    """A new recording of `agent`, brought to `state` through the ledger."""
    ledger = api.components.ledger
    rid = ledger.execute(
        StartCall(
            interaction_id=label,
            agent_id=agent,
            customer_id="cust-1",
            queue="sales",
            direction="inbound",
            tags={},
            occurred_at=T0,
            by=PBX,
        )
    )
    if state == "paused":
        ledger.execute(Pause(rid, reason="pci", occurred_at=T0 + timedelta(seconds=5), by=PBX))
    if state == "acw":
        ledger.execute(EndCall(rid, reason="hangup", occurred_at=T0 + timedelta(seconds=30), by=PBX))
    return rid


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


Endpoint = Callable[[Api, str, str], Any]

ENDPOINTS: dict[str, tuple[Endpoint, set[str]]] = {
    "start call": (
        lambda api, user, label: api.call(
            user,
            "POST",
            "/v1/recordings",
            json={
                "interaction_id": label,
                "agent_id": "agent-n",
                "customer_id": "c",
                "queue": "q",
                "direction": "inbound",
                "occurred_at": at(0),
            },
        ),
        {"pbx"},
    ),
    "pause": (
        lambda api, user, label: api.call(
            user,
            "POST",
            f"/v1/recordings/{fresh_call(api, label)}/pause",
            json={"reason": "pci", "occurred_at": at(10)},
        ),
        {"pbx", "agent-n"},
    ),
    "resume": (
        lambda api, user, label: api.call(
            user,
            "POST",
            f"/v1/recordings/{fresh_call(api, label, state='paused')}/resume",
            json={"reason": "pci", "occurred_at": at(20)},
        ),
        {"pbx", "agent-n"},
    ),
    "end call": (
        lambda api, user, label: api.call(
            user,
            "POST",
            f"/v1/recordings/{fresh_call(api, label)}/end",
            json={"reason": "hangup", "occurred_at": at(30)},
        ),
        {"pbx"},
    ),
    "end acw": (
        lambda api, user, label: api.call(
            user,
            "POST",
            f"/v1/recordings/{fresh_call(api, label, state='acw')}/acw-end",
            json={"reason": "status_change", "occurred_at": at(40)},
        ),
        {"pbx", "agent-n"},
    ),
    "tag": (
        lambda api, user, label: api.call(
            user,
            "POST",
            f"/v1/recordings/{fresh_call(api, label)}/tags",
            json={"key": "k", "value": "v", "occurred_at": at(1)},
        ),
        {"pbx", "agent-n"},
    ),
    "lifecycle batch": (
        lambda api, user, label: api.call(
            user,
            "POST",
            "/v1/lifecycle-events",
            json={
                "events": [
                    {
                        "type": "tag",
                        "recording_id": str(fresh_call(api, label)),
                        "key": "k",
                        "value": "v",
                        "occurred_at": at(1),
                    }
                ]
            },
        ),
        {"pbx", "agent-n"},
    ),
    "annotate": (
        lambda api, user, label: api.call(
            user,
            "POST",
            f"/v1/recordings/{fresh_call(api, label)}/annotations",
            json={"media_offset_ms": 1500, "text": "greeting skipped"},
        ),
        {"quinn", "sue"},  # within their teams: sam answers for another
    ),
    "place hold": (
        lambda api, user, label: api.call(
            user, "POST", f"/v1/recordings/{fresh_call(api, label)}/holds", json={"case_id": "C-1", "reason": "dispute"}
        ),
        {"lena"},
    ),
    "search": (
        lambda api, user, label: api.call(user, "GET", "/v1/recordings"),
        {"agent-n", "sam", "quinn", "lena", "aud"},
    ),
    "detail": (
        lambda api, user, label: api.call(user, "GET", f"/v1/recordings/{fresh_call(api, label)}"),
        {"agent-n", "quinn", "lena", "aud"},
    ),
    "history": (
        lambda api, user, label: api.call(user, "GET", f"/v1/recordings/{fresh_call(api, label)}/history"),
        {"quinn", "lena", "aud"},
    ),
    "audit trail": (lambda api, user, label: api.call(user, "GET", "/v1/audit"), {"lena", "aud"}),
    "create user": (
        lambda api, user, label: api.call(
            user, "POST", "/v1/users", json={"name": label.replace(" ", "-"), "role": "auditor"}
        ),
        {"root"},
    ),
    "read policy": (lambda api, user, label: api.call(user, "GET", "/v1/policy/versions"), {"root", "lena", "aud"}),
    "change policy": (
        lambda api, user, label: api.call(user, "PUT", "/v1/policy", json={"sampling_percent": 50, "reason": label}),
        {"root"},
    ),
    "list teams": (lambda api, user, label: api.call(user, "GET", "/v1/teams"), {"root"}),
}


@pytest.fixture
def group_commit() -> bool:
    return True  # the server's own default


def test_role_endpoint_matrix(api: Api) -> None:
    outcomes = {}
    for name, (endpoint, allowed) in ENDPOINTS.items():
        for user in ROLES:
            response = endpoint(api, user, f"{name} {user}")
            outcomes[(name, user)] = response.status_code
            if user in allowed:
                assert response.status_code < 300, (name, user, response.text)
            else:
                assert response.status_code == 403, (name, user, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.json()["status"] == 403
    refused = api.call("aud", "GET", "/v1/audit", params={"outcome": "refused", "limit": 1000}).json()["items"]
    denied = {(row["actor"], row["action"]) for row in refused}
    assert ("root", "search") in denied and ("sam", "view") in denied and ("aud", "annotate") in denied


def test_without_a_valid_token_every_endpoint_says_401(api: Api) -> None:
    for name, (endpoint, _) in ENDPOINTS.items():
        assert endpoint(api, None, f"anon {name}").status_code == 401, name
    api.tokens["forged"] = "cv_not-a-token"
    assert api.call("forged", "GET", "/v1/recordings").status_code == 401
    assert api.call(None, "GET", "/health").status_code == 200


def test_a_cached_caller_is_known_without_a_look_up_in_a_worker_thread(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller of nearly every request is in the token cache; the event loop answers it
    itself. Only a token not cached (or not valid) is looked up, in a worker thread."""
    identity = api.components.identity
    looked_up: list[str] = []
    principal_for = identity.principal_for
    monkeypatch.setattr(identity, "principal_for", lambda token: looked_up.append(token) or principal_for(token))
    identity.directory_changed()  # nothing cached
    assert [api.call("sam", "GET", "/v1/recordings").status_code for _ in range(3)] == [200, 200, 200]
    assert looked_up == [api.tokens["sam"]]
    api.tokens["forged"] = "cv_not-a-token"
    assert [api.call("forged", "GET", "/v1/recordings").status_code for _ in range(2)] == [401, 401]
    assert looked_up == [api.tokens["sam"], "cv_not-a-token", "cv_not-a-token"]  # a refusal is never cached
    identity.directory_changed()  # e.g. sam's token rotated: asked again
    assert api.call("sam", "GET", "/v1/recordings").status_code == 200
    assert looked_up[-1] == api.tokens["sam"] and len(looked_up) == 4


def test_supervisor_asking_for_another_teams_recording_is_refused_and_audited(api: Api) -> None:
    north_east = fresh_call(api, "ne-1")
    south = fresh_call(api, "s-1", agent="agent-s")
    refused = api.call("sam", "GET", f"/v1/recordings/{north_east}")
    assert refused.status_code == 403 and "outside the teams" in refused.json()["detail"]
    assert api.call("sam", "GET", f"/v1/recordings/{south}").status_code == 200
    # sue answers for north, and so for north-east below it, but not for south.
    assert api.call("sue", "GET", f"/v1/recordings/{north_east}").status_code == 200
    assert api.call("sue", "GET", f"/v1/recordings/{south}").status_code == 403
    trail = api.call("lena", "GET", "/v1/audit", params={"recording": str(north_east), "limit": 1000}).json()["items"]
    assert {"actor": "sam", "action": "view", "outcome": "refused"}.items() <= next(
        row for row in trail if row["actor"] == "sam"
    ).items()
    assert any(row["actor"] == "sue" and row["outcome"] == "allowed" for row in trail)


def test_search_is_scoped_by_hierarchy_and_audited(api: Api) -> None:
    mine = fresh_call(api, "mine-1")
    theirs = fresh_call(api, "theirs-1", agent="agent-s")
    seen = {UUID(r["recording_id"]) for r in api.call("sue", "GET", "/v1/recordings").json()["items"]}
    assert mine in seen and theirs not in seen
    assert {UUID(r["recording_id"]) for r in api.call("agent-s", "GET", "/v1/recordings").json()["items"]} == {theirs}
    by_team = api.call("lena", "GET", "/v1/recordings", params={"team": "north"}).json()["items"]
    assert {UUID(r["recording_id"]) for r in by_team} == {mine}
    assert api.call("lena", "GET", "/v1/recordings", params={"team": "nowhere"}).status_code == 404
    trail = api.call("aud", "GET", "/v1/audit", params={"actor": "sue", "action": "search"}).json()["items"]
    assert [UUID(row["recording_id"]) for row in trail] == [mine]
    # One agent asked for: theirs if in reach, nothing if not.
    for agent, expected in (("agent-n", {mine}), ("agent-s", set())):
        found = api.call("sue", "GET", "/v1/recordings", params={"agent": agent}).json()["items"]
        assert {UUID(r["recording_id"]) for r in found} == expected
