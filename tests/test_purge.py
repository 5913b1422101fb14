"""Purge and erasure end to end over HTTP, on both engines: what is destroyed is gone for good
(searched for in the raw bytes of the database and the media store), the record of it stays."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.note_signing import verify_checkpoint
from adapters.settings import Settings
from domain.transparency.merkle import leaf_hash, verify_inclusion
from domain.values import REDACTED
from tests.support.api_client import Api
from tests.support.raw_bytes import database_files, raw_hits


@pytest.fixture(scope="module")
def segment(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("purge") / "s.ts"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
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
            str(out),
        ],
        check=True,
    )
    return out.read_bytes()


def recorded_call(
    api: Api, interaction: str, customer: str, secret_tag: str, segment: bytes, agent: str = "agent-n"
) -> str:
    """A complete call with a screen segment and, for agent-n's team, a quality annotation naming people."""
    started = datetime.now(UTC) - timedelta(minutes=10)
    at = lambda s: (started + timedelta(seconds=s)).isoformat()  # noqa: E731
    rid = api.call(
        "pbx",
        "POST",
        "/v1/recordings",
        json={
            "interaction_id": interaction,
            "agent_id": agent,
            "customer_id": customer,
            "queue": "sales",
            "direction": "inbound",
            "tags": {"account": secret_tag},
            "occurred_at": at(0),
        },
    ).json()["recording_id"]
    upload = api.client.put(
        f"/v1/recordings/{rid}/segments/0",
        content=segment,
        params={
            "sha256": hashlib.sha256(segment).hexdigest(),
            "captured_at": at(1),
            "start_offset_ms": 0,
            "duration_ms": 2000,
            "monitor": 0,
            "width": 320,
            "height": 240,
            "fps": 5,
        },
        headers={"Authorization": f"Bearer {api.tokens[agent]}", "Content-Type": "video/mp2t"},
    )
    assert upload.status_code == 201, upload.text
    if agent == "agent-n":  # quinn answers for agent-n's team
        assert (
            api.call(
                "quinn",
                "POST",
                f"/v1/recordings/{rid}/annotations",
                json={"media_offset_ms": 500, "text": f"{customer} spoke to Ms Example"},
            ).status_code
            == 201
        )
    for path, body in (("end", {"occurred_at": at(30)}), ("acw-end", {"occurred_at": at(60)})):
        assert api.call("pbx", "POST", f"/v1/recordings/{rid}/{path}", json=body).status_code == 200
    return rid


def purge_immediately(api: Api) -> None:
    assert (
        api.call(
            "root",
            "PUT",
            "/v1/policy",
            json={"retention": [{"purge_after_days": 0}], "reason": "purge as soon as complete (test)"},
        ).status_code
        == 200
    )


