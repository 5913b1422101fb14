"""Historical reports for supervisors and quality leads: figures over a time range, read from
the views by SQL aggregates (adapters/report_queries.py), never by replaying recordings.

Each report covers the calls started in [from, to), by UTC day. Supervisors and quality
managers see the agents of their teams (the search's scope), legal and auditors everyone;
agents and admins none. Producing a report is recorded in the audit trail: who, which
report, which range and filters, in which format.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from adapters.report_queries import ReportQuery
from adapters.view_store import ViewStore
from api.services.access import AccessControl
from api.services.identity import Identity
from domain.access_record import Outcome
from domain.errors import InvalidCommand, NotFound
from domain.ledger import RecordingLedger
from domain.permissions import Action, OrgChart, Principal, visible_agents
from projections.runner import Projections

# Longest range one report covers: a year of a large center's calls stays one aggregate.
MAX_RANGE = timedelta(days=366)
NO_TEAM = ""  # an agent the directory places in no team (or does not know)


class ReportRequest(msgspec.Struct, kw_only=True, frozen=True):
    started_from: datetime  # naive times are UTC
    started_until: datetime
    agent: str | None = None
    team: str | None = None  # and the teams below it
    queue: str | None = None
    format: str = "json"  # recorded with the access: a CSV report leaves the building


class Report(msgspec.Struct, kw_only=True):
    report: str
    title: str
    started_from: datetime = msgspec.field(name="from")
    started_until: datetime = msgspec.field(name="to")
    filters: dict[str, str]
    total: int  # rows of an aggregate; recordings (or detections) matched by a list, even past MAX_LISTED
    rows: list[Any]


# -- the rows of each report ------------------------------------------------


class VolumeRow(msgspec.Struct, kw_only=True):
    day: str
    team: str
    agent: str
    queue: str
    calls: int
    duration_ms: int  # talk time of the calls that ended


class CoverageRow(msgspec.Struct, kw_only=True):
    day: str
    queue: str
    calls: int
    screen_selected: int
    expected_selected: float  # the policy's share of these calls: each at the percentage in force when it started
    expected_percent: float
    selected_percent: float
    captured: int  # calls with at least one screen segment stored
    captured_percent: float


class ListedRow(msgspec.Struct, kw_only=True):
    recording_id: UUID
    interaction_id: str
    started_at: datetime
    team: str
    agent: str
    queue: str
    status: str
    segments_received: int
    missing_count: int


class PauseRow(msgspec.Struct, kw_only=True):
    day: str
    team: str
    agent: str
    calls: int
    paused_calls: int
    pauses: int
    pause_ms: int


class AcwRow(msgspec.Struct, kw_only=True):
    day: str
    team: str
    agent: str
    acw_ended: int
    timeouts: int
    timeout_percent: float  # of the calls whose after-call work ended


class EvaluationScoreRow(msgspec.Struct, kw_only=True):
    day: str  # when the evaluations were submitted
    team: str
    agent: str
    evaluations: int
    average_score: float  # of each evaluation's current revision
    lowest_score: float
    fatal_failed: int
    disputed: int  # the agent disputes the current revision


class CardRow(msgspec.Struct, kw_only=True):
    recording_id: UUID
    interaction_id: str
    started_at: datetime
    team: str
    agent: str
    queue: str
    start_ms: int  # where on the call's clock (the number itself is never stored)
    end_ms: int
    detected_at: datetime


@dataclass(frozen=True)
class Series:
    """One measure of a chart per label: the sum of ``field`` (None: the rows), or that sum as a
    percentage of the sum of ``per``, or the mean of ``field`` weighted by ``weight``."""

    label: str
    field: str | None = None
    per: str | None = None
    weight: str | None = None


@dataclass(frozen=True)
class Chart:
    by: str  # the row field the bars are labelled with
    series: tuple[Series, ...]
    unit: str = ""


@dataclass(frozen=True)
class ReportKind:
    title: str
    about: str
    row: type[msgspec.Struct]
    chart: Chart
    listed: bool = False  # a list of recordings rather than an aggregate
    views: tuple[str, ...] = ("recordings",)


REPORTS: dict[str, ReportKind] = {
    "recordings": ReportKind(
        "Recordings by agent, team, queue and day",
        "How many calls each agent took, per queue and day, and their total talk time.",
        VolumeRow,
        Chart("agent", (Series("calls", "calls"),)),
    ),
    "screen-coverage": ReportKind(
        "Screen coverage against the sampling policy",
        "Calls whose screen the policy selected, the share it should have selected (its percentage "
        "when each call started) and the calls whose screen was actually captured, per day and queue.",
        CoverageRow,
        Chart(
            "queue",
            (
                Series("expected", "expected_selected", "calls"),
                Series("selected", "screen_selected", "calls"),
                Series("captured", "captured", "calls"),
            ),
            "%",
        ),
    ),
    "missing-segments": ReportKind(
        "Recordings with missing screen segments",
        "Screen-recorded calls with segments the capture client produced that never arrived.",
        ListedRow,
        Chart("agent", (Series("recordings"),)),
        listed=True,
    ),
    "without-voice": ReportKind(
        "Recordings without voice",
        "Calls that ended with no voice recording stored.",
        ListedRow,
        Chart("agent", (Series("recordings"),)),
        listed=True,
    ),
    "pauses": ReportKind(
        "Pauses",
        "How often each agent paused recording (e.g. for card details) and for how long, per day.",
        PauseRow,
        Chart("agent", (Series("pauses", "pauses"),)),
    ),
    "acw-timeouts": ReportKind(
        "After-call work ended by timeout",
        "Calls whose after-call work the scheduler ended at the policy's timeout, per agent and day.",
        AcwRow,
        Chart("agent", (Series("timed out", "timeouts", "acw_ended"),), "%"),
    ),
    "evaluation-scores": ReportKind(
        "Evaluation scores by agent and team over time",
        "Quality evaluations submitted per day: how many, their average and lowest score (each at its "
        "current revision), fatal failures and disputes.",
        EvaluationScoreRow,
        Chart("day", (Series("average score", "average_score", weight="evaluations"),), "%"),
        views=("recordings", "evaluations"),
    ),
    "card-data": ReportKind(
        "Card data spoken",
        "Where a card number was spoken outside a pause (from the audit trail's detections; never the number).",
        CardRow,
        Chart("agent", (Series("detections"),)),
        listed=True,
        views=("recordings", "audit_trail"),
    ),
}


def _percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


class _Shaping:
    """What turning the views' answer into report rows needs besides the rows."""

    def __init__(self, ledger: RecordingLedger, org: OrgChart) -> None:
        self._ledger = ledger
        names = {team_id: name for name, team_id in org.team_names.items()}
        self._teams = {agent: names.get(team, NO_TEAM) for team, agents in org.agents_in.items() for agent in agents}

    def team(self, agent: str) -> str:
        return self._teams.get(agent, NO_TEAM)

    def rows(self, name: str, raw: list[dict[str, Any]]) -> list[Any]:
        if name == "screen-coverage":
            return self._coverage(raw)
        if name == "acw-timeouts":
            for r in raw:
                r["timeout_percent"] = _percent(r["timeouts"], r["acw_ended"])
        if name == "evaluation-scores":
            for r in raw:
                r.update(average_score=round(r["average_score"], 2), lowest_score=round(r["lowest_score"], 2))
        if name == "card-data":
            for r in raw:
                r.update(start_ms=r["detail"]["start_ms"], end_ms=r["detail"]["end_ms"])
        row = REPORTS[name].row
        return [msgspec.convert({**r, "team": self.team(r["agent"])}, row, strict=False) for r in raw]

    def _coverage(self, raw: list[dict[str, Any]]) -> list[CoverageRow]:
        """The views count calls per policy version; each version's percentage (per queue) says
        how many of them it should have selected."""
        merged: defaultdict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        for r in raw:
            terms = self._ledger.policy_terms(r["policy_version"])
            percent = terms.sampling_by_queue.get(r["queue"], terms.sampling_percent)
            sums = merged[r["day"], r["queue"]]
            for i, value in enumerate((r["calls"], r["screen_selected"], r["captured"], r["calls"] * percent / 100)):
                sums[i] += value
        return [
            CoverageRow(
                day=day,
                queue=queue,
                calls=int(calls),
                screen_selected=int(selected),
                expected_selected=round(expected, 2),
                expected_percent=_percent(expected, calls),
                selected_percent=_percent(selected, calls),
                captured=int(captured),
                captured_percent=_percent(captured, calls),
            )
            for (day, queue), (calls, selected, captured, expected) in sorted(merged.items())
        ]


