"""The Merkle log over the stored events, its signed checkpoints and proofs, on both engines."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest

from adapters.note_signing import verify_checkpoint
from api.bootstrap import build
from domain.transparency.leaves import Leaf
from domain.transparency.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from tests.support.api_client import Api
from tests.support.calls import paused_call


@pytest.fixture
def group_commit() -> bool:
    return True


def test_every_stored_event_is_a_leaf_in_log_order(api: Api) -> None:
    paused_call(api.components.ledger, "leaf-1")
    log = api.components.transparency
    log.sign_checkpoint()
    size = log.views.leaf_count()
    stored = api.components.ledger.recorder.select_notifications(start=None, limit=10_000)
    assert size == len(stored)
    rows = [log.views.leaves_of(n.originator_id) for n in stored]
    by_notification = {row.notification_id: row for group in rows for row in group}
    for index, notification in enumerate(stored):
        row = by_notification[notification.id]
        leaf = Leaf.decode(row.leaf_data)
        assert (row.leaf_index, leaf.index, leaf.originator_version) == (index, index, notification.originator_version)
        assert row.leaf_hash == leaf_hash(row.leaf_data)
    before = log.views.leaf_hashes(size)
    api.components.projections.rebuild(["log_leaves"])
    assert log.views.leaf_hashes(size) == before


def test_checkpoint_is_signed_and_proofs_verify_against_it(api: Api) -> None:
    rid = paused_call(api.components.ledger, "proof-1")
    size, note = api.components.transparency.sign_checkpoint()
    public_key = api.call(None, "GET", "/v1/log/public-key").text.strip()
    checkpoint = verify_checkpoint(note, public_key)
    assert (
        checkpoint.size == size
        and checkpoint.root == MerkleTree(api.components.transparency.views.leaf_hashes(size)).root()
    )
    assert api.call("aud", "GET", "/v1/log/checkpoint").content == note
    assert api.call("root", "GET", "/v1/log/checkpoint").status_code == 403
    proofs = api.call("aud", "GET", f"/v1/log/proofs/recordings/{rid}").json()
    assert [e["originator_version"] for e in proofs["events"]] == [1, 2, 3]
    for event in proofs["events"]:
        leaf = base64.b64decode(event["leaf"])
        verify_inclusion(
            event["leaf_index"],
            size,
            leaf_hash(leaf),
            [bytes.fromhex(h) for h in event["inclusion_proof"]],
            checkpoint.root,
        )
    paused_call(api.components.ledger, "proof-2")
    new_size, new_note = api.components.transparency.sign_checkpoint()
    assert new_size > size
    consistency = api.call("aud", "GET", "/v1/log/proofs/consistency", params={"from": size, "to": new_size}).json()
    verify_consistency(
        size,
        new_size,
        checkpoint.root,
        verify_checkpoint(new_note, public_key).root,
        [bytes.fromhex(h) for h in consistency["proof"]],
    )
    assert api.components.transparency.sign_checkpoint() == (new_size, new_note)  # the log did not grow: nothing new


def test_export_bundle_holds_the_recording_and_its_proofs(api: Api) -> None:
    rid = paused_call(api.components.ledger, "export-1")
    paused_call(api.components.ledger, "someone-else")
    response = api.call("lena", "POST", f"/v1/recordings/{rid}/exports", json={"reason": "court order 7/2026"})
    assert response.status_code == 201 and response.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    lines = bundle.read("events.jsonl").decode().splitlines()
    assert len(lines) == 4  # three lifecycle events and the Exported event itself
    assert {line.count(str(rid)) > 0 for line in lines} == {True}
    assert api.call("aud", "POST", f"/v1/recordings/{rid}/exports", json={"reason": "x"}).status_code == 403
    assert api.call("lena", "POST", f"/v1/recordings/{rid}/exports", json={}).status_code == 422


def test_two_processes_signing_the_same_size_keep_one_checkpoint(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI signs while the server does: both read the same head, then both sign the next size."""
    paused_call(api.components.ledger, "race-1")
    here = api.components.transparency
    head_before = here.checkpoints.latest()
    other = build(api.components.settings, serving=False)  # another process on the same database and key
    try:
        theirs = other.transparency.sign_checkpoint()
    finally:
        other.close()
    monkeypatch.setattr(here.checkpoints, "latest", lambda: head_before)  # read before theirs was kept
    assert here.sign_checkpoint() == theirs
    assert here.checkpoints.before(theirs[0] + 1, 10)[0] == theirs
    assert here.alarm() is None
