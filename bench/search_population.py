"""A contact center's month of recordings for bench/search.py, written through the real ledger.

The directory goes through the identity service (teams under floors, one
supervisor per team and per floor, so scopes are real); the calls are the
simulator's days (api/cli/simulation.py) spread over 30 days, 40 queues and a
shared pool of returning customers, under a policy that records 10% of screens,
with a few segments lost and a few calls held by legal. Several processes write
whole days each through a group-committing ledger, ``--batch`` commands per
``execute_all``; then every view catches up. A database and the master key its
personal fields are sealed with are kept together (``Population``) for re-runs.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from adapters import crypto
from adapters.event_store import open_ledger, open_view_store
from adapters.settings import Settings
from api.bootstrap import build
from api.cli.simulation import DayPlan, plan_day, run_day
from domain import commands
from domain.recording_policy import PolicyTerms
from domain.values import Actor
from projections.runner import Projections

KEPT = Path("var/bench-search")  # one JSON file per kept database
BENCH_ADMIN = Actor("bench-admin", "admin")
AGENTS_PER_TEAM = 20
TEAMS_PER_FLOOR = 10
DAYS = 30
QUEUES = tuple(f"q{n:02d}" for n in range(40))
SHIFT = timedelta(hours=10)  # calls start from 08:00 on each day


@dataclass
class Population:
    """What a generated database holds, enough to pick realistic query arguments."""

    database: str
    url: str
    master_key: str  # base64, as CALLVAULT_MASTER_KEY takes it
    recordings: int
    agents: int
    first_day: str  # ISO date
    days: int = DAYS
    queues: tuple[str, ...] = QUEUES
    customers: list[str] = field(default_factory=list)  # a sample of customers that called
    figures: dict[str, float] = field(default_factory=dict)  # generation and catch-up, as measured

    def settings(self) -> Settings:
        return Settings(database_url=self.url, master_key=self.master_key)

    @property
    def teams(self) -> int:
        return -(-self.agents // AGENTS_PER_TEAM)

    @property
    def floors(self) -> int:
        return -(-self.teams // TEAMS_PER_FLOOR)

    def agents_of_team(self, team: int) -> list[str]:
        return [agent_name(n) for n in range(team * AGENTS_PER_TEAM, min((team + 1) * AGENTS_PER_TEAM, self.agents))]

    def agents_of_floor(self, floor: int) -> list[str]:
        teams = range(floor * TEAMS_PER_FLOOR, min((floor + 1) * TEAMS_PER_FLOOR, self.teams))
        return [agent for team in teams for agent in self.agents_of_team(team)]

    def day(self, n: int) -> datetime:
        return datetime.combine(date.fromisoformat(self.first_day), datetime.min.time(), tzinfo=UTC) + timedelta(
            days=n, hours=8
        )

    def save(self) -> Path:
        KEPT.mkdir(parents=True, exist_ok=True)
        path = KEPT / f"{self.database}.json"
        path.write_text(json.dumps(asdict(self), indent=1))
        path.chmod(0o600)  # it holds the master key
        return path

    @classmethod
    def load(cls, database: str) -> Population:
        raw = json.loads((KEPT / f"{database}.json").read_text())
        raw["queues"] = tuple(raw["queues"])
        return cls(**raw)


def agent_name(n: int) -> str:
    return f"agent-{n:03d}"  # as plan_day names them


def team_name(n: int) -> str:
    return f"team-{n:03d}"


def floor_name(n: int) -> str:
    return f"floor-{n:02d}"


def team_supervisor(n: int) -> str:
    return f"sup-{n:03d}"


def floor_supervisor(n: int) -> str:
    return f"floor-sup-{n:02d}"


def directory(population: Population) -> int:
    """Floors, teams, agents and their supervisors through the identity service; returns operations."""
    components = build(population.settings(), serving=False)
    identity, done = components.identity, 0
    try:
        for floor in range(population.floors):
            identity.create_team(name=floor_name(floor), parent=None, by=BENCH_ADMIN)
            identity.register_user(name=floor_supervisor(floor), role="supervisor", team=None, by=BENCH_ADMIN)
            identity.make_responsible(floor_name(floor), user=floor_supervisor(floor), by=BENCH_ADMIN)
            done += 3
        for team in range(population.teams):
            identity.create_team(name=team_name(team), parent=floor_name(team // TEAMS_PER_FLOOR), by=BENCH_ADMIN)
            identity.register_user(name=team_supervisor(team), role="supervisor", team=None, by=BENCH_ADMIN)
            identity.make_responsible(team_name(team), user=team_supervisor(team), by=BENCH_ADMIN)
            for agent in population.agents_of_team(team):
                identity.register_user(name=agent, role="agent", team=team_name(team), by=BENCH_ADMIN)
            done += 3 + len(population.agents_of_team(team))
        for name, role in (("legal-1", "legal"), ("pbx-1", "telephony")):
            identity.register_user(name=name, role=role, team=None, by=BENCH_ADMIN)
            done += 1
        # A tenth of the screens, as simulate --screen-share 0.1 would set it.
        components.ledger.set_policy(
            terms=PolicyTerms(sampling_percent=10),
            reason="bench/search.py",
            occurred_at=datetime.now(UTC),
            by=BENCH_ADMIN,
        )
    finally:
        components.close()
    return done + 1


def day_plan(population: Population, day: int, sampling: PolicyTerms) -> DayPlan:
    return DayPlan(
        agents=population.agents,
        calls=population.recordings // population.days + (day < population.recordings % population.days),
        seed=1000 + day,  # interaction ids sim-<seed>-<n>: unique across days
        start=population.day(day),
        shift=SHIFT,
        sampling=sampling,
        segment_seconds=120,  # about three segments per screen-recorded call
        segment_loss=0.05,  # so about one call in seven with screen misses one
        queues=population.queues,
        customers=population.recordings * 6 // 10,  # most customers call once or twice in the month
        hold_share=0.005,
    )


def _write_days(population: Population, days: list[int], batch: int) -> tuple[int, int, list[str]]:
    """One writer process: its days, each through one group-committing ledger; (events, calls, customers)."""
    ledger = open_ledger(population.settings(), group_commit=True)
    events = calls = 0
    customers: list[str] = []
    try:
        sampling = ledger.current_policy()[1]
        for day in days:
            steps = plan_day(day_plan(population, day, sampling))
            starts = [s for s in steps if s.command is commands.StartCall]
            calls += len(starts)
            customers += [s.args["customer_id"] for s in starts[:: max(len(starts) // 20, 1)]]
            events += run_day(ledger, steps, batch=batch)
    finally:
        ledger.close()
    return events, calls, customers


def generate(population: Population, *, writers: int, batch: int) -> None:
    """The directory, then the month of calls from ``writers`` processes, then every view caught up."""
    began = time.perf_counter()
    operations = directory(population)
    population.figures["directory_seconds"] = time.perf_counter() - began
    population.figures["directory_operations"] = operations

    shares = [list(range(population.days))[k::writers] for k in range(writers)]
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(writers) as pool:
        results = pool.starmap(_write_days, [(population, share, batch) for share in shares])
    seconds = time.perf_counter() - began
    events = sum(r[0] for r in results)
    population.recordings = sum(r[1] for r in results)
    population.customers = sorted({c for r in results for c in r[2]})
    population.figures.update(generation_seconds=seconds, generation_events=events, writers=writers, batch=batch)

    ledger = open_ledger(population.settings(), group_commit=False)
    try:
        projections = Projections(
            ledger, open_view_store(ledger), batch_size=population.settings().projection_batch_size
        )
        read = [0]
        began = time.perf_counter()
        applied = projections.catch_up(lambda n: read.__setitem__(0, read[0] + n))
        population.figures.update(
            catch_up_seconds=time.perf_counter() - began, catch_up_events=read[0], catch_up_applied=applied
        )
    finally:
        ledger.close()


def new_population(database: str, url: str, *, recordings: int, agents: int) -> Population:
    first = datetime.now(UTC).date() - timedelta(days=DAYS + 1)  # the month before yesterday
    return Population(
        database=database,
        url=url,
        master_key=base64.b64encode(crypto.new_key()).decode(),
        recordings=recordings,
        agents=agents,
        first_day=first.isoformat(),
    )
