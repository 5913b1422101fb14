"""GET /metrics for Prometheus: the requests by route template, the process's counters
(adapters/metrics.py), and the service's figures read from the log and the views at
scrape time, so they cannot drift from what ``callvault projections status`` and the
reports say.

Served only to the networks ``metrics_allowed_networks`` names, or to a request bearing
``metrics_token``; anyone else gets 403. Not 404: the endpoint is documented, and the
answer tells an operator which setting to look at.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import structlog
from litestar import Controller, get
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.base import DefineMiddleware
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.response import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from adapters.event_codec import event_class_of
from adapters.metric_reads import MetricReads, aggregate_of
from adapters.settings import Settings
from api.bootstrap import Components
from api.http.context import METRICS_PATH
from domain.errors import Forbidden
from domain.recording import Recording
from projections.follower import read_log

log = structlog.get_logger(__name__)

RETENTION_EVENTS: dict[type, str] = {Recording.Archived: "archived", Recording.Purged: "purged"}


def request_metrics() -> DefineMiddleware:
    """Requests counted and timed by route template (``/v1/recordings/{recording_id}``), so
    that ids do not make a label value each."""
    return PrometheusConfig(app_name="callvault", prefix="callvault_http", group_path=True).middleware


class ServiceCollector(Collector):
    """The service's figures, read when scraped."""

    def __init__(self, components: Components) -> None:
        self._components = components
        self._reads = MetricReads(components.ledger)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("callvault_store_up", "1 if the store answered this scrape's reads")
        try:
            figures = list(self._figures())
        except Exception:  # an outage must not hide the process's own metrics: say it, and go on
            log.warning("metrics: the store did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from figures

    def _figures(self) -> Iterator[Metric]:
        yield from self._view_lags()
        topics = self._reads.events_by_topic()
        appended = CounterMetricFamily(
            "callvault_events_appended", "Events in the log, by the aggregate they belong to", labels=["aggregate"]
        )
        by_kind: dict[str, int] = {}
        for topic, count in topics.items():
            kind = aggregate_of(topic)
            by_kind[kind] = by_kind.get(kind, 0) + count
        for kind, count in sorted(by_kind.items()):
            appended.add_metric([kind], count)
        yield appended
        retention = CounterMetricFamily(
            "callvault_retention_actions",
            "Recordings archived and purged, as the log records them (retention runs and erasures)",
            labels=["action"],
        )
        counts = {action: 0 for action in RETENTION_EVENTS.values()}
        for topic, count in topics.items():
            if (action := RETENTION_EVENTS.get(event_class_of(topic))) is not None:
                counts[action] += count
        for action, count in counts.items():
            retention.add_metric([action], count)
        yield retention
        recordings, segments = self._reads.missing_segments()
        yield GaugeMetricFamily(
            "callvault_missing_segments",
            "Screen segments that capture reports say were made and never arrived (the search view)",
            value=segments,
        )
        yield GaugeMetricFamily(
            "callvault_recordings_missing_segments",
            "Recordings with segments missing (the search view)",
            value=recordings,
        )
        yield from self._checkpoint()

    def _view_lags(self) -> Iterator[Metric]:
        """Each view's lag as ``callvault projections status`` reports it, and in seconds: how long
        ago the oldest event it has not folded was logged (0 when caught up)."""
        events = GaugeMetricFamily(
            "callvault_view_lag_events", "Events logged that the view has not folded", labels=["view"]
        )
        seconds = GaugeMetricFamily(
            "callvault_view_lag_seconds", "Age of the oldest event the view has not folded", labels=["view"]
        )
        now = datetime.now(UTC)
        oldest: dict[int, float] = {}  # by position: views at the same one share a read
        for lag in self._components.projections.status():
            events.add_metric([lag.view], lag.behind)
            if lag.behind and lag.position not in oldest:
                window = read_log(self._components.ledger, lag.position, 1)
                logged_at = window.events[0].event.timestamp if window.events else now
                oldest[lag.position] = max((now - logged_at).total_seconds(), 0.0)
            seconds.add_metric([lag.view], oldest.get(lag.position, 0.0) if lag.behind else 0.0)
        yield events
        yield seconds

    def _checkpoint(self) -> Iterator[Metric]:
        latest = self._reads.latest_checkpoint()
        if latest is None:
            return  # none signed yet: no age to report
        size, signed_at = latest
        yield GaugeMetricFamily(
            "callvault_checkpoint_tree_size", "Events covered by the latest signed checkpoint", value=size
        )
        yield GaugeMetricFamily(
            "callvault_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed",
            value=max((datetime.now(UTC) - signed_at).total_seconds(), 0.0),
        )


def allowed_networks(settings: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(n.strip()) for n in settings.metrics_allowed_networks.split(",") if n.strip()]
    except ValueError as error:
        raise ValueError(f"bad CALLVAULT_METRICS_ALLOWED_NETWORKS: {error}") from None


def metrics_routes(settings: Settings) -> type[Controller]:
    """The /metrics controller, guarded by the settings' networks and token (read once, here)."""
    networks = allowed_networks(settings)
    token = settings.metrics_token.encode()

    def may_scrape(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        scheme, _, offered = connection.headers.get("authorization", "").partition(" ")
        if token and scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token):
            return
        if _client_in(connection.client.host if connection.client else "", networks):
            return
        raise Forbidden("metrics are served to the configured networks, or with the metrics token")

    class Metrics(PrometheusController):
        path = METRICS_PATH
        guards = [may_scrape]

        @get(include_in_schema=False)
        async def get(self, state: State) -> Response[bytes]:
            body = await anyio.to_thread.run_sync(scrape, state)
            return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Metrics


def scrape(state: State) -> bytes:
    """The process's registry (or, under a multi-process server, every worker's) and this app's figures."""
    registry = CollectorRegistry()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)
    registry.register(state.metrics)
    return generate_latest(registry)


def _client_in(host: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # not an address (a test client's "testclient"): never in a network
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return any(address in network for network in networks)
