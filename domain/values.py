"""Value types and input checks shared by the domain's commands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from domain.errors import InvalidCommand

DIRECTIONS = frozenset({"inbound", "outbound", "internal"})
ACW_END_REASONS = frozenset({"status_change", "timeout"})
# What an export carries: after a purge only the event record can leave.
EXPORT_PARTS = frozenset({"events", "media", "bundle"})
MAX_TEXT = 4096
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class RecordingStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ACW = "acw"
    COMPLETE = "complete"
    ARCHIVED = "archived"
    PURGED = "purged"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused an event: a person or a system, and the role it acted in."""

    name: str
    role: str


SYSTEM = Actor("system", "system")


def require_text(field: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(f"{field} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise InvalidCommand(f"{field} is longer than {MAX_TEXT} characters")
    return value


def require_utc(moment: datetime) -> datetime:
    """Source times must carry a zone; they are stored in UTC."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise InvalidCommand("occurred_at must be a timezone-aware timestamp")
    return moment.astimezone(UTC)


def require_tags(tags: dict[str, str]) -> dict[str, str]:
    if not isinstance(tags, dict):
        raise InvalidCommand("tags must be a mapping of strings to strings")
    for key, value in tags.items():
        require_text("tag key", key)
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise InvalidCommand(f"tag {key!r} must have a string value")
    return dict(tags)


def require_sha256(digest: str) -> str:
    if not isinstance(digest, str) or not _SHA256.match(digest.lower()):
        raise InvalidCommand("sha256 must be 64 hexadecimal characters")
    return digest.lower()