def test_purge_destroys_media_and_personal_fields_and_keeps_the_record(
    api: Api, settings: Settings, segment: bytes
) -> None:
    purge_immediately(api)  # retention follows the policy version a recording was started under
    secret = f"cust-{uuid.uuid4().hex[:12]}"
    account = f"ACC-{uuid.uuid4().hex[:12]}"
    rid = recorded_call(api, "purge-1", secret, account, segment)
    bystander = recorded_call(api, "purge-keep", f"cust-{uuid.uuid4().hex[:12]}", "ACC-other", segment)
    api.call("lena", "POST", f"/v1/recordings/{bystander}/holds", json={"case_id": "C-1", "reason": "dispute"})
    detail = api.call("lena", "GET", f"/v1/recordings/{rid}").json()
    assert detail["recording"]["customer_id"] == secret and detail["recording"]["tags"] == {"account": account}
    events_before = len(detail["events"])
    media_dir = Path(api.components.settings.media_url)
    needles = [secret.encode(), account.encode(), segment[188 * 4 : 188 * 5]]
    # Nothing personal was ever written in clear: not by ingest, views, audit or search.
    api.call("lena", "GET", "/v1/recordings", params={"customer": secret})
    api.components.projections.catch_up(views=["audit_trail"])
    assert raw_hits(database_files(settings), needles[:2]) == []
    assert raw_hits(media_dir.rglob("*"), needles[2:]) == []
    # The search itself works: what is not personal (the interaction id) is found in clear.
    assert raw_hits(database_files(settings), [b"purge-keep"]) and raw_hits(media_dir.rglob("*"), [b"CVM1"])

    run = api.call("root", "POST", "/v1/retention/run").json()
    assert rid in run["purged"] and bystander not in run["purged"]
    assert "C-1" in run["kept"][bystander]

    # The media are gone, and the key that sealed them with them.
    assert not [p for p in media_dir.rglob("*") if rid in str(p) and p.is_file()]
    assert api.components.keys.keys_for(uuid.UUID(rid)) is None
    # Personal fields read as redacted; every event and audit entry remains.
    after = api.call("lena", "GET", f"/v1/recordings/{rid}").json()
    assert after["recording"]["customer_id"] == REDACTED and after["recording"]["status"] == "purged"
    assert after["recording"]["tags"] == {"account": REDACTED}
    assert len(after["events"]) == events_before + 1
    started, annotated, purged = after["events"][0], after["events"][2], after["events"][-1]
    assert (started["data"]["customer_id"], started["data"]["tags"]) == (REDACTED, {"account": REDACTED})
    assert annotated["type"] == "Annotated" and annotated["data"]["text"] == REDACTED
    assert purged["type"] == "Purged" and purged["data"]["media_objects"] == 1
    assert purged["data"]["keys_destroyed"] == ["recording"] and len(purged["data"]["media_sha256"]) == 1
    trail = api.call("aud", "GET", "/v1/audit", params={"recording": rid, "limit": 1000}).json()["items"]
    assert {"call_started", "screen_sampled", "annotated", "purged", "search"} <= {e["action"] for e in trail}
    assert all(e["customer_id"] == REDACTED for e in trail)
    # The search view rebuilds from the log to what it was: the tags' blind indexes are in
    # the events, so destroying the keys that sealed the values changes no row. (Caught up
    # first: the reads above are folded into the row's last access by the view's follower.)
    api.components.projections.catch_up(views=["recordings"])
    row = api.components.views.recording(uuid.UUID(rid))
    assert row is not None and row.tag_refs == {"account": api.components.ledger.tag_ref("account", account)}
    api.components.projections.rebuild(["recordings"])
    assert api.components.views.recording(uuid.UUID(rid)) == row
    # The bystander under hold is untouched.
    kept = api.call("lena", "GET", f"/v1/recordings/{bystander}").json()["recording"]
    assert kept["status"] == "complete" and kept["tags"] == {"account": "ACC-other"}

    # The log still proves every event of the purged recording.
    size, note = api.components.transparency.sign_checkpoint()
    root = verify_checkpoint(note, api.call(None, "GET", "/v1/log/public-key").text.strip()).root
    proofs = api.call("aud", "GET", f"/v1/log/proofs/recordings/{rid}").json()["events"]
    assert len(proofs) == events_before + 1
    for event in proofs:
        verify_inclusion(
            event["leaf_index"],
            size,
            leaf_hash(base64.b64decode(event["leaf"])),
            [bytes.fromhex(h) for h in event["inclusion_proof"]],
            root,
        )

    # Playback and media export are refused; only the event record can be exported.
    assert api.call("lena", "POST", f"/v1/recordings/{rid}/exports", json={"reason": "court order"}).status_code == 409
    assert raw_hits(database_files(settings), needles[:2]) == []
    assert raw_hits(media_dir.rglob("*"), needles[2:]) == []


def test_a_query_hold_covers_a_recording_made_after_it_and_purge_says_why(api: Api, segment: bytes) -> None:
    purge_immediately(api)
    placed = api.call(
        "lena",
        "POST",
        "/v1/holds",
        json={
            "case_id": "CASE-Q",
            "reason": "regulator inquiry",
            "agent_id": "agent-n",
            "started_from": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        },
    )
    assert placed.status_code == 201, placed.text
    later = recorded_call(api, "after-hold", "cust-q", "ACC-q", segment)
    elsewhere = recorded_call(api, "other-agent", "cust-q2", "ACC-q2", segment, agent="agent-s")
    run = api.call("root", "POST", "/v1/retention/run").json()
    assert run["purged"] == [elsewhere]
    assert run["kept"][later] == "cannot purge: legal hold by case(s) CASE-Q (query hold)"
    under_hold = api.call("lena", "GET", "/v1/recordings?hold=true").json()["items"]
    assert [(r["recording_id"], r["legal_hold"], r["hold_cases"]) for r in under_hold] == [
        (later, True, ["CASE-Q (query hold)"])
    ]
    assert [h["case_id"] for h in api.call("aud", "GET", "/v1/holds").json()] == ["CASE-Q"]
    assert api.call("lena", "POST", "/v1/holds/CASE-Q/release", json={"reason": "closed"}).status_code == 200
    assert api.call("root", "POST", "/v1/retention/run").json()["purged"] == [later]


