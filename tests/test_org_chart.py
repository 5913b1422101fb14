"""The org chart a server keeps for scoping: read again when the directory changed, not
whenever its time is up (on both engines, two servers on one store)."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from adapters.settings import Settings
from api.bootstrap import Components, build
from domain.values import Actor
from tests.support.calls import start_call

ADMIN = Actor("test-setup", "admin")


@pytest.fixture
def servers(settings: Settings) -> Iterator[tuple[Components, Components]]:
    """Two servers on one store; the second keeps its chart no time at all, so every
    look at it asks whether the directory changed."""
    first = build(settings, serving=False)
    second = build(msgspec.structs.replace(settings, token_cache_seconds=0.0), serving=False)
    yield first, second
    for components in (first, second):
        components.close()


def test_the_chart_is_read_again_only_when_the_directory_changed(
    servers: tuple[Components, Components], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = servers
    first.identity.create_team(name="north", parent=None, by=ADMIN)
    first.identity.register_user(name="amy", role="agent", team="north", by=ADMIN)
    first.identity.register_user(name="sue", role="supervisor", team=None, by=ADMIN)
    first.identity.make_responsible("north", user="sue", by=ADMIN)

    reads: list[int] = []
    directory = second.views.directory

    def counted():  # type: ignore[no-untyped-def]
        reads.append(1)
        return directory()

    monkeypatch.setattr(second.views, "directory", counted)
    org = second.identity.org()
    team = org.team_names["north"]
    assert org.agents_in[team] == {"amy"}
    assert len(reads) == 1

    # The log grows and the directory view moves past it, changing none of its rows.
    marked = second.views.changed_at("directory")
    start_call(first.ledger, agent_id="amy")
    first.projections.catch_up()
    assert second.views.position("directory") > marked == second.views.changed_at("directory")
    assert second.identity.org().agents_in[team] == {"amy"}
    assert len(reads) == 1  # not read again: nothing in it changed

    # Another server changes the directory: the next look reads it again, and sees the change.
    first.identity.register_user(name="bob", role="agent", team="north", by=ADMIN)
    assert second.views.changed_at("directory") > marked
    assert second.identity.org().agents_in[team] == {"amy", "bob"}
    assert len(reads) == 2
    assert second.identity.org().agents_in[team] == {"amy", "bob"}
    assert len(reads) == 2

    # A rebuild empties the view and its mark, then folds the whole log again.
    first.projections.followers["directory"].reset()
    assert second.views.changed_at("directory") == 0
    first.projections.catch_up(views=["directory"])
    assert second.views.changed_at("directory") == second.views.position("directory")
    assert second.identity.org().agents_in[team] == {"amy", "bob"}
