"""The HTTP API: ``create_app(settings)`` builds it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Response
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from litestar.template.config import TemplateConfig

from adapters.event_store import check_store
from adapters.settings import Settings
from api.bootstrap import Components, build
from api.gc_tuning import tune_for_service
from api.http.audit import AuditTrail
from api.http.capture_commands import capture_commands
from api.http.console import TEMPLATES, Console, ReportPages, static_files
from api.http.context import current_principal, request_context
from api.http.directory import Directory
from api.http.evaluations import EvaluationRoutes
from api.http.lifecycle_batch import post_batch
from api.http.media import MediaIngestRoutes
from api.http.metrics import ServiceCollector, metrics_routes, request_metrics
from api.http.playback import PlaybackRoutes
from api.http.policy import RecordingPolicyRoutes
from api.http.problems import EXCEPTION_HANDLERS
from api.http.recordings_ingest import RecordingIngest
from api.http.recordings_read import RecordingRead
from api.http.reports import ReportRoutes
from api.http.retention import LegalHolds, RetentionRoutes
from api.http.schemas import Health
from api.http.transcripts import TranscriptRoutes
from api.http.transparency_log import TransparencyLogRoutes, export, public_key
from api.logging import configure_logging

SWAGGER_UI = "/static/vendor/swagger-ui"  # under the console's static files router


class Recordings(RecordingIngest, RecordingRead):
    """Ingest and reading share the /v1/recordings paths, so they register as one controller."""

    dependencies = {**RecordingIngest.dependencies, **RecordingRead.dependencies}


@get("/health", tags=["health"], summary="Liveness: the process answers")
async def health() -> Health:
    return Health(status="ok")


@get("/ready", tags=["health"], summary="Readiness: the store answers; views and their lag")
async def ready(state: State) -> Response[Health]:
    # In anyio's threads, not the request handlers' (asyncio's default executor, a few per
    # core): during an outage those may all be waiting on the database, and readiness must
    # still answer within its own timeout.
    return await anyio.to_thread.run_sync(readiness, state.components)


def readiness(components: Components) -> Response[Health]:
    try:
        # Bounded first: during an outage the answer must come at once, not after the store's retries.
        check_store(components.ledger, components.settings.database_ready_timeout_seconds)
        lags = {lag.view: lag.behind for lag in components.projections.status()}
        tampered = components.transparency.alarm()
    except Exception as error:  # any store failure means not ready, with the reason
        return Response(Health(status=f"unavailable: {type(error).__name__}"), status_code=HTTP_503_SERVICE_UNAVAILABLE)
    if tampered is not None:  # the log no longer vouches for its events: say so until investigated
        return Response(
            Health(status=f"degraded: log tampered: {tampered}", views=lags), status_code=HTTP_503_SERVICE_UNAVAILABLE
        )
    return Response(Health(status="ready", views=lags))


def app_from_environment() -> Litestar:
    """One worker of `callvault serve --workers N`: its settings read from the environment, as the parent's were."""
    tune_for_service()
    return create_app(Settings.from_env())


def create_app(settings: Settings) -> Litestar:
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        """Owns the store's pools, the view followers and the scheduler."""
        components = await anyio.to_thread.run_sync(lambda: build(settings, serving=True))
        await anyio.to_thread.run_sync(components.start)
        app.state.components = components
        app.state.metrics = ServiceCollector(components)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(components.close)

    return Litestar(
        route_handlers=[
            health,
            ready,
            metrics_routes(settings),
            Recordings,
            post_batch,
            MediaIngestRoutes,
            capture_commands,
            AuditTrail,
            Directory,
            TransparencyLogRoutes,
            public_key,
            export,
            RecordingPolicyRoutes,
            LegalHolds,
            RetentionRoutes,
            PlaybackRoutes,
            ReportRoutes,
            TranscriptRoutes,
            EvaluationRoutes,
            Console,
            ReportPages,
            static_files,
        ],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        dependencies={"principal": Provide(current_principal, sync_to_thread=False)},
        lifespan=[lifespan],
        logging_config=None,  # configure_logging routes the standard library's logging through structlog
        middleware=[request_context, request_metrics()],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(
            title="callvault",
            version="1",
            path="/schema",
            # Swagger UI from the server itself (vendored by scripts/vendor-frontend), never a CDN:
            # an air-gapped deployment's explorer works, and nothing tells a third party it is used.
            render_plugins=[
                SwaggerRenderPlugin(
                    js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
                    css_url=f"{SWAGGER_UI}/swagger-ui.css",
                    standalone_preset_js_url=f"{SWAGGER_UI}/swagger-ui-standalone-preset.js",
                    favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_UI}/favicon-32x32.png'>",
                )
            ],
            description="Compliance-grade recording ledger: ingest, search, history replay and audit trail.",
        ),
    )
