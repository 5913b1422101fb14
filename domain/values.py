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
# What a personal field reads as once the key that sealed it was destroyed.
REDACTED = "[redacted]"
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
    return optional_text(field, value)


def optional_text(field: str, value: str) -> str:
    """Free text that may be empty; bounded, and free of NUL, which no store can keep."""
    if not isinstance(value, str):
        raise InvalidCommand(f"{field} must be a string")
    if len(value) > MAX_TEXT:
        raise InvalidCommand(f"{field} is longer than {MAX_TEXT} characters")
    if "\x00" in value:
        raise InvalidCommand(f"{field} must not contain NUL characters")
    return value


# A recording ledger has no business with times outside this span (checked on
# the year first, so that no offset arithmetic can overflow).
EARLIEST_YEAR, LATEST_YEAR = 1971, 2199


def require_utc(moment: datetime) -> datetime:
    """Source times must carry a zone; they are stored in UTC."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise InvalidCommand("occurred_at must be a timezone-aware timestamp")
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise InvalidCommand(f"occurred_at must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return moment.astimezone(UTC)


def require_tags(tags: dict[str, str]) -> dict[str, str]:
    if not isinstance(tags, dict):
        raise InvalidCommand("tags must be a mapping of strings to strings")
    for key, value in tags.items():
        require_text("tag key", key)
        optional_text(f"tag {key!r}", value)
    return dict(tags)


def require_tag_refs(tags: dict[str, str], tag_refs: dict[str, str]) -> dict[str, str]:
    """The blind indexes of exactly the given tags, one per key."""
    if not isinstance(tag_refs, dict) or tag_refs.keys() != tags.keys():
        raise InvalidCommand("tag_refs must index exactly the tags given")
    return {key: require_text(f"index of tag {key!r}", ref) for key, ref in tag_refs.items()}


def require_sha256(digest: str) -> str:
    if not isinstance(digest, str) or not _SHA256.match(digest.lower()):
        raise InvalidCommand("sha256 must be 64 hexadecimal characters")
    return digest.lower()
