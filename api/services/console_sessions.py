"""Console sign-in: an API token exchanged for a server-side session.

The browser holds only a random session id (an HttpOnly, SameSite=Strict cookie);
the token stays here, so a deactivated user's session ends with its token. Every
form and every script's write carries the session's CSRF token. Sessions end on
sign-out, after ``idle_seconds`` without a request, and at most ``MAX_SECONDS``
after sign-in; they live in this process's memory (a restart signs everyone out).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from api.services.identity import Identity
from domain.errors import Forbidden
from domain.permissions import Principal

MAX_SECONDS = 12 * 3600
SIGN_IN_FORM_SECONDS = 3600


@dataclass
class _Session:
    token: str
    csrf: str
    started: float
    last_seen: float


class ConsoleSessions:
    def __init__(self, identity: Identity, key: bytes, idle_seconds: float) -> None:
        self._identity = identity
        self._key = key
        self._idle_seconds = idle_seconds
        self._sessions: dict[str, _Session] = {}
        self._guard = threading.Lock()

    def sign_in(self, token: str) -> tuple[str, Principal]:
        """A new session id for a valid API token (Forbidden otherwise)."""
        principal = self._identity.principal_for(token.strip())
        if principal is None:
            raise Forbidden("that token is not valid (it may be mistyped, replaced or its user deactivated)")
        session_id, now = secrets.token_urlsafe(32), time.monotonic()
        with self._guard:
            self._drop_expired(now)
            self._sessions[session_id] = _Session(token.strip(), secrets.token_urlsafe(32), now, now)
        return session_id, principal

    def principal_of(self, session_id: str) -> Principal | None:
        """The signed-in user, or None when there is no such session (or it ended)."""
        now = time.monotonic()
        with self._guard:
            session = self._sessions.get(session_id)
            if session is None or self._ended(session, now):
                self._sessions.pop(session_id, None)
                return None
            session.last_seen = now
        principal = self._identity.principal_for(session.token)
        if principal is None:  # the user was deactivated or the token replaced
            self.sign_out(session_id)
        return principal

    def csrf_token(self, session_id: str) -> str:
        with self._guard:
            session = self._sessions.get(session_id)
        if session is None:
            raise Forbidden("not signed in")
        return session.csrf

    def check_csrf(self, session_id: str, presented: str | None) -> None:
        expected = self._sessions.get(session_id)
        if expected is None or not presented or not hmac.compare_digest(expected.csrf, presented):
            raise Forbidden("the form's CSRF token is missing or does not match this session; reload the page")

    def sign_out(self, session_id: str) -> None:
        with self._guard:
            self._sessions.pop(session_id, None)

    # The sign-in form comes before any session: its CSRF token is signed with the
    # time it was issued, so a form posted from elsewhere (or stale) is refused.

    def sign_in_form_token(self) -> str:
        issued = str(int(time.time()))
        return f"{issued}.{self._mac(issued)}"

    def check_sign_in_form_token(self, presented: str | None) -> None:
        issued, _, mac = (presented or "").partition(".")
        fresh = issued.isdigit() and 0 <= time.time() - int(issued) <= SIGN_IN_FORM_SECONDS
        if not (fresh and hmac.compare_digest(mac, self._mac(issued))):
            raise Forbidden("the sign-in form has expired or did not come from this server; reload it")

    def _mac(self, issued: str) -> str:
        return hmac.new(self._key, b"sign-in form\x00" + issued.encode(), hashlib.sha256).hexdigest()

    def _ended(self, session: _Session, now: float) -> bool:
        return now - session.last_seen > self._idle_seconds or now - session.started > MAX_SECONDS

    def _drop_expired(self, now: float) -> None:
        for session_id in [sid for sid, session in self._sessions.items() if self._ended(session, now)]:
            del self._sessions[session_id]
