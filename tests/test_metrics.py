"""/metrics on both engines: its figures are the log's, the views' and `callvault projections status`'s,
its route labels are templates, and only an allowed network or the metrics token may scrape."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import msgspec
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from adapters.settings import Settings
from api.cli.main import main
from api.http.app import create_app
from tests.conftest import LIVE_USERS
from tests.support.api_client import Api
from tests.support.in_process_server import serving
from tests.support.provisioning import provision
from tests.support.service import service_env
from tests.test_purge import recorded_call, segment  # noqa: F401  (segment: a fixture, one H.264 segment)

TOKEN = "metrics-token-for-the-test"
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, metrics_token=TOKEN)


class LiveApi(Api):
    """The API over a real socket from 127.0.0.1 (an allowed network by default), with the app's components."""

    def __init__(self, client: httpx.Client, tokens: dict[str, str], components: Any) -> None:
        super().__init__(client, tokens)
        self._components = components

    @property
    def components(self) -> Any:
        return self._components


@pytest.fixture
def live(settings: Settings, tmp_path: Path) -> Iterator[LiveApi]:
    tokens = provision(settings, LIVE_USERS)
    served = msgspec.structs.replace(settings, media_url=str(tmp_path / "media"), archive_url=str(tmp_path / "archive"))
    app = create_app(served)
    with serving(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        yield LiveApi(client, tokens, app.state.components)


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(api: Api, **headers: str) -> Samples:
    response = api.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def by_label(figures: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for (metric, labels), value in figures.items() if metric == name}


def value(figures: Samples, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def projections_status(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """`callvault projections status` on the same store: each view's lag, as printed."""
    for name, env_value in service_env(settings).items():
        monkeypatch.setenv(name, env_value)
    result = CliRunner().invoke(main, ["projections", "status"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = re.findall(r"^\W*(\w+)\W+(\d+)\W+(\d+)\W+(\d+)\W*$", result.output, re.MULTILINE)
    return {view: int(lag) for view, _, _, lag in rows}


def set_retention(api: Api, rule: dict[str, int]) -> None:
    response = api.call("root", "PUT", "/v1/policy", json={"retention": [rule], "reason": "metrics test"})
    assert response.status_code == 200, response.text


def put_segment(api: Api, rid: str, number: int, body: bytes, digest: str) -> Any:
    started = datetime.now(UTC) - timedelta(minutes=5)
    return api.client.put(
        f"/v1/recordings/{rid}/segments/{number}",
        content=body,
        params={
            "sha256": digest,
            "captured_at": (started + timedelta(seconds=2 * number)).isoformat(),
            "start_offset_ms": 2000 * number,
            "duration_ms": 2000,
            "monitor": 0,
            "width": 320,
            "height": 240,
            "fps": 5,
        },
        headers={"Authorization": f"Bearer {api.tokens['agent-1']}", "Content-Type": "video/mp2t"},
    )


def live_call(api: Api, interaction: str) -> str:
    response = api.call(
        "pbx",
        "POST",
        "/v1/recordings",
        json={
            "interaction_id": interaction,
            "agent_id": "agent-1",
            "customer_id": "c-1",
            "queue": "sales",
            "direction": "inbound",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["recording_id"])


def stop_following(components: Any) -> None:
    """From here on the views move only when the test moves them: the server's follower thread
    (views_process=False in tests) stops, and every view is caught up once."""
    background = components._background
    background.stopping.set()
    background.follower.join(timeout=30)
    assert not background.follower.is_alive()
    components.projections.catch_up()


def test_the_figures_are_the_logs_the_views_and_projections_status(
    live: LiveApi,
    segment: bytes,  # noqa: F811
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = scrape(live)  # from 127.0.0.1: an allowed network, no token
    set_retention(live, {"archive_after_days": 0})
    archived = recorded_call(live, "m-archive", "cust-a", "acc-a", segment, agent="agent-1")
    set_retention(live, {"purge_after_days": 0})
    purged = recorded_call(live, "m-purge", "cust-b", "acc-b", segment, agent="agent-1")
    reported = live_call(live, "m-report")
    assert put_segment(live, reported, 0, segment, hashlib.sha256(segment).hexdigest()).status_code == 201
    tampered = put_segment(live, reported, 1, segment, "0" * 64)
    assert tampered.status_code == 422 and tampered.json()["error"] == "InvalidCommand"
    late = put_segment(live, archived, 1, segment, hashlib.sha256(segment).hexdigest())
    assert late.status_code == 409 and late.json()["error"] == "SegmentAfterAcw"
    stopped_at = (datetime.now(UTC) - timedelta(minutes=4)).isoformat()
    report = live.call(
        "agent-1", "POST", f"/v1/recordings/{reported}/capture-report", json={"segments": 4, "stopped_at": stopped_at}
    )
    assert report.status_code == 200, report.text
    run = live.call("root", "POST", "/v1/retention/run")
    assert run.status_code == 200 and (run.json()["archived"], run.json()["purged"]) == ([archived], [purged])
    components = live.components
    signing_from = datetime.now(UTC)
    signed_size, _ = components.transparency.sign_checkpoint()
    stop_following(components)

    after = scrape(live)
    # Events by aggregate: every event in the log, and the recordings' own as their streams hold them.
    ledger = components.ledger
    appended = by_label(after, "callvault_events_appended_total", "aggregate")
    logged = ledger.recorder.select_notifications(start=1, limit=1_000_000)
    assert sum(appended.values()) == len(logged)
    recorded = sum(len(ledger.recorder.select_events(UUID(rid))) for rid in (archived, purged, reported))
    assert appended["Recording"] == recorded and {"User", "AccessRecord"} <= appended.keys()
    assert by_label(after, "callvault_retention_actions_total", "action") == {"archived": 1, "purged": 1}
    # This process's counters: three segments stored, a tampered one and one after ACW refused.

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("callvault_media_uploads_total", kind="segment") == 3
    assert delta("callvault_media_uploaded_bytes_total", kind="segment") == 3 * len(segment)
    assert delta("callvault_media_uploads_refused_total", kind="segment", reason="InvalidCommand") == 1
    assert delta("callvault_media_uploads_refused_total", kind="segment", reason="SegmentAfterAcw") == 1
    batches, commands = (delta(f"callvault_group_commit_batch_commands_{s}") for s in ("count", "sum"))
    assert 0 < batches <= commands
    assert value(after, "callvault_missing_segments") == 3  # segments 1, 2 and 3 of the four reported
    assert value(after, "callvault_recordings_missing_segments") == 1
    assert value(after, "callvault_checkpoint_tree_size") == signed_size
    assert 0 <= value(after, "callvault_checkpoint_age_seconds") <= (datetime.now(UTC) - signing_from).total_seconds()
    assert value(after, "callvault_store_up") == 1
    views = set(components.projections.names())
    assert by_label(after, "callvault_view_lag_events", "view") == dict.fromkeys(views, 0)
    assert by_label(after, "callvault_view_lag_seconds", "view") == dict.fromkeys(views, 0)

    # Now the log moves on and the views stand still: the scrape and the CLI see the same lag.
    written_from = datetime.now(UTC)
    live_call(live, "m-late-1")
    live_call(live, "m-late-2")
    behind = scrape(live)
    lags = by_label(behind, "callvault_view_lag_events", "view")
    assert lags == projections_status(settings, monkeypatch)
    assert set(lags) == views and all(lag > 0 for lag in lags.values())
    waited = (datetime.now(UTC) - written_from).total_seconds()
    assert all(0 < s <= waited for s in by_label(behind, "callvault_view_lag_seconds", "view").values())

    # Requests are labelled by route template: no id makes a label value of its own.
    paths = by_label(behind, "callvault_http_requests_total", "path")
    assert "/v1/recordings/{recording_id}/segments/{sequence_number}" in paths, sorted(paths)
    assert not [labels for (_, labels) in behind for _, text in labels if UUID_TEXT.search(text)]


def test_only_an_allowed_network_or_the_token_may_scrape(api: Api) -> None:
    # Litestar's test client connects from "testclient": no address, so in no allowed network.
    refused = api.client.get("/metrics")
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert "metrics token" in refused.json()["detail"]
    wrong = api.client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    user = api.call("aud", "GET", "/metrics")  # a user's token is no metrics token
    assert user.status_code == 403
    figures = scrape(api, Authorization=f"Bearer {TOKEN}")
    assert value(figures, "callvault_store_up") == 1
    assert api.client.get("/v1/no-such-route").status_code == 404  # unrouted: no template, still no 500


def test_a_bad_network_setting_fails_at_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="CALLVAULT_METRICS_ALLOWED_NETWORKS"):
        create_app(msgspec.structs.replace(settings, metrics_allowed_networks="10.0.0.0/8,not-a-network"))
