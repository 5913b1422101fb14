"""Malformed input on every write endpoint: always a 4xx problem with a reason, never a 5xx,
and nothing stored is lost or changed.

The endpoints come from the app's own route table, and each one's bad inputs are derived
from its declared body type, path and query parameters, so a new endpoint is covered
without being listed here. Every request sent is invalid in at least one way (a valid
request is never sent with a role that may make it), so the only thing it may leave
behind is the evidence of a refusal: an access record in the log.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
import psycopg
import pytest
from litestar.routes import HTTPRoute

from adapters.settings import Settings
from domain.access_record import AccessRecord
from domain.commands import PlaceHold, RequestSnapshot, StartCall
from domain.recording_policy import PolicyTerms
from domain.values import ID_PATTERN, Actor
from tests.support.api_client import Api

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
UPLOAD_LIMIT = 256 * 1024  # the store's upload limits, made small so "oversize" stays cheap
SURROGATE = "\ue000lone-surrogate"  # replaced by a lone surrogate escape in the JSON text
MEGABYTE = "x" * (1024 * 1024 + 1)

# Who may make each request, so that bad input reaches every check (a wrong role would be
# refused first). An endpoint not listed here is sent its bad input with every role's token.
ACTOR = {
    "/v1/recordings": "pbx",
    "/v1/lifecycle-events": "pbx",
    "/v1/recordings/{recording_id}/pause": "pbx",
    "/v1/recordings/{recording_id}/resume": "pbx",
    "/v1/recordings/{recording_id}/end": "pbx",
    "/v1/recordings/{recording_id}/acw-end": "pbx",
    "/v1/recordings/{recording_id}/tags": "pbx",
    "/v1/recordings/{recording_id}/voice": "pbx",
    "/v1/recordings/{recording_id}/annotations": "quinn",
    "/v1/recordings/{recording_id}/snapshot-requests": "sue",
    "/v1/recordings/{recording_id}/segments/{sequence_number}": "agent-n",
    "/v1/recordings/{recording_id}/snapshots/{snapshot_id}": "agent-n",
    "/v1/recordings/{recording_id}/capture-report": "agent-n",
    "/v1/recordings/{recording_id}/holds": "lena",
    "/v1/recordings/{recording_id}/holds/{case_id}/release": "lena",
    "/v1/recordings/{recording_id}/exports": "lena",
    "/v1/holds": "lena",
    "/v1/holds/{case_id}/release": "lena",
    "/v1/erasures": "lena",
    "/v1/evaluation-forms/{form_id}/versions": "quinn",
    "/v1/recordings/{recording_id}/evaluations": "quinn",
    "/v1/recordings/{recording_id}/evaluations/{evaluation_id}/revisions": "quinn",
    "/v1/recordings/{recording_id}/evaluations/{evaluation_id}/acknowledgement": "agent-n",
    "/v1/recordings/{recording_id}/evaluations/{evaluation_id}/dispute": "agent-n",
}
WRONG_ROLE = "aud"  # auditors read; they may write nothing


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings, max_segment_bytes=UPLOAD_LIMIT, max_voice_bytes=UPLOAD_LIMIT, max_snapshot_bytes=UPLOAD_LIMIT
    )


def ffmpeg(tmp_path: Path, name: str, *args: str) -> bytes:
    out = tmp_path / name
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(out)], check=True)
    return out.read_bytes()


# -- what is stored -------------------------------------------------------------


def stored_rows(settings: Settings) -> list[tuple[Any, ...]]:
    """The log's rows as stored, in log order: the bytes every proof commits to."""
    query = "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY {}"
    if settings.database_url:
        with psycopg.connect(settings.database_url) as conn:
            return [(str(o), v, t, bytes(s)) for o, v, t, s in conn.execute(query.format("notification_id"))]
    with sqlite3.connect(settings.sqlite_path) as conn:  # the row id is SQLite's notification id
        return [(str(o), v, t, bytes(s)) for o, v, t, s in conn.execute(query.format("rowid"))]


def stored_objects(api: Api) -> dict[str, bytes]:
    root = Path(api.components.settings.media_url)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# -- bad values, by the type a field or parameter declares ------------------------


