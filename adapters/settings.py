"""The one place configuration is read from the environment, with safe defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

PREFIX = "CALLVAULT_"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # Unset: the embedded SQLite file below. Set: PostgreSQL, the production store.
    database_url: str | None = None
    sqlite_path: str = "var/callvault.sqlite3"
    # On PostgreSQL the service switches to this role at connect: it may only
    # INSERT and SELECT stored events. Empty keeps the login role (not advised).
    database_role: str = "callvault_service"
    # Migrations run with the owner's rights; defaults to database_url.
    admin_database_url: str | None = None
    # Where media objects go: a directory, or an s3:// gs:// az:// URL.
    media_url: str = "var/media"
    # Where the retention job moves media once a recording is due for archive
    # (a second directory or bucket, e.g. a colder storage class).
    archive_url: str = "var/archive"
    max_segment_bytes: int = 64 * 1024 * 1024
    max_voice_bytes: int = 512 * 1024 * 1024
    max_snapshot_bytes: int = 16 * 1024 * 1024
    # The transparency log: its origin line, the Ed25519 key that signs its
    # checkpoints (text in CALLVAULT_SIGNING_KEY, or a file, created on first use
    # when absent: never kept in the database), and a second place for the
    # signed checkpoints that the database administrator does not control.
    log_origin: str = "callvault.local/log"
    signing_key: str | None = None
    signing_key_file: str = "var/log-signing.key"
    checkpoint_mirror_url: str | None = None
    # Wraps every data key that seals personal data (base64 of 32 bytes), or a
    # file holding it, created on first use when absent. Losing it loses that data.
    master_key: str = ""
    master_key_file: str = "var/master.key"
    checkpoint_interval_seconds: float = 300.0
    # How often the self-audit re-hashes its next slice of stored events against
    # their Merkle leaves (a whole pass wraps around the log; see api/services/transparency.py).
    log_self_audit_seconds: float = 60.0
    database_pool_size: int = 5
    # Bounded waits on PostgreSQL, so an outage is answered with 503 at once instead
    # of requests hanging: a new connection gives up after this many seconds (libpq
    # connect_timeout, whole seconds, at least 2), a request waits at most this long
    # for a pooled connection, and the readiness probe at most this long for its answer.
    database_connect_timeout_seconds: int = 3
    database_pool_timeout_seconds: float = 3.0
    database_ready_timeout_seconds: float = 1.0
    # Concurrent commands share one transaction (see adapters/group_commit.py).
    group_commit: bool = True
    # Fold the log into the views in a child process (spreads the Python work of
    # ingest and views over two cores), or in a thread of the server.
    views_process: bool = True
    projection_batch_size: int = 5000
    projection_poll_seconds: float = 1.0
    # A woken follower waits this long to let a burst of writes become one batch;
    # reads that must see their own writes catch up themselves.
    projection_gather_seconds: float = 0.1
    # How long a bearer token's lookup is trusted before the directory is asked again.
    token_cache_seconds: float = 2.0
    # How often the server looks for after-call work past the policy's timeout,
    # and for recordings the policy says are due for archive or purge.
    acw_check_seconds: float = 15.0
    retention_check_seconds: float = 3600.0
    # The server's own transcriber of new voice uploads: "none", or "pocketsphinx" (needs the
    # `speech` extra; ~0.3x real time per core, so a busy center runs it as its own process:
    # `callvault transcribe`). Telephony or a speech service may put transcripts either way.
    transcriber: str = "none"
    transcribe_check_seconds: float = 30.0
    # A media URL's grant lasts this long past the recording's own length (enough to watch
    # it once through); a console session ends after this long without a request.
    playback_grant_seconds: float = 900.0
    console_idle_seconds: float = 1800.0
    host: str = "127.0.0.1"
    port: int = 8000
    # /metrics answers requests from these networks (CIDR, comma-separated), and any request
    # bearing `Authorization: Bearer <metrics_token>` (empty: no token is accepted).
    metrics_allowed_networks: str = "127.0.0.1/32,::1/128"
    metrics_token: str = ""
    log_level: str = "INFO"
    # JSON lines (for a collector) or human-readable lines; unset: readable on a terminal only.
    log_json: bool | None = None

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url)

    @property
    def migration_url(self) -> str | None:
        return self.admin_database_url or self.database_url

    @property
    def sqlite_file(self) -> Path:
        return Path(self.sqlite_path)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads CALLVAULT_* variables; a bad value fails loudly at startup, naming it."""
        environ = os.environ if environ is None else environ
        raw = {
            name: environ[PREFIX + name.upper()] for name in cls.__struct_fields__ if PREFIX + name.upper() in environ
        }
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as error:
            raise ValueError(f"bad {PREFIX}* setting: {error}") from None