def _utc(name: str, moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00, before the first UTC instant there is
        raise InvalidCommand(f"{name} is out of range") from None


def as_csv(report: Report) -> str:
    """The rows with one column per field, as the JSON's rows have them."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = REPORTS[report.report].row.__struct_fields__
    writer.writerow(columns)
    for row in msgspec.to_builtins(report.rows):
        writer.writerow(row[c] for c in columns)
    return out.getvalue()


class Reports:
    def __init__(
        self,
        ledger: RecordingLedger,
        views: ViewStore,
        projections: Projections,
        identity: Identity,
        access: AccessControl,
    ) -> None:
        self._ledger = ledger
        self._views = views
        self._projections = projections
        self._identity = identity
        self._access = access

    def produce(self, principal: Principal, name: str, request: ReportRequest) -> Report:
        """One report over the caller's reach; the access is on the record before it is answered."""
        started_from, started_until = _utc("from", request.started_from), _utc("to", request.started_until)
        filters = {
            "report": name,
            "from": started_from.isoformat(),
            "to": started_until.isoformat(),
            **{k: v for k in ("agent", "team", "queue", "format") if (v := getattr(request, k)) is not None},
        }
        self._access.allow(principal, Action.REPORT_READ, filters)
        kind = REPORTS.get(name)
        if kind is None:
            raise NotFound(f"no report named {name!r}; there are {', '.join(REPORTS)}")
        if started_from >= started_until:
            raise InvalidCommand("from must be before to")
        if started_until - started_from > MAX_RANGE:
            raise InvalidCommand(f"a report covers at most {MAX_RANGE.days} days")
        org = self._identity.org()
        query = ReportQuery(
            started_from=started_from,
            started_until=started_until,
            agent_ids=self._agents(principal, org, request),
            queue=request.queue,
        )
        # As of now, whoever logged it: a report must not miss what another process recorded.
        self._projections.catch_up(views=list(kind.views))
        raw = self._views.report(name, query)
        rows = _Shaping(self._ledger, org).rows(name, raw)
        total = raw[0]["total"] if kind.listed and raw else len(rows)
        listed = sorted({r.recording_id for r in rows}) if kind.listed else []
        self._access.record(principal, Action.REPORT_READ, Outcome.ALLOWED, listed, filters)
        return Report(
            report=name,
            title=kind.title,
            started_from=started_from,
            started_until=started_until,
            filters={k: v for k, v in filters.items() if k in ("agent", "team", "queue")},
            total=total,
            rows=rows,
        )

    @staticmethod
    def _agents(principal: Principal, org: OrgChart, request: ReportRequest) -> frozenset[str] | None:
        """The agents whose calls the report counts: the caller's reach, narrowed by the filters."""
        scope = visible_agents(principal, org)
        if request.team is not None:
            if request.team not in org.team_names:
                raise NotFound(f"no team named {request.team!r}")
            in_team = org.agents_of([org.team_names[request.team]])
            scope = in_team if scope is None else scope & in_team
        if request.agent is not None:
            scope = frozenset({request.agent}) if scope is None or request.agent in scope else frozenset()
        return scope