def example(t: msgspec.inspect.Type, ids: dict[str, Any]) -> Any:
    """A value of type ``t`` that passes its declared constraints."""
    match t:
        case msgspec.inspect.StrType():
            return "x1" * max(1, (t.min_length or 1))
        case msgspec.inspect.IntType():
            return t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else 1)
        case msgspec.inspect.FloatType():
            return float(t.ge) if t.ge is not None else 1.0
        case msgspec.inspect.BoolType():
            return True
        case msgspec.inspect.DateTimeType():
            return (T0 + timedelta(seconds=5)).isoformat()
        case msgspec.inspect.UUIDType():
            return str(ids["recording_id"])
        case msgspec.inspect.LiteralType():
            return t.values[0]
        case msgspec.inspect.DictType():
            return {}
        case msgspec.inspect.ListType():
            return [example(t.item_type, ids)] * (t.min_length or 0)
        case msgspec.inspect.UnionType():
            return example(next(u for u in t.types if not isinstance(u, msgspec.inspect.NoneType)), ids)
        case msgspec.inspect.StructType():
            body = {f.encode_name: example(f.type, ids) for f in t.fields if f.required}
            return {t.tag_field: t.tag, **body} if t.tag_field else body
        case msgspec.inspect.NoneType():
            return None
    raise AssertionError(f"the fault run has no example for {t!r}; teach it one")


def bad_values(t: msgspec.inspect.Type) -> list[Any]:
    """Values no field of type ``t`` may accept."""
    match t:
        case msgspec.inspect.StrType():
            values = [MEGABYTE, "a\x00b", "\x1b[2J", SURROGATE, 7]
            if t.pattern == ID_PATTERN:  # ids: no traversal, no odd unicode
                values += ["../../etc/passwd", "\u202eevil", "\U0001f600", ".."]
            return values
        case msgspec.inspect.IntType():
            return [10**30, -1, 2**63, "one", 1.5, [1]]  # (Litestar reads "1" as 1, on purpose)
        case msgspec.inspect.FloatType():
            return [1e300, -1.0, "one", [1.0]]
        case msgspec.inspect.DateTimeType():
            return ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-11-23T09:00:00", "soon", 5]
        case msgspec.inspect.UUIDType():
            return ["../../etc", "not-a-uuid", 1]
        case msgspec.inspect.LiteralType():
            return ["\u202e" + str(t.values[0]), "a\x00b", 1]
        case msgspec.inspect.BoolType():
            return ["yes", 2]
        case msgspec.inspect.DictType():
            return [[], {"\x00": "v"}, {f"k{n}": "v" for n in range(10_000)}]
        case msgspec.inspect.ListType():
            return [{}, "x"]
        case msgspec.inspect.NoneType():
            return []
    return ["\x00"]


def mutations(t: msgspec.inspect.Type, base: Any, ids: dict[str, Any], where: str = "$") -> Iterator[tuple[str, Any]]:
    """Bodies like ``base`` with exactly one value made bad, anywhere in the structure."""
    match t:
        case msgspec.inspect.StructType():
            for f in t.fields:
                for label, value in mutations(
                    f.type, base.get(f.encode_name, example(f.type, ids)), ids, f"{where}.{f.encode_name}"
                ):
                    yield label, {**base, f.encode_name: value}
            yield f"{where}+unknown field", {**base, "unexpected": 1}
        case msgspec.inspect.ListType():
            item = base[0] if base else example(t.item_type, ids)
            yield from ((label, [value]) for label, value in mutations(t.item_type, item, ids, f"{where}[0]"))
            yield from ((f"{where}={value!r:.20}", value) for value in bad_values(t))
        case msgspec.inspect.UnionType():
            for option in t.types:
                if not isinstance(option, msgspec.inspect.NoneType):
                    yield from mutations(option, example(option, ids), ids, where)
        case _:
            yield from ((f"{where}={value!r:.20}", value) for value in bad_values(t))


def as_json(body: Any) -> bytes:
    return json.dumps(body).replace(json.dumps(SURROGATE)[1:-1], "\\ud800").encode()


# -- the requests ----------------------------------------------------------------


@dataclass
class Attempt:
    label: str
    method: str
    path: str
    token: str | None
    content: bytes = b""
    params: dict[str, Any] = field(default_factory=dict)
    content_type: str = "application/json"

    def send(self, api: Api) -> Any:
        headers = {"Content-Type": self.content_type}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return api.client.request(self.method, self.path, content=self.content, params=self.params, headers=headers)


@dataclass
class Endpoint:
    method: str
    template: str  # /v1/recordings/{recording_id}/...
    path_types: dict[str, type]
    body_type: Any  # a msgspec Struct, "raw" for an upload, None for none
    query: dict[str, Any]  # name -> annotation


def write_endpoints(api: Api) -> list[Endpoint]:
    endpoints = []
    for route in api.client.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(set(handler.http_methods) & WRITES):
                signature = handler.parsed_fn_signature.parameters
                path_names = {p.name: p.type for p in route.path_parameters.values()}
                # Litestar's reserved names: "data" is a decoded body, "body" the raw bytes; an
                # upload that streams its body (request.stream()) is marked by opt["upload"].
                raw = "body" in signature or handler.opt.get("upload")
                body: Any = signature["data"].annotation if "data" in signature else "raw" if raw else None
                query = {
                    name: p.annotation
                    for name, p in signature.items()
                    if name not in {"self", "data", "body", "request", *handler.resolve_dependencies(), *path_names}
                }
                endpoints.append(Endpoint(method, route.path_format, path_names, body, query))
    return endpoints


