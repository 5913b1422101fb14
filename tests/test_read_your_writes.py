"""Reads show this process's writes, and a write another server took when the client names
its log position; they do not pay a catch-up pass otherwise. And the search view shows
the customer and tags from its sealed copies, never replaying a recording."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import msgspec
import pytest

from adapters.settings import Settings
from api.bootstrap import Components, build
from api.services.freshness import client_position
from api.services.recordings import SearchRequest
from domain import commands
from domain.permissions import Principal, Role
from tests.support.api_client import Api
from tests.support.calls import PBX, start_call

LEGAL = Principal(user_id=uuid4(), name="lee", role=Role.LEGAL, team_id=None)


def start(components: Components, interaction: str) -> None:
    start_call(
        components.ledger,
        interaction,
        agent_id="agent-7",
        customer_id="cust-secret-9",
        queue="billing",
        tags={"lang": "fr"},
        occurred_at=datetime.now(UTC),
    )


def interactions(components: Components) -> list[str]:
    page = components.recordings.search(LEGAL, SearchRequest(queue="billing"))
    return [item.interaction_id for item in page.items]


@pytest.fixture
def two_servers(settings: Settings, tmp_path) -> Iterator[tuple[Components, Components]]:
    """Two servers' components on one store, neither following the log (not started), so
    only the reads' own freshness decides what they show."""
    served = msgspec.structs.replace(settings, media_url=str(tmp_path / "media"), archive_url=str(tmp_path / "a"))
    first, second = build(served, serving=True), build(served, serving=True)
    try:
        yield first, second
    finally:
        second.close()
        first.close()


def test_a_server_reads_its_own_writes_and_a_named_position(two_servers: tuple[Components, Components]) -> None:
    writer, other = two_servers
    start(writer, "ryw-1")
    assert interactions(writer) == ["ryw-1"]  # its own write: the read caught the view up
    # Another server wrote nothing itself and follows nothing here: its view is as it found it …
    other.projections.rebuild(["recordings"])
    start(writer, "ryw-2")
    assert interactions(other) == ["ryw-1"]
    # … until the client names the position its write answered with.
    token = client_position.set(writer.ledger.logged_up_to())
    try:
        assert interactions(other) == ["ryw-2", "ryw-1"]
    finally:
        client_position.reset(token)


def test_search_shows_personal_fields_from_the_views_sealed_copies(
    two_servers: tuple[Components, Components], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, _ = two_servers
    start(writer, "sealed-1")
    writer.ledger.execute(
        commands.Tag(
            recording_id=writer.ledger.recording_id("sealed-1"),
            key="outcome",
            value="refund",
            occurred_at=datetime.now(UTC),
            by=PBX,
        )
    )
    writer.projections.catch_up()
    row = writer.views.recording(writer.ledger.recording_id("sealed-1"))
    assert row is not None and "cust-secret-9" not in row.customer_sealed
    assert set(row.tags_sealed) == {"lang", "outcome"} and "refund" not in str(row.tags_sealed)
    # No recording is replayed to show them.
    monkeypatch.setattr(writer.ledger, "get_recording", lambda _id: pytest.fail("a recording was replayed"))
    (item,) = writer.recordings.search(LEGAL, SearchRequest(queue="billing")).items
    assert (item.customer_id, item.tags) == ("cust-secret-9", {"lang": "fr", "outcome": "refund"})
    assert not hasattr(item, "customer_sealed")


def test_writes_answer_with_their_log_position_and_a_bad_one_is_refused(api: Api) -> None:
    started = api.call(
        "pbx",
        "POST",
        "/v1/recordings",
        json={
            "interaction_id": "pos-1",
            "agent_id": "agent-n",
            "customer_id": "c",
            "queue": "q",
            "direction": "inbound",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
    )
    assert started.status_code == 201
    position = int(started.headers["callvault-log-position"])
    assert position == api.components.ledger.logged_up_to() > 0
    found = api.call("lena", "GET", "/v1/recordings", headers={"Callvault-Log-Position": str(position)})
    assert found.status_code == 200 and [i["interaction_id"] for i in found.json()["items"]] == ["pos-1"]
    refused = api.call("lena", "GET", "/v1/recordings", headers={"Callvault-Log-Position": "yesterday"})
    assert refused.status_code == 400 and refused.headers["content-type"].startswith("application/problem+json")
    assert "callvault-log-position" in refused.json()["detail"]