def test_a_query_hold_by_tag_is_placed_by_the_values_index(api: Api, segment: bytes) -> None:
    purge_immediately(api)
    half = api.call("lena", "POST", "/v1/holds", json={"case_id": "CASE-H", "reason": "x", "tag_value": "ACC-t"})
    assert half.status_code == 422 and "tag_key and tag_value" in half.json()["detail"]
    placed = api.call(
        "lena",
        "POST",
        "/v1/holds",
        json={"case_id": "CASE-T", "reason": "billing dispute", "tag_key": "account", "tag_value": "ACC-t"},
    )
    assert placed.status_code == 201, placed.text
    held = recorded_call(api, "tag-held", "cust-t", "ACC-t", segment)
    free = recorded_call(api, "tag-free", "cust-t", "ACC-u", segment)
    run = api.call("root", "POST", "/v1/retention/run").json()
    assert run["purged"] == [free] and "CASE-T" in run["kept"][held]
    [hold] = api.call("aud", "GET", "/v1/holds").json()
    assert hold["criteria"] == {
        "tag_key": "account",
        "tag_ref": api.components.ledger.tag_ref("account", "ACC-t"),
        "customer_ref": None,
        "agent_id": None,
        "queue": None,
        "started_from": None,
        "started_until": None,
    }


def test_erasure_refuses_with_reasons_then_destroys_the_customer(api: Api, segment: bytes) -> None:
    customer = f"cust-{uuid.uuid4().hex[:12]}"
    first = recorded_call(api, "erase-1", customer, "ACC-e1", segment)
    second = recorded_call(api, "erase-2", customer, "ACC-e2", segment)
    api.call("lena", "POST", f"/v1/recordings/{second}/holds", json={"case_id": "C-9", "reason": "complaint"})
    refused = api.call(
        "lena",
        "POST",
        "/v1/erasures",
        json={"customer_id": customer, "request_id": "DSR-1", "reason": "Art. 17 request"},
    )
    assert refused.status_code == 409 and "C-9" in refused.json()["refusals"][second]
    assert api.call("lena", "GET", f"/v1/recordings/{first}").json()["recording"]["customer_id"] == customer
    assert (
        api.call(
            "root", "POST", "/v1/erasures", json={"customer_id": customer, "request_id": "DSR-1", "reason": "x"}
        ).status_code
        == 403
    )

    api.call("lena", "POST", f"/v1/recordings/{second}/holds/C-9/release", json={"reason": "settled"})
    erased = api.call(
        "lena",
        "POST",
        "/v1/erasures",
        json={"customer_id": customer, "request_id": "DSR-1", "reason": "Art. 17 request"},
    )
    assert erased.status_code == 200 and sorted(erased.json()["recordings"]) == sorted([first, second])
    for rid in (first, second):
        detail = api.call("lena", "GET", f"/v1/recordings/{rid}").json()
        assert detail["recording"]["customer_id"] == REDACTED
        assert detail["events"][-1]["data"]["keys_destroyed"] == ["recording", "customer"]
    trail = api.call("aud", "GET", "/v1/audit", params={"action": "erase"}).json()["items"]
    assert {(e["outcome"], e["detail"].get("request_id"), e["actor"]) for e in trail} == {
        ("refused", "DSR-1", "lena"),
        ("refused", None, "root"),
        ("allowed", "DSR-1", "lena"),
    }


def test_archive_moves_sealed_media_and_exports_still_read_it(api: Api, segment: bytes) -> None:
    assert (
        api.call(
            "root",
            "PUT",
            "/v1/policy",
            json={"retention": [{"archive_after_days": 0}], "reason": "archive as soon as complete (test)"},
        ).status_code
        == 200
    )
    rid = recorded_call(api, "archive-1", "cust-arch", "ACC-arch", segment)
    live, archive = Path(api.components.settings.media_url), Path(api.components.settings.archive_url)
    assert list(live.rglob("*.ts")) and not list(archive.rglob("*.ts"))
    run = api.call("root", "POST", "/v1/retention/run").json()
    assert (run["archived"], run["purged"]) == ([rid], [])
    assert not list(live.rglob("*.ts")) and len(list(archive.rglob("*.ts"))) == 1
    events = api.call("lena", "GET", f"/v1/recordings/{rid}").json()["events"]
    assert events[-1]["type"] == "Archived" and events[-1]["data"]["archive_location"] == str(archive)
    bundle = api.call("lena", "POST", f"/v1/recordings/{rid}/exports", json={"reason": "court order"})
    assert bundle.status_code == 201
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as z:
        [name] = [n for n in z.namelist() if n.startswith("media/segments/")]
        assert z.read(name) == segment  # opened from the archive, exactly as uploaded
    assert api.call("root", "POST", "/v1/retention/run").json()["archived"] == []  # once
