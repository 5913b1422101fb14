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
PLAY_PARTS = ("audio", "screen")  # what a viewing may include, in the order its Played event names them
# What a personal field reads as once the key that sealed it was destroyed.
REDACTED = "[redacted]"
MAX_TEXT = 4096
MAX_ID = 128
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# The one rule for text, as patterns the HTTP schemas use too (so a request is refused
# before anything runs) and in the forms JSON Schema understands: a negative lookahead
# over [\s\S], because a plain ^...$ lets one trailing newline through in Python.
# Control characters mean nothing in the ledger's fields, and NUL cannot be stored
# at all; prose (reasons, notes, tag values) keeps its tabs and line breaks.
LINE_PATTERN = r"^(?![\s\S]*[\x00-\x1f\x7f-\x9f])"
PROSE_PATTERN = r"^(?![\s\S]*[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f])"
# Ids that may become part of a storage key or a URL path: no separators, no dot
# first (so never "." or ".."), nothing a file system or an object store reads specially.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*(?![\s\S])"
_PROSE, _ID = re.compile(PROSE_PATTERN), re.compile(ID_PATTERN)


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
    """Free text that may be empty; bounded, and free of control characters but tabs and line breaks."""
    if not isinstance(value, str):
        raise InvalidCommand(f"{field} must be a string")
    if len(value) > MAX_TEXT:
        raise InvalidCommand(f"{field} is longer than {MAX_TEXT} characters")
    if not _PROSE.match(value):
        raise InvalidCommand(f"{field} must not contain control characters")
    return value


def require_id(field: str, value: str) -> str:
    """An id that may end up in a storage key or a URL: bounded, from a safe character set."""
    if not isinstance(value, str) or len(value) > MAX_ID or not _ID.match(value):
        raise InvalidCommand(f"{field} must be 1 to {MAX_ID} letters, digits or . _ : @ -, not starting with . _ : @ -")
    return value


# Every time a source or a user gives: no call recorded here happened before 2000
# or will after 2100, so a time outside is a broken clock or a typo, refused rather
# than filed decades away. Checked on the year as given first, so that no offset
# arithmetic can overflow.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def require_utc(moment: datetime) -> datetime:
    """Source times must carry a zone; they are stored in UTC. Commands check it before
    any idempotency shortcut, so an invalid retry is refused, never answered "already applied"."""
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
