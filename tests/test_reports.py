"""The historical reports against the simulated day: every figure counted again here, by a
plain loop over the day's steps (card data: over the log's events), and compared with the
API's JSON; the CSV says the same; reach, refusals and bad ranges; the audit trail."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from api.cli.simulation import Step
from api.services.reports import REPORTS
from domain import commands
from domain.evaluation_form import Answer, Question
from domain.recording import Recording
from domain.transcript import Utterance, Word
from domain.values import Actor
from tests.support.api_client import Api
from tests.support.simulated_day import (
    AFTERNOON_POLICY,
    DAY,
    MORNING_POLICY,
    NOON,
    PBX,
    simulate_report_day,
)
from tests.test_one_service_for_http_and_cli import cli  # noqa: F401  (a fixture: `callvault` on the API's store)

WHOLE_DAY = {"from": "2026-11-23T00:00:00Z", "to": "2026-11-24T00:00:00Z"}
# The simulated agents in the conftest's org: sue and quinn reach north-east, sam south;
# agent-003 and agent-004 sit in no team (legal and auditors still see them).
TEAM_OF = {"agent-000": "north-east", "agent-001": "north-east", "agent-002": "south"}
NORTH_EAST = {"agent-000", "agent-001"}
CARD_WORDS = "my card is 4111 1111 1111 1111".split()
QUINN = Actor("quinn", "quality")
YES_NO = (Answer("yes", "Yes", 100), Answer("no", "No", 0))
FORM = (
    Question(
        "resolution",
        "How well was the issue resolved?",
        3,
        False,
        tuple(Answer(str(p), str(p), p) for p in (0, 25, 50, 75, 100)),
    ),
    Question("pci", "Asked for card details only while paused?", 1, True, YES_NO),
)
# Answers to FORM, one evaluation per call: a fatal failure, a revision and two disputes among them.
EVALUATIONS = [("100", "yes"), ("75", "yes"), ("50", "no"), ("25", "yes"), ("100", "yes"), ("75", "yes"), ("0", "yes")]
EVENING = DAY.replace(hour=22)


@dataclass
class Call:
    interaction: str
    agent: str
    queue: str
    started: datetime
    ended: datetime | None = None
    pauses: list[list[datetime]] = field(default_factory=list)
    acw_reason: str | None = None
    segments: set[int] = field(default_factory=set)
    voice: bool = False

    @property
    def day(self) -> str:
        return self.started.date().isoformat()

    @property
    def team(self) -> str:
        return TEAM_OF.get(self.agent, "")

    @property
    def missing(self) -> int:
        return len(set(range(max(self.segments) + 1)) - self.segments) if self.segments else 0

    def percent(self) -> float:
        terms = MORNING_POLICY if self.started < NOON else AFTERNOON_POLICY
        return terms.sampling_by_queue.get(self.queue, terms.sampling_percent)

    def selected(self) -> bool:
        terms = MORNING_POLICY if self.started < NOON else AFTERNOON_POLICY
        return terms.selects_screen(self.interaction, self.queue)


def calls_of(steps: list[Step]) -> dict[int, Call]:
    calls: dict[int, Call] = {}
    for step in steps:
        if step.command is commands.StartCall:
            calls[step.call] = Call(step.args["interaction_id"], step.args["agent_id"], step.args["queue"], step.at)
            continue
        call = calls[step.call]
        if step.command is commands.Pause:
            call.pauses.append([step.at])
        elif step.command is commands.Resume:
            call.pauses[-1].append(step.at)
        elif step.command is commands.EndCall:
            call.ended = step.at
        elif step.command is commands.EndAcw:
            call.acw_reason = step.args["reason"]
        elif step.command is commands.AddSegment:
            call.segments.add(step.args["sequence_number"])
        elif step.command is commands.RecordVoice:
            call.voice = True
    return calls


def _percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def _ms(span: timedelta) -> int:
    return span // timedelta(milliseconds=1)


def expected_volume(calls: list[Call]) -> list[tuple[Any, ...]]:
    counted: Counter[tuple[str, str, str, str]] = Counter()
    talk: Counter[tuple[str, str, str, str]] = Counter()
    for c in calls:
        key = (c.day, c.team, c.agent, c.queue)
        counted[key] += 1
        # As the view folds a call's duration: its seconds, as a float, times 1000, truncated.
        talk[key] += int((c.ended - c.started).total_seconds() * 1000) if c.ended else 0
    return sorted((*key, counted[key], talk[key]) for key in counted)


def expected_coverage(calls: list[Call]) -> list[tuple[Any, ...]]:
    sums: defaultdict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    for c in calls:
        tally = sums[c.day, c.queue]
        tally[0] += 1
        tally[1] += c.selected()
        tally[2] += bool(c.segments)
        tally[3] += c.percent() / 100
    return sorted(
        (day, queue, n, selected, round(expected, 2), _percent(selected, n), captured, _percent(captured, n))
        for (day, queue), (n, selected, captured, expected) in sums.items()
    )


def expected_pauses(calls: list[Call]) -> list[tuple[Any, ...]]:
    sums: defaultdict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in calls:
        tally = sums[c.day, c.team, c.agent]
        tally[0] += 1
        tally[1] += bool(c.pauses)
        tally[2] += len(c.pauses)
        tally[3] += sum(_ms(resumed - paused) for paused, resumed in c.pauses)
    return sorted((*key, *tally) for key, tally in sums.items())


def expected_acw(calls: list[Call]) -> list[tuple[Any, ...]]:
    sums: defaultdict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in calls:
        tally = sums[c.day, c.team, c.agent]
        tally[0] += c.acw_reason is not None
        tally[1] += c.acw_reason == "timeout"
    return sorted((*key, ended, timeouts, _percent(timeouts, ended)) for key, (ended, timeouts) in sums.items())


# Each report's rows as tuples of these fields, against the expected tuples.
FIELDS = {
    "recordings": ("day", "team", "agent", "queue", "calls", "duration_ms"),
    "screen-coverage": (
        "day",
        "queue",
        "calls",
        "screen_selected",
        "expected_selected",
        "selected_percent",
        "captured",
        "captured_percent",
    ),
    "pauses": ("day", "team", "agent", "calls", "paused_calls", "pauses", "pause_ms"),
    "acw-timeouts": ("day", "team", "agent", "acw_ended", "timeouts", "timeout_percent"),
    "missing-segments": ("interaction_id", "team", "agent", "missing_count"),
    "without-voice": ("interaction_id", "team", "agent"),
    "card-data": ("interaction_id", "team", "agent", "start_ms", "end_ms"),
    "evaluation-scores": (
        "day",
        "team",
        "agent",
        "evaluations",
        "average_score",
        "lowest_score",
        "fatal_failed",
        "disputed",
    ),
}
EXPECTED: dict[str, Callable[[list[Call]], list[tuple[Any, ...]]]] = {
    "recordings": expected_volume,
    "screen-coverage": expected_coverage,
    "pauses": expected_pauses,
    "acw-timeouts": expected_acw,
    "missing-segments": lambda calls: sorted((c.interaction, c.team, c.agent, c.missing) for c in calls if c.missing),
    "without-voice": lambda calls: sorted((c.interaction, c.team, c.agent) for c in calls if c.ended and not c.voice),
}


@dataclass
class Evaluation:
    """One evaluation as its events in the log leave it."""

    day: str
    call: Call
    score: float = 0.0
    fatal: bool = False
    disputed: bool = False


def evaluations_in_log(events: list[Any], call: Call) -> list[Evaluation]:
    found: dict[str, Evaluation] = {}
    for e in events:
        if isinstance(e, Recording.EvaluationSubmitted):
            found[e.evaluation_id] = Evaluation(e.occurred_at.date().isoformat(), call)
        if isinstance(e, (Recording.EvaluationSubmitted, Recording.EvaluationRevised)):
            found[e.evaluation_id].score, found[e.evaluation_id].fatal = e.score_percent, e.fatal_failed
            found[e.evaluation_id].disputed = False
        if isinstance(e, Recording.EvaluationDisputed):
            found[e.evaluation_id].disputed = True
    return list(found.values())


def expected_scores(evaluations: list[Evaluation]) -> list[tuple[Any, ...]]:
    by: defaultdict[tuple[str, str, str], list[Evaluation]] = defaultdict(list)
    for e in evaluations:
        by[e.day, e.call.team, e.call.agent].append(e)
    return sorted(
        (
            *key,
            len(them),
            round(sum(e.score for e in them) / len(them), 2),
            round(min(e.score for e in them), 2),
            sum(e.fatal for e in them),
            sum(e.disputed for e in them),
        )
        for key, them in by.items()
        if key[0] == DAY.date().isoformat()  # the range: evaluations submitted on the day
    )


@dataclass
class Day:
    calls: list[Call]
    # Card data as the log recorded it: (interaction, team, agent, start_ms, end_ms)
    detections: list[tuple[Any, ...]]
    evaluations: list[Evaluation]

    def expected(self, report: str, agents: set[str] | None = None) -> list[tuple[Any, ...]]:
        reached = [c for c in self.calls if agents is None or c.agent in agents]
        if report == "card-data":
            names = {c.interaction for c in reached}
            return sorted(d for d in self.detections if d[0] in names)
        if report == "evaluation-scores":
            return expected_scores([e for e in self.evaluations if e.call in reached])
        return EXPECTED[report](reached)


@pytest.fixture
def day(api: Api) -> Day:
    ledger = api.components.ledger
    setup = Actor("test-setup", "admin")
    for agent, team in TEAM_OF.items():
        ledger.register_user(name=agent, role="agent", team=team, occurred_at=DAY, by=setup)
    api.components.identity.directory_changed()
    calls = calls_of(simulate_report_day(ledger))
    # A card number spoken in two calls that were never paused: one of north-east's, one outside it.
    spoken = [
        next(c for c in calls.values() if c.agent in agents and not c.pauses) for agents in (NORTH_EAST, {"agent-003"})
    ]
    detections = []
    for call in spoken:
        recording_id = ledger.recording_id(call.interaction)
        words = tuple(Word(text, 4000 + 700 * i, 4600 + 700 * i) for i, text in enumerate(CARD_WORDS))
        transcript = commands.RecordTranscript(
            recording_id,
            source="telephony",
            utterances=(Utterance("customer", 4000, words[-1].end_ms, " ".join(CARD_WORDS), words),),
            occurred_at=call.ended or NOON,
            by=PBX,
        )
        ledger.execute(transcript)
        detections += [
            (call.interaction, call.team, call.agent, e.start_ms, e.end_ms)
            for e in ledger.history(recording_id).events
            if isinstance(e, Recording.CardDataDetected)
        ]
    assert len(detections) == 2  # the day holds what every report counts
    return Day(list(calls.values()), detections, evaluate(api, list(calls.values())))


def evaluate(api: Api, calls: list[Call]) -> list[Evaluation]:
    """Quinn evaluates a few calls of each agent in the evening (the last the next morning,
    outside the range); the first is revised after a dispute, the second disputed."""
    ledger = api.components.ledger
    version, _ = ledger.publish_form(form_id="inbound", title="Inbound", questions=FORM, occurred_at=DAY, by=QUINN)
    chosen = [c for agent in sorted({c.agent for c in calls}) for c in calls if c.agent == agent][:: len(calls) // 7]
    found = []
    for i, (call, (resolution, pci)) in enumerate(zip(chosen, EVALUATIONS, strict=False)):
        recording_id = ledger.recording_id(call.interaction)
        at = EVENING + timedelta(minutes=i) if i < len(EVALUATIONS) - 1 else EVENING + timedelta(hours=12)
        content = dict(evaluation_id=f"ev-{i}", form_id="inbound", form_version=version, by=QUINN)
        answers = {"resolution": resolution, "pci": pci}
        ledger.execute(commands.SubmitEvaluation(recording_id, answers=answers, occurred_at=at, **content))
        if i < 2:
            agent = Actor(call.agent, "agent")
            ledger.execute(
                commands.DisputeEvaluation(
                    recording_id, evaluation_id=f"ev-{i}", revision=1, comment="I did", occurred_at=at, by=agent
                )
            )
        if i == 0:
            revised = {"resolution": "50", "pci": "yes"}
            ledger.execute(commands.ReviseEvaluation(recording_id, answers=revised, occurred_at=at, **content))
        found += evaluations_in_log(ledger.history(recording_id).events, call)
    assert len(found) == len(EVALUATIONS)
    return found


def rows_of(api: Api, user: str, report: str, **params: str) -> list[tuple[Any, ...]]:
    response = api.call(user, "GET", f"/v1/reports/{report}", params={**WHOLE_DAY, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["report"] == report and body["total"] == len(body["rows"])
    return sorted(tuple(row[f] for f in FIELDS[report]) for row in body["rows"])


def test_every_report_matches_the_day_counted_independently(api: Api, day: Day) -> None:
    for report in REPORTS:
        expected = day.expected(report)
        assert expected, f"the simulated day has nothing for {report}"
        assert rows_of(api, "lena", report) == expected, report
        assert rows_of(api, "aud", report) == expected, report
        # Supervisors and quality managers: their teams' agents only, and the same figures for them.
        assert rows_of(api, "sue", report) == day.expected(report, NORTH_EAST), report
        assert rows_of(api, "quinn", report) == day.expected(report, NORTH_EAST), report
        assert rows_of(api, "sam", report) == day.expected(report, {"agent-002"}), report
        # Filters narrow within the reach, never beyond it.
        assert rows_of(api, "lena", report, team="south") == day.expected(report, {"agent-002"}), report
        assert rows_of(api, "sue", report, agent="agent-002") == [], report
    queue = "billing"
    billing = [c for c in day.calls if c.queue == queue]
    assert rows_of(api, "lena", "recordings", queue=queue) == expected_volume(billing)
    # The morning and afternoon policies differ, so the expected share is not one percentage.
    assert {c.percent() for c in day.calls} == {50, 75, 100}


def test_csv_says_what_json_says_and_each_report_is_audited(api: Api, day: Day) -> None:
    for report in REPORTS:
        as_json = api.call("lena", "GET", f"/v1/reports/{report}", params=WHOLE_DAY).json()
        response = api.call("lena", "GET", f"/v1/reports/{report}", params={**WHOLE_DAY, "format": "csv"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert rows == [{k: "" if v is None else str(v) for k, v in row.items()} for row in as_json["rows"]]
    trail = api.call("aud", "GET", "/v1/audit/", params={"action": "historical_report", "actor": "lena"}).json()
    produced = [(e["detail"]["report"], e["detail"].get("format")) for e in trail["items"] if e["item"] == 0]
    assert produced == [(report, form) for report in REPORTS for form in ("json", "csv")]
    first = next(e for e in trail["items"] if e["detail"]["report"] == "missing-segments")
    assert (first["detail"]["from"], first["detail"]["to"]) == (
        "2026-11-23T00:00:00+00:00",
        "2026-11-24T00:00:00+00:00",
    )
    # A list names the recordings it showed: each is an access to that recording.
    listed = {UUID(e["recording_id"]) for e in trail["items"] if e["detail"]["report"] == "missing-segments"}
    assert listed == {api.components.ledger.recording_id(i) for i, *_ in day.expected("missing-segments")}


@pytest.mark.parametrize("user", ["agent-n", "root", "pbx"])
def test_agents_admins_and_telephony_get_no_report(api: Api, user: str) -> None:
    response = api.call(user, "GET", "/v1/reports/recordings", params=WHOLE_DAY)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    refusals = api.call("aud", "GET", "/v1/audit/", params={"action": "historical_report", "outcome": "refused"})
    assert [e["actor"] for e in refusals.json()["items"]] == [user]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("recordings", {"from": "2026-11-24T00:00:00Z", "to": "2026-11-23T00:00:00Z"}, 422),
        ("recordings", {"from": "2026-11-23T00:00:00Z", "to": "2026-11-23T00:00:00Z"}, 422),
        ("recordings", {"from": "2025-01-01T00:00:00Z", "to": "2026-11-23T00:00:00Z"}, 422),
        ("recordings", {"from": "0001-01-01T00:00:00+05:00", "to": "0001-01-02T00:00:00+05:00"}, 422),
        ("recordings", {"from": "yesterday", "to": "2026-11-23T00:00:00Z"}, 422),
        ("recordings", {"from": "2026-11-23T00:00:00Z"}, 422),
        ("nonsense", WHOLE_DAY, 404),
        ("pauses", {**WHOLE_DAY, "team": "nowhere"}, 404),
        ("pauses", {**WHOLE_DAY, "format": "xml"}, 422),
    ],
)
def test_bad_requests_are_problems_not_errors(api: Api, path: str, params: dict[str, str], status: int) -> None:
    response = api.call("lena", "GET", f"/v1/reports/{path}", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_console_shows_each_report_as_a_chart_a_table_and_a_csv_link(api: Api, day: Day) -> None:
    html = {"accept": "text/html"}
    index = api.call("sue", "GET", "/reports", headers=html)
    assert index.status_code == 200 and "script-src 'self'" in index.headers["content-security-policy"]
    assert all(f'data-report="{name}"' in index.text for name in REPORTS)
    for report in REPORTS:
        page = api.call("sue", "GET", f"/reports/{report}?from=2026-11-23&through=2026-11-23", headers=html)
        assert page.status_code == 200, page.text
        assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in page.text
        table = page.text.split('<table id="report-rows">')[1].split("</table>")[0]
        expected = day.expected(report, NORTH_EAST)
        assert table.count("<tr>") == 1 + max(len(expected), 1)  # the header, the rows (or "nothing")
        csv_url = page.text.split('id="report-csv" href="')[1].split('"')[0].replace("&amp;", "&")
        assert csv_url.startswith(f"/v1/reports/{report}?from=2026-11-23T00")
        as_csv = api.call("sue", "GET", csv_url)
        assert as_csv.status_code == 200 and len(as_csv.text.splitlines()) == 1 + len(expected)
    refused = api.call("agent-n", "GET", "/reports", headers=html)
    assert refused.status_code == 403 and "historical report" in refused.text


def test_the_command_line_produces_the_same_report_audited_alike(api: Api, day: Day, cli) -> None:  # noqa: F811
    args = ["report", "pauses", "--from", "2026-11-23", "--to", "2026-11-24", "--team", "north", "--as", "lena"]
    from_cli = json.loads(cli(*args, "--format", "json"))
    from_http = api.call("lena", "GET", "/v1/reports/pauses", params={**WHOLE_DAY, "team": "north"}).json()
    assert from_cli == from_http and from_cli["rows"]
    assert sorted(tuple(r[f] for f in FIELDS["pauses"]) for r in from_cli["rows"]) == day.expected("pauses", NORTH_EAST)
    assert cli(*args).splitlines()[0] == ",".join(FIELDS["pauses"])  # CSV unless asked otherwise
    trail = api.call("aud", "GET", "/v1/audit/", params={"action": "historical_report"}).json()["items"]
    assert [(e["actor"], e["detail"]["format"]) for e in trail] == [("lena", "json"), ("lena", "json"), ("lena", "csv")]
