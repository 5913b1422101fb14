"""The searches bench/search.py times: each an HTTP request and the bare SQL of the same rows.

Every query of a kind draws its own arguments (agent, queue, hour, customer,
recording), so a run touches many different rows. The HTTP side uses only the
API's documented parameters; the SQL side reads the ``recordings`` view (SELECT *,
so columns the view gains are read too) with the filters the API applies,
within the caller's scope, in the API's order (newest first, keyset on
started_at and recording_id).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb
from search_population import AGENTS_PER_TEAM, Population, floor_supervisor, team_supervisor

PAGE = 50  # the API's default page size
ORDER = f"ORDER BY started_at DESC, recording_id DESC LIMIT {PAGE}"
EVENTS_SQL = "SELECT * FROM stored_events WHERE originator_id = %s ORDER BY originator_version"
ROW_SQL = "SELECT * FROM recordings WHERE recording_id = %s"
TAG = ("outcome", "escalated")  # a quarter of the calls


@dataclass
class Probe:
    """One timed request: who asks what over HTTP, and the statements that read the same rows."""

    user: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    sql: list[tuple[str, Sequence[Any]]] = field(default_factory=list)


@dataclass
class Kind:
    name: str
    who: str  # the caller's reach, as the table says it
    probes: list[Probe]


def search_sql(where: list[str], params: list[Any]) -> tuple[str, list[Any]]:
    return f"SELECT * FROM recordings WHERE {' AND '.join(where)} {ORDER}", params


def merged_search_sql(agents: list[str], where: list[str], params: list[Any]) -> tuple[str, list[Any]]:
    """A page over a set of agents read as one index scan per agent, merged in order: how the
    API reads a team's rows when a filter the index does not hold (a tag) leaves few of them,
    and what a DBA would write. With the agents as an IN list, PostgreSQL reads every row of
    the tag through its GIN index instead (52 ms a page at 1,000,000 recordings)."""
    branch = f"SELECT * FROM recordings WHERE {' AND '.join(['agent_id = %s', *where])} {ORDER}"
    branches = " UNION ALL ".join(f"SELECT * FROM ({branch}) AS agent{i}" for i in range(len(agents)))
    return f"SELECT * FROM ({branches}) AS scoped {ORDER}", [p for agent in agents for p in (agent, *params)]


def within(agents: list[str]) -> tuple[str, list[str]]:
    """The scope term, as the API spells it (an IN list of the agents the caller reaches)."""
    return f"agent_id IN ({','.join(['%s'] * len(agents))})", agents


@dataclass
class Picker:
    """Random arguments over a population, each draw its own."""

    population: Population
    teams: list[int]  # teams whose supervisors the run acts as
    rng: random.Random

    def hour(self) -> tuple[datetime, datetime]:
        start = self.population.day(self.rng.randrange(self.population.days)) + timedelta(hours=self.rng.randrange(10))
        return start, start + timedelta(hours=1)

    def day(self) -> tuple[datetime, datetime]:
        start = self.population.day(self.rng.randrange(self.population.days)) - timedelta(hours=8)
        return start, start + timedelta(days=1)

    def team(self) -> int:
        return self.rng.choice(self.teams)

    def floor(self) -> int:
        return self.rng.randrange(self.population.floors)

    def queue(self) -> str:
        return self.rng.choice(self.population.queues)


def agent_searches(picker: Picker, n: int) -> Kind:
    probes = []
    for _ in range(n):
        team = picker.team()
        agents = picker.population.agents_of_team(team)
        agent = picker.rng.choice(agents)
        scope, names = within(agents)
        probes.append(
            Probe(
                team_supervisor(team),
                "/v1/recordings",
                {"agent": agent},
                [search_sql(["agent_id = %s", scope], [agent, *names])],
            )
        )
    return Kind("search by agent", "team supervisor (20 agents)", probes)


def queue_hour_searches(picker: Picker, n: int) -> Kind:
    probes = []
    for _ in range(n):
        floor, queue, (since, until) = picker.floor(), picker.queue(), picker.hour()
        scope, names = within(picker.population.agents_of_floor(floor))
        where = [scope, "queue = %s", "started_at >= %s", "started_at < %s"]
        params = {"queue": queue, "from": since.isoformat(), "until": until.isoformat()}
        probes.append(
            Probe(floor_supervisor(floor), "/v1/recordings", params, [search_sql(where, [*names, queue, since, until])])
        )
    return Kind("search by queue and hour", "floor supervisor (200 agents)", probes)


def legal_queue_hour_searches(picker: Picker, n: int) -> Kind:
    probes = []
    for _ in range(n):
        queue, (since, until) = picker.queue(), picker.hour()
        params = {"queue": queue, "from": since.isoformat(), "until": until.isoformat()}
        sql = search_sql(["queue = %s", "started_at >= %s", "started_at < %s"], [queue, since, until])
        probes.append(Probe("legal-1", "/v1/recordings", params, [sql]))
    return Kind("search by queue and hour", "legal (everything)", probes)


def customer_searches(picker: Picker, n: int, customer_ref: Any) -> Kind:
    probes = []
    for _ in range(n):
        customer = picker.rng.choice(picker.population.customers)
        sql = search_sql(["customer_ref = %s"], [customer_ref(customer)])
        probes.append(Probe("legal-1", "/v1/recordings", {"customer": customer}, [sql]))
    return Kind("search by customer (blind index)", "legal (everything)", probes)


def tag_searches(picker: Picker, n: int, tag_ref: Any) -> Kind:
    probes = []
    key, value = TAG
    for _ in range(n):
        team = picker.team()
        agents = picker.population.agents_of_team(team)
        sql = merged_search_sql(agents, ["tag_refs @> %s"], [Jsonb({key: tag_ref(key, value)})])
        probes.append(Probe(team_supervisor(team), "/v1/recordings", {"tag": f"{key}={value}"}, [sql]))
    return Kind(f"search by tag {key}={value}", "team supervisor (20 agents)", probes)


def flagged_searches(picker: Picker, n: int, flag: str) -> Kind:
    """Missing segments or under hold, one day at a time."""
    term = {"missing": "missing_count > 0", "hold": "legal_hold"}[flag]
    probes = []
    for _ in range(n):
        since, until = picker.day()
        params = {flag: "true", "from": since.isoformat(), "until": until.isoformat()}
        sql = search_sql([term, "started_at >= %s", "started_at < %s"], [since, until])
        probes.append(Probe("legal-1", "/v1/recordings", params, [sql]))
    label = {"missing": "search: missing segments, one day", "hold": "search: under legal hold, one day"}[flag]
    return Kind(label, "legal (everything)", probes)


def deep_pages(picker: Picker, cursors: list[tuple[int, str, datetime, str]], n: int) -> Kind:
    """Page 21 of a floor supervisor's recordings: (floor, the API's cursor, the last row's keyset) per walk."""
    probes = []
    for i in range(n):
        floor, after, started, recording = cursors[i % len(cursors)]
        scope, names = within(picker.population.agents_of_floor(floor))
        sql = search_sql([scope, "(started_at, recording_id) < (%s, %s)"], [*names, started, recording])
        probes.append(Probe(floor_supervisor(floor), "/v1/recordings", {"after": after}, [sql]))
    return Kind("deep keyset page (page 21)", "floor supervisor (200 agents)", probes)


def recording_reads(picker: Picker, recordings: list[tuple[str, str]], n: int, history: bool) -> Kind:
    """Detail (the row and the recording's events) or history (its events), as the agent's team supervisor."""
    probes = []
    for i in range(n):
        recording, agent = recordings[i % len(recordings)]
        team = int(agent.removeprefix("agent-")) // AGENTS_PER_TEAM
        if history:
            probes.append(
                Probe(team_supervisor(team), f"/v1/recordings/{recording}/history", {}, [(EVENTS_SQL, [recording])])
            )
        else:
            sql = [(ROW_SQL, [recording]), (EVENTS_SQL, [recording])]
            probes.append(Probe(team_supervisor(team), f"/v1/recordings/{recording}", {}, sql))
    return Kind("recording history replay" if history else "recording detail", "team supervisor", probes)
