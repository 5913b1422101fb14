"""A PostgreSQL session of its own, outside the store's pool, as the service's role.

For what lives as long as a session does: a LISTEN, or advisory locks that must be
released the moment the process holding them is gone.
"""

from __future__ import annotations

import psycopg

from adapters.settings import Settings

# The server notices a peer that vanished without closing (its machine died, the network
# split) after about idle + interval × count seconds, and then ends the session and frees
# its locks; left to the operating system's defaults, that takes hours.
DEAD_PEER_OPTIONS = "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"


def service_session(settings: Settings, *, options: str = "") -> psycopg.Connection:
    """An autocommit connection as ``database_role`` (when set), with extra server ``options``."""
    assert settings.database_url is not None
    role = f"-c role={settings.database_role}" if settings.database_role else ""
    return psycopg.connect(
        settings.database_url,
        autocommit=True,
        options=f"{role} {options}".strip(),
        connect_timeout=settings.database_connect_timeout_seconds,
    )
