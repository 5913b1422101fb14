"""The composition root: every collaborator built once, explicitly, here and nowhere else.

The server (`create_app`'s lifespan) and the command line both call ``build``; only
the server then starts the background work (``Components.start``): the views follower
or worker process and the scheduled jobs. Each application service gets exactly the
collaborators it uses; HTTP handlers receive each service by name (api/http/context.py: provide).
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from adapters import crypto
from adapters.checkpoint_store import load_signer
from adapters.event_store import key_store_of, open_checkpoint_store, open_job_claims, open_ledger, open_view_store
from adapters.key_store import KeyStore
from adapters.log_waiter import log_waiter
from adapters.master_key import load_master_key
from adapters.media_store import MediaStore
from adapters.media_vault import MediaVault
from adapters.migrate import migrate
from adapters.playback_grants import GrantSigner
from adapters.settings import Settings
from adapters.speech import PocketsphinxTranscriber, Transcriber
from adapters.view_leases import view_leases
from adapters.view_store import ViewStore
from api.jobs.scheduled import AcwTimeout, OncePerCluster, schedule
from api.jobs.transcription import Transcription
from api.jobs.views_worker import ViewsWorker
from api.services.access import AccessControl
from api.services.audit_reports import AuditReports
from api.services.capture import CaptureCommands
from api.services.capture_hub import CaptureHub
from api.services.console_sessions import ConsoleSessions
from api.services.evaluations import Evaluations
from api.services.exports import Exports
from api.services.freshness import ViewFreshness
from api.services.identity import Identity
from api.services.lifecycle import Lifecycle
from api.services.media import MediaIngest
from api.services.playback import Playback
from api.services.policy import RecordingPolicies
from api.services.recordings import Recordings
from api.services.reports import Reports
from api.services.retention import Retention
from api.services.transcripts import Transcripts
from api.services.transparency import TransparencyLog
from domain.ledger import RecordingLedger
from projections.runner import Projections

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Components:
    settings: Settings
    ledger: RecordingLedger
    keys: KeyStore
    views: ViewStore
    projections: Projections
    media: MediaVault
    identity: Identity
    access: AccessControl
    lifecycle: Lifecycle
    media_ingest: MediaIngest
    recordings: Recordings
    audit_reports: AuditReports
    reports: Reports
    policy: RecordingPolicies
    retention: Retention
    capture: CaptureCommands
    transparency: TransparencyLog
    exports: Exports
    playback: Playback
    console_sessions: ConsoleSessions
    acw_timeout: AcwTimeout
    transcripts: Transcripts
    evaluations: Evaluations
    transcription: Transcription | None  # the server's own transcriber, when the settings name one
    _background: _Background = field(default_factory=lambda: _Background())

    def start(self) -> None:
        """The server's background work: views kept up with the log, and the scheduled jobs."""
        self.projections.catch_up()
        background = self._background
        if self.settings.views_process:
            background.views_worker = ViewsWorker(self.settings)
            background.views_worker.ensure_running()
        else:
            background.follower = self.projections.follow(
                background.stopping,
                log_waiter(self.settings),
                view_leases(self.settings),
                self.settings.projection_gather_seconds,
            )
        background.scheduler = schedule(
            self.settings,
            OncePerCluster(open_job_claims(self.ledger), f"{socket.gethostname()}:{os.getpid()}"),
            self.acw_timeout,
            self.transparency,
            self.retention,
            background.views_worker,
            self.transcription,
        )
        background.scheduler.start()
        self.capture.hub.start()  # capture commands fan out to this server's streams
        log.info("server started", views=self.projections.names())

    def close(self) -> None:
        """Stops what ``start`` started (if it did), then closes the store."""
        background = self._background
        if background.scheduler is not None:
            background.scheduler.shutdown(wait=True)
        background.stopping.set()
        self.capture.hub.stop()
        if background.follower is not None:
            background.follower.join(timeout=5)
        if background.views_worker is not None:
            background.views_worker.stop()
        self.ledger.close()


@dataclass
class _Background:
    stopping: threading.Event = field(default_factory=threading.Event)
    follower: threading.Thread | None = None
    views_worker: ViewsWorker | None = None
    scheduler: BackgroundScheduler | None = None


def _transcriber(name: str) -> Transcriber | None:
    """The server's own transcriber (CALLVAULT_TRANSCRIBER): another engine plugs in here."""
    if name == "none":
        return None
    if name == "pocketsphinx":
        return PocketsphinxTranscriber()
    raise ValueError(f"bad CALLVAULT_TRANSCRIBER {name!r}: 'none' or 'pocketsphinx'")


def build(settings: Settings, *, serving: bool) -> Components:
    """Everything callvault runs on, over the store the settings name (migrated first:
    the embedded default must work with nothing set up). A server writes through group
    commit (many clients at once); a command-line run writes plainly, one thread."""
    migrate(settings)
    master_key = load_master_key(settings)
    ledger = open_ledger(settings, group_commit=settings.group_commit if serving else False, master_key=master_key)
    keys = key_store_of(ledger)
    views = open_view_store(ledger)
    projections = Projections(ledger, views, batch_size=settings.projection_batch_size)
    freshness = ViewFreshness(ledger, projections, followed=serving)
    media = MediaVault(MediaStore(settings.media_url), MediaStore(settings.archive_url), settings.archive_url, keys)
    identity = Identity(ledger, views, projections, settings.token_cache_seconds)
    access = AccessControl(ledger, identity)
    transparency = TransparencyLog(
        ledger,
        views,
        open_checkpoint_store(ledger, settings),
        load_signer(settings),
        settings.log_origin,
        lambda: projections.catch_up(views=["log_leaves"]),
    )
    transcripts = Transcripts(ledger, access)
    return Components(
        settings=settings,
        ledger=ledger,
        keys=keys,
        views=views,
        projections=projections,
        media=media,
        identity=identity,
        access=access,
        lifecycle=Lifecycle(ledger, access),
        media_ingest=MediaIngest(
            ledger,
            media,
            access,
            max_segment_bytes=settings.max_segment_bytes,
            max_voice_bytes=settings.max_voice_bytes,
            max_snapshot_bytes=settings.max_snapshot_bytes,
        ),
        recordings=Recordings(ledger, views, freshness, identity, access),
        audit_reports=AuditReports(ledger, views, projections, access),
        reports=Reports(ledger, views, projections, identity, access),
        policy=RecordingPolicies(ledger, access),
        retention=Retention(ledger, views, projections, keys, media, access),
        capture=CaptureCommands(ledger, views, access, CaptureHub(ledger, settings)),
        transparency=transparency,
        exports=Exports(ledger, media, transparency, access),
        playback=Playback(
            ledger,
            media,
            access,
            GrantSigner(crypto.purpose_key(master_key, "playback-grants")),
            settings.playback_grant_seconds,
        ),
        console_sessions=ConsoleSessions(
            identity, crypto.purpose_key(master_key, "console-sessions"), settings.console_idle_seconds
        ),
        acw_timeout=AcwTimeout(ledger, views),
        transcripts=transcripts,
        evaluations=Evaluations(ledger, views, freshness, access),
        transcription=Transcription(ledger, views, media, transcripts, transcriber)
        if (transcriber := _transcriber(settings.transcriber))
        else None,
    )
