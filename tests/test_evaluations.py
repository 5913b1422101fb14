"""Evaluations end to end over HTTP, on both engines: a quality manager publishes a form and
evaluates a call, the agent disputes, the evaluator revises, the agent acknowledges; who may
read what; bad input refused as problem+json; the view rebuilt alike; comments gone after purge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.settings import Settings
from domain.values import REDACTED
from tests.support.api_client import Api
from tests.support.view_contents import all_evaluations
from tests.test_purge import database_files, purge_immediately, raw_hits

FORM = {
    "title": "Inbound sales",
    "questions": [
        {
            "id": "greeting",
            "text": "Greeted the customer by name?",
            "answers": [
                {"id": "yes", "label": "Yes", "points": 100},
                {"id": "no", "label": "No", "points": 0},
                {"id": "na", "label": "n/a", "points": None},
            ],
        },
        {
            "id": "resolution",
            "text": "How well was the issue resolved?",
            "weight": 3,
            "answers": [{"id": str(n), "label": str(n), "points": (n - 1) * 25} for n in range(1, 6)],
        },
        {
            "id": "pci",
            "text": "Card details asked for only while paused?",
            "fatal": True,
            "answers": [{"id": "yes", "label": "Yes", "points": 100}, {"id": "no", "label": "No", "points": 0}],
        },
    ],
}
ANSWERS = {"greeting": "yes", "resolution": "4", "pci": "yes"}


def ended_call(api: Api, interaction: str, agent: str = "agent-n") -> str:
    """A call of 30 s and 30 s of after-call work, ended ten minutes ago."""
    started = datetime.now(UTC) - timedelta(minutes=10)
    at = lambda s: (started + timedelta(seconds=s)).isoformat()  # noqa: E731
    started_call = api.call(
        "pbx",
        "POST",
        "/v1/recordings",
        json={
            "interaction_id": interaction,
            "agent_id": agent,
            "customer_id": "cust-eval",
            "queue": "sales",
            "direction": "inbound",
            "occurred_at": at(0),
        },
    )
    assert started_call.status_code == 201, started_call.text
    rid: str = started_call.json()["recording_id"]
    for path, body in (("end", {"occurred_at": at(30)}), ("acw-end", {"occurred_at": at(60)})):
        assert api.call("pbx", "POST", f"/v1/recordings/{rid}/{path}", json=body).status_code == 200
    return rid


def publish(api: Api, form: dict[str, Any] = FORM) -> Any:
    return api.call("quinn", "POST", "/v1/evaluation-forms/inbound-sales/versions", json=form)


def evaluate(api: Api, rid: str, **body: Any) -> Any:
    fields = {"form_id": "inbound-sales", "form_version": 1, "answers": ANSWERS, **body}
    return api.call("quinn", "POST", f"/v1/recordings/{rid}/evaluations", json=fields)


def assert_problem(response: Any, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail in response.json()["detail"]


def test_evaluate_dispute_revise_acknowledge_in_the_history_and_on_the_timeline(api: Api, settings: Settings) -> None:
    purge_immediately(api)  # for the end: retention follows the policy a call started under
    secret = f"Ms Example-{uuid.uuid4().hex[:10]}"
    published = publish(api)
    assert published.status_code == 201 and published.json() == {
        "form_id": "inbound-sales",
        "version": 1,
        "applied": True,
    }
    assert publish(api).json()["applied"] is False  # a retried publish
    rid = ended_call(api, "eval-1")

    submitted = evaluate(
        api, rid, evaluation_id="ev-1", comments=[{"at_ms": 12_000, "text": f"{secret} was kept on hold"}]
    )
    assert submitted.status_code == 201, submitted.text
    assert submitted.json() == {
        "applied": True,
        "evaluation_id": "ev-1",
        "revision": 1,
        "score_percent": 85.0,  # (100 + 3 x 75 + 100) / 500
        "fatal_failed": False,
        "state": "submitted",
    }
    again = evaluate(api, rid, evaluation_id="ev-1", comments=[{"at_ms": 12_000, "text": f"{secret} was kept on hold"}])
    assert again.json()["applied"] is False
    disputed = api.call(
        "agent-n",
        "POST",
        f"/v1/recordings/{rid}/evaluations/ev-1/dispute",
        json={"revision": 1, "comment": "the hold was the supervisor's call"},
    )
    assert disputed.status_code == 200 and disputed.json() == {"applied": True}
    revised = api.call(
        "quinn",
        "POST",
        f"/v1/recordings/{rid}/evaluations/ev-1/revisions",
        json={
            "form_id": "inbound-sales",
            "form_version": 1,
            "answers": {**ANSWERS, "resolution": "5"},
            "comments": [{"at_ms": 20_000, "text": f"hold agreed with {secret}'s supervisor"}],
        },
    )
    assert revised.status_code == 201 and (revised.json()["revision"], revised.json()["score_percent"]) == (2, 100.0)
    acknowledged = api.call(
        "agent-n", "POST", f"/v1/recordings/{rid}/evaluations/ev-1/acknowledgement", json={"revision": 2}
    )
    assert acknowledged.status_code == 200 and acknowledged.json() == {"applied": True}

    history = api.call("quinn", "GET", f"/v1/recordings/{rid}/history").json()["events"]
    assert [(e["type"], e["actor"]) for e in history] == [
        ("CallStarted", "pbx"),
        ("CallEnded", "pbx"),
        ("AcwEnded", "pbx"),
        ("EvaluationSubmitted", "quinn"),
        ("EvaluationDisputed", "agent-n"),
        ("EvaluationRevised", "quinn"),
        ("EvaluationAcknowledged", "agent-n"),
    ]
    [evaluation] = api.call("agent-n", "GET", f"/v1/recordings/{rid}/evaluations").json()
    assert (evaluation["state"], evaluation["revision"], evaluation["agent_id"]) == ("acknowledged", 2, "agent-n")
    assert [(r["revision"], r["score_percent"], r["comments"]) for r in evaluation["revisions"]] == [
        (1, 85.0, [{"at_ms": 12_000, "text": f"{secret} was kept on hold"}]),
        (2, 100.0, [{"at_ms": 20_000, "text": f"hold agreed with {secret}'s supervisor"}]),
    ]
    assert [(r["revision"], r["kind"], r["comment"]) for r in evaluation["responses"]] == [
        (1, "disputed", "the hold was the supervisor's call"),
        (2, "acknowledged", ""),
    ]
    marks = [m for m in api.components.playback.timeline(uuid.UUID(rid)).marks if m.kind == "evaluation"]
    assert [(m.at_ms, m.label) for m in marks] == [(20_000, f"hold agreed with {secret}'s supervisor")]

    # The view lists it for the agent and its teams' reviewers, and a rebuild gives the same rows.
    [row] = api.call("agent-n", "GET", "/v1/evaluations").json()["items"]
    assert (row["recording_id"], row["evaluator"], row["revision"], row["state"]) == (rid, "quinn", 2, "acknowledged")
    assert api.call("sue", "GET", "/v1/evaluations", params={"agent": "agent-n"}).json()["items"] == [row]
    folded = all_evaluations(api.components.views), api.components.views.evaluation_forms()
    api.components.projections.rebuild(["evaluations"])
    assert (all_evaluations(api.components.views), api.components.views.evaluation_forms()) == folded
    # Comments never reach a view or the trail in clear.
    api.components.projections.catch_up()
    assert raw_hits(database_files(settings), [secret.encode()]) == []
    assert raw_hits(database_files(settings), [b"eval-1"])  # the search finds what is in clear

    # After a purge the comments read redacted; the steps and scores remain.
    run = api.call("root", "POST", "/v1/retention/run").json()
    assert rid in run["purged"]
    [after] = api.call("lena", "GET", f"/v1/recordings/{rid}/evaluations").json()
    assert [c["text"] for r in after["revisions"] for c in r["comments"]] == [REDACTED, REDACTED]
    assert [r["comment"] for r in after["responses"]] == [REDACTED, REDACTED]
    assert [r["score_percent"] for r in after["revisions"]] == [85.0, 100.0]
    assert [m.label for m in api.components.playback.timeline(uuid.UUID(rid)).marks] == [REDACTED]
    assert raw_hits(database_files(settings), [secret.encode()]) == []


def test_evaluations_are_read_within_reach_only(api: Api) -> None:
    publish(api)
    rid = ended_call(api, "eval-reach")
    assert evaluate(api, rid, evaluation_id="ev-r").status_code == 201
    path = f"/v1/recordings/{rid}/evaluations"
    for reader in ("agent-n", "sue", "quinn", "lena", "aud"):
        assert api.call(reader, "GET", path).status_code == 200, reader
    assert_problem(api.call("agent-s", "GET", path), 403, "outside the teams")  # another agent
    assert_problem(api.call("sam", "GET", path), 403, "outside the teams")  # a supervisor of another team
    assert_problem(api.call("root", "GET", path), 403, "may not read evaluations")
    assert api.call("agent-s", "GET", "/v1/evaluations").json()["items"] == []
    assert_problem(api.call("agent-s", "GET", "/v1/evaluations", params={"agent": "agent-n"}), 403, "outside")
    assert_problem(api.call("sam", "GET", "/v1/evaluations", params={"agent": "agent-n"}), 403, "outside")
    assert [r["evaluation_id"] for r in api.call("lena", "GET", "/v1/evaluations").json()["items"]] == ["ev-r"]
    # Pages follow each other newest first, each evaluation once.
    for n in range(4):
        assert evaluate(api, rid, evaluation_id=f"ev-{n}").status_code == 201
    seen, after = [], None
    while True:
        params = {"agent": "agent-n", "limit": 2, **({"after": after} if after else {})}
        page = api.call("quinn", "GET", "/v1/evaluations", params=params).json()
        seen += [r["evaluation_id"] for r in page["items"]]
        if (after := page["next"]) is None:
            break
    assert seen == ["ev-3", "ev-2", "ev-1", "ev-0", "ev-r"]
    assert_problem(api.call("quinn", "GET", "/v1/evaluations", params={"after": "nonsense"}), 422, "cursor")
    # Only the call's agent answers it, only a quality manager within reach evaluates it.
    dispute = {"revision": 1, "comment": "not my call"}
    assert_problem(api.call("agent-s", "POST", f"{path}/ev-r/dispute", json=dispute), 403, "outside the teams")
    assert_problem(api.call("sue", "POST", f"{path}/ev-r/dispute", json=dispute), 403, "may not respond")
    assert_problem(
        api.call("sue", "POST", path, json={"form_id": "inbound-sales", "form_version": 1, "answers": ANSWERS}),
        403,
        "may not evaluate",
    )
    elsewhere = ended_call(api, "eval-south", agent="agent-s")
    assert_problem(evaluate(api, elsewhere), 403, "outside the teams")
    trail = api.call("aud", "GET", "/v1/audit", params={"action": "read_evaluations", "limit": 1000}).json()["items"]
    assert {("sam", "refused"), ("agent-n", "allowed")} <= {(e["actor"], e["outcome"]) for e in trail}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"answers": {**ANSWERS, "smile": "yes"}}, 422, "no question smile"),
        ({"answers": {"greeting": "yes", "pci": "yes"}}, 422, "missing: resolution"),
        ({"answers": {**ANSWERS, "pci": "maybe"}}, 422, "no answer 'maybe'"),
        ({"comments": [{"at_ms": 60_001, "text": "after the end"}]}, 422, "within the call"),
        ({"form_version": 2}, 404, "no version 2"),
        ({"form_id": "outbound"}, 404, "no evaluation form 'outbound'"),
        ({"comments": [{"at_ms": 1000, "text": "bad\u0000text"}]}, 422, ""),
    ],
)
def test_bad_evaluations_are_refused_as_problems(api: Api, body: dict[str, Any], status: int, detail: str) -> None:
    publish(api)
    rid = ended_call(api, "eval-bad")
    assert_problem(evaluate(api, rid, **body), status, detail)
    assert api.call("quinn", "GET", f"/v1/recordings/{rid}/evaluations").json() == []


def test_bad_forms_revisions_and_responses_are_refused_as_problems(api: Api) -> None:
    duplicate = {**FORM, "questions": [FORM["questions"][0], FORM["questions"][0]]}
    assert_problem(publish(api, duplicate), 422, "question ids must be unique")
    assert_problem(publish(api, {**FORM, "questions": []}), 422, "")
    assert_problem(api.call("quinn", "GET", "/v1/evaluation-forms/inbound-sales"), 404, "no evaluation form")
    publish(api)
    publish(api, {**FORM, "title": "Inbound sales (v2)", "questions": FORM["questions"][1:]})
    assert (
        api.call("agent-n", "GET", "/v1/evaluation-forms/inbound-sales", params={"version": 1}).json()["title"]
        == "Inbound sales"
    )
    assert [
        (f["form_id"], f["version"], f["questions"]) for f in api.call("sue", "GET", "/v1/evaluation-forms").json()
    ] == [("inbound-sales", 2, 2)]
    assert_problem(api.call("root", "GET", "/v1/evaluation-forms"), 403, "")
    rid = ended_call(api, "eval-bad-revision")
    evaluate(api, rid, evaluation_id="ev-b")
    path = f"/v1/recordings/{rid}/evaluations"
    assert api.call("quinn", "POST", "/v1/evaluation-forms/outbound/versions", json=FORM).status_code == 201
    foreign = {"form_id": "outbound", "form_version": 1, "answers": ANSWERS}
    assert_problem(api.call("quinn", "POST", f"{path}/ev-b/revisions", json=foreign), 422, "own form")
    assert_problem(
        api.call("quinn", "POST", f"{path}/ev-x/revisions", json={**foreign, "form_id": "inbound-sales"}),
        404,
        "no evaluation 'ev-x'",
    )
    assert_problem(api.call("agent-n", "POST", f"{path}/ev-b/dispute", json={"revision": 1, "comment": ""}), 422, "")
    assert_problem(
        api.call("agent-n", "POST", f"{path}/ev-b/dispute", json={"revision": 2, "comment": "x"}),
        409,
        "not the current",
    )
    live = api.call(
        "pbx",
        "POST",
        "/v1/recordings",
        json={
            "interaction_id": "eval-live",
            "agent_id": "agent-n",
            "customer_id": "c",
            "queue": "sales",
            "direction": "inbound",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
    ).json()["recording_id"]
    assert_problem(evaluate(api, live), 409, "once it has ended")
