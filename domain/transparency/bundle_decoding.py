"""Strict decoding of an export bundle, its zip and its members, for the offline verifier.

JSON must be UTF-8 without duplicate keys, NaN or unknown fields; base64 must be
canonical, hex lowercase, UUIDs in their canonical form, so that no byte of any
member can change without the verification failing. Every refusal is a
``BundleError`` naming the member concerned.
"""

from __future__ import annotations

import functools
import io
import json
import re
import zipfile
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from domain.transparency.canonical import canonical_b64decode

_HEX_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class BundleError(ValueError):
    """The bundle fails a check; ``file`` is the member (or a label of the verifier's
    own input, verifier.KNOWN_CHECKPOINT or KNOWN_CONSISTENCY) concerned."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file


def zip_members(data: bytes, name: str) -> dict[str, bytes]:
    """The files of a bundle's zip by member name (``name`` names the zip in errors).

    A zip may hold one name twice, which the mapping verify_bundle takes could not
    show: such a bundle is refused here, before anything else is looked at.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            if len(names) != len(set(names)):
                raise BundleError(name, "the zip holds the same name twice")
            return {member: archive.read(member) for member in names}
    except (zipfile.BadZipFile, OSError) as error:
        raise BundleError(name, f"not a readable zip: {error}") from None


def member(files: Mapping[str, bytes], name: str) -> bytes:
    if name not in files:
        raise BundleError(name, "missing from the bundle")
    data = files[name]
    if not isinstance(data, bytes):
        raise BundleError(name, "is not bytes")
    if not data:
        raise BundleError(name, "is empty (truncated?)")
    return data


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def json_object(data: bytes, file: str, what: str, fields: frozenset[str] | None = None) -> dict[str, Any]:
    """A JSON object; with ``fields``, exactly those keys (bundle_format's *_FIELDS)."""
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise BundleError(file, f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BundleError(file, f"{what} is not a JSON object")
    if fields is not None and set(value) != fields:
        missing, unknown = sorted(fields - set(value)), sorted(set(value) - fields)
        raise BundleError(file, f"{what} has missing fields {missing} / unknown fields {unknown}")
    return value


def integer(value: Any, file: str, what: str, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        raise BundleError(file, f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def text(value: Any, file: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise BundleError(file, f"{what} must be a non-empty string")
    return value


def sha256_hex(value: Any, file: str, what: str) -> str:
    if not isinstance(value, str) or not _HEX_SHA256_RE.fullmatch(value):
        raise BundleError(file, f"{what} is not a lowercase hex SHA-256: {value!r}")
    return value


def hash_list(value: Any, file: str, what: str) -> list[bytes]:
    if not isinstance(value, list):
        raise BundleError(file, f"{what} must be a list of hex hashes")
    return [bytes.fromhex(sha256_hex(h, file, f"{what}[{i}]")) for i, h in enumerate(value)]


def b64(value: Any, file: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise BundleError(file, f"{what} must be a base64 string")
    return canonical_b64decode(value, what, functools.partial(BundleError, file))


def uuid(value: Any, file: str, what: str) -> UUID:
    try:
        parsed = UUID(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or str(parsed) != value:
        raise BundleError(file, f"{what} is not a canonical UUID: {value!r}")
    return parsed