def path_with(endpoint: Endpoint, ids: dict[str, Any], **override: str) -> str:
    def value(name: str) -> str:
        if name in override:
            return override[name]
        assert name in ids, f"the fault run has no value for path parameter {name!r}; teach it one"
        return quote(str(ids[name]), safe="")

    path = endpoint.template
    for name in endpoint.path_types:
        path = path.replace("{" + name + "}", value(name))
    return path


BAD_PATH_VALUES = {
    str: ["a%00b", "x" * 5000, "..%2F..%2Fetc%2Fpasswd", "%E2%80%AEevil", "%F0%9F%98%80", "%ED%A0%80"],
    int: [str(10**30), "-1", "x"],
}


def attempts_for(endpoint: Endpoint, api: Api, ids: dict[str, Any], uploads: dict[str, bytes]) -> Iterator[Attempt]:
    tokens = [api.tokens[ACTOR[endpoint.template]]] if endpoint.template in ACTOR else list(api.tokens.values())
    method, path = endpoint.method, path_with(endpoint, ids)
    content, params, content_type = b"{}", {}, "application/json"
    if endpoint.body_type == "raw":
        content = uploads[next(part for part in reversed(endpoint.template.split("/")) if "{" not in part)]
        content_type = "application/octet-stream"
        params = {name: upload_param(name, annotation, content) for name, annotation in endpoint.query.items()}
    elif endpoint.body_type is not None:
        struct_type = msgspec.inspect.type_info(endpoint.body_type)
        content = as_json(example(struct_type, ids))

    # Who asks: nobody, a stranger, a role that may not.
    for label, token in [
        ("no token", None),
        ("unknown token", "cv_not-a-token"),
        ("wrong role", api.tokens[WRONG_ROLE]),
    ]:
        yield Attempt(label, method, path, token, content, params, content_type)

    # Where: every path parameter made bad (the rest of the request is sound).
    for name, kind in endpoint.path_types.items():
        for bad in BAD_PATH_VALUES[kind if kind in BAD_PATH_VALUES else str]:
            for token in tokens:
                yield Attempt(
                    f"path {name}={bad:.20}",
                    method,
                    path_with(endpoint, ids, **{name: bad}),
                    token,
                    content,
                    params,
                    content_type,
                )

    if endpoint.body_type is None:
        return
    if endpoint.body_type == "raw":
        what = content
        bodies = {
            "oversize": (b"\x47" * (UPLOAD_LIMIT + 1), None),
            "declared SHA-256 lies": (what, hashlib.sha256(b"something else").hexdigest()),
            "truncated in transit": (what[: len(what) // 2], hashlib.sha256(what).hexdigest()),
            "garbage": (b"\x00\xff" * 500, None),
            "empty": (b"", None),
        }
        for label, (body, digest) in bodies.items():
            for token in tokens:
                yield Attempt(
                    label,
                    method,
                    path,
                    token,
                    body,
                    {**params, "sha256": digest or hashlib.sha256(body).hexdigest()},
                    content_type,
                )
        for name, annotation in endpoint.query.items():
            for bad in query_bad_values(annotation):
                for token in tokens:
                    yield Attempt(
                        f"query {name}={bad:.20}", method, path, token, content, {**params, name: bad}, content_type
                    )
        return

    struct_type = msgspec.inspect.type_info(endpoint.body_type)
    raw_bodies = {
        "invalid JSON": b'{"reason": ',
        "deeply nested JSON": b"[" * 100_000 + b"]" * 100_000,
        "top-level array": b"[]",
        "top-level string": b'"x"',
        "top-level number": b"1",
        "null": b"null",
        "not UTF-8": b'{"reason": "\xff\xfe"}',
        "form data": b"a=1&b=2",
    }
    for label, body in raw_bodies.items():
        for token in tokens:
            yield Attempt(label, method, path, token, body)
    for label, body in mutations(struct_type, example(struct_type, ids), ids):
        for token in tokens:
            yield Attempt(label, method, path, token, as_json(body))


def upload_param(name: str, annotation: Any, body: bytes) -> Any:
    if name == "sha256":
        return hashlib.sha256(body).hexdigest()
    if "datetime" in str(annotation):
        return (T0 + timedelta(seconds=5)).isoformat()
    if "Literal" in str(annotation):
        return annotation.__args__[0]
    return {"width": 320, "height": 240, "fps": 5, "duration_ms": 2000}.get(name, 1)


def query_bad_values(annotation: Any) -> list[str]:
    text = str(annotation)
    if "datetime" in text:
        return ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-11-23T09:00:00", "soon"]
    if "int" in text:
        return [str(10**30), "-1", "1.5", "x"]
    return ["a\x00b", "../../etc", "x" * 5000, "\u202e"]


def refused(response: Any) -> str | None:
    """What is wrong with the answer to a bad request, or None if it is a proper refusal."""
    if response.status_code == 200 and response.headers.get("content-type") == "application/json":
        results = response.json().get("results")
        # A batch answers each item on its own; refusing every item is refusing the request.
        if results and all(r["status"] >= 400 and r.get("detail") for r in results):
            return None
    if not 400 <= response.status_code < 500:
        return f"status {response.status_code}: {response.text[:160]}"
    if response.headers.get("content-type") != "application/problem+json":
        return f"content-type {response.headers.get('content-type')}"
    if not response.json().get("detail"):
        return "no detail"
    return None


# -- the run ----------------------------------------------------------------------


@pytest.fixture
def ids(api: Api, tmp_path: Path) -> dict[str, Any]:
    """A little of everything for the bad requests to aim at: a recording with a stored
    segment, a requested snapshot, holds on it and on a query, a policy."""
    ledger, root = api.components.ledger, Actor("root", "admin")
    ledger.set_policy(terms=PolicyTerms(), reason="fault run", occurred_at=T0, by=root)
    rid = ledger.execute(
        StartCall(
            interaction_id="fault-run",
            agent_id="agent-n",
            customer_id="cust-1",
            queue="q",
            direction="inbound",
            tags={"lang": "en"},
            occurred_at=T0,
            by=Actor("pbx", "telephony"),
        )
    )
    segment = ffmpeg(
        tmp_path,
        "a.ts",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=5",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-f",
        "mpegts",
    )
    stored = api.client.put(
        f"/v1/recordings/{rid}/segments/0",
        content=segment,
        params={
            "sha256": hashlib.sha256(segment).hexdigest(),
            "captured_at": (T0 + timedelta(seconds=1)).isoformat(),
            "start_offset_ms": 1000,
            "duration_ms": 2000,
            "monitor": 1,
            "width": 320,
            "height": 240,
            "fps": 5,
        },
        headers={"Authorization": f"Bearer {api.tokens['agent-n']}"},
    )
    assert stored.status_code == 201, stored.text
    ledger.execute(
        RequestSnapshot(rid, snapshot_id="snap1", annotation="look", occurred_at=T0, by=Actor("sue", "supervisor"))
    )
    ledger.execute(PlaceHold(rid, case_id="CASE-1", reason="dispute", occurred_at=T0, by=Actor("lena", "legal")))
    assert (
        api.call("lena", "POST", "/v1/holds", json={"case_id": "CASE-Q", "reason": "r", "queue": "q"}).status_code
        == 201
    )
    return {
        "recording_id": rid,
        "sequence_number": 7,
        "snapshot_id": "snap1",
        "case_id": "CASE-1",
        "evaluation_id": "ev-1",
        "form_id": "fault-form",
        "name": "agent-n",
        "user": "quinn",
        "segment": segment,
    }


def test_no_malformed_request_gets_a_5xx_or_changes_what_is_stored(
    api: Api, ids: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    uploads = {
        "segments": ids["segment"],
        "voice": ffmpeg(tmp_path, "v.wav", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1"),
        "snapshots": ffmpeg(tmp_path, "s.jpg", "-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1"),
    }
    endpoints = write_endpoints(api)
    assert len(endpoints) >= 25 and any(e.body_type == "raw" for e in endpoints)
    rows_before, objects_before = stored_rows(settings), stored_objects(api)

    failures, sent = [], 0
    for endpoint in endpoints:
        for attempt in attempts_for(endpoint, api, ids, uploads):
            sent += 1
            if (wrong := refused(attempt.send(api))) is not None:
                failures.append(f"{attempt.method} {endpoint.template} [{attempt.label}]: {wrong}")
    assert failures == [], f"{len(failures)} of {sent} bad requests were not refused properly:\n" + "\n".join(
        failures[:40]
    )

    rows_after = stored_rows(settings)
    assert rows_after[: len(rows_before)] == rows_before  # nothing stored was lost or changed
    access_topic = f"{AccessRecord.Recorded.__module__}:{AccessRecord.Recorded.__qualname__}"
    assert {topic for _, _, topic, _ in rows_after[len(rows_before) :]} <= {access_topic}  # only refusals' evidence
    assert stored_objects(api) == objects_before
