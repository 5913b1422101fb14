"""Playback over HTTP, on both engines: a viewing is one Played event with its reason; its
grant serves the playable file by byte ranges to its own user only; the scope of teams holds;
a purged recording has nothing to play; the console's session and CSRF rules."""

from __future__ import annotations

import html
import io
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import av
import pytest

from adapters import crypto
from adapters.master_key import load_master_key
from adapters.playback_grants import Grant, GrantSigner
from api.cli.demo import CallPlan, demo_plan, record_call
from api.cli.demo_media import decode_time_code
from api.http.console import PAGE_SIZE
from domain.commands import StartCall
from domain.recording_policy import PolicyTerms
from domain.values import Actor
from tests.support.api_client import Api


def principal(api: Api, user: str):
    return api.components.identity.principal_for(api.tokens[user])


@pytest.fixture
def call(api: Api) -> Call:
    """The demo's call (paused 10-14 s, segment 4 at 24-29 s missing, screen through ACW), by agent-n."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    plan = demo_plan("play-1")
    rid = record_call(
        api.components, plan, pbx=principal(api, "pbx"), agent=principal(api, "agent-n"), started_at=started
    )
    return Call(rid, started, plan)


@dataclass(frozen=True)
class Call:
    recording_id: UUID
    started_at: datetime
    plan: CallPlan


def open_viewing(api: Api, user: str, rid: UUID, reason: str = "quality_evaluation", **body):
    return api.call(user, "POST", f"/v1/recordings/{rid}/viewings", json={"reason_code": reason, **body})


def played(api: Api, rid: UUID) -> list:
    return [e for e in api.components.ledger.history(rid).events if type(e).__name__ == "Played"]


def refusals(api: Api, rid: UUID) -> list[dict]:
    trail = api.call("lena", "GET", "/v1/audit", params={"limit": 1000}).json()["items"]
    return [row for row in trail if row["recording_id"] == str(rid) and row["outcome"] == "refused"]


def test_a_viewing_is_one_played_event_and_its_grant_streams_by_ranges(api: Api, call: Call) -> None:
    opened = open_viewing(api, "quinn", call.recording_id)
    assert opened.status_code == 201, opened.text
    viewing = opened.json()
    assert viewing["parts"] == ["audio", "screen"]
    url = viewing["playable_url"]

    whole = api.call("quinn", "GET", url)
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("video/mp4")
    assert whole.headers["accept-ranges"] == "bytes"
    body, size, etag = whole.content, len(whole.content), whole.headers["etag"]
    assert int(whole.headers["content-length"]) == size

    def ranged(spec: str, **headers: str):
        return api.call("quinn", "GET", url, headers={"Range": spec, **headers})

    for spec, first, last in [
        ("bytes=0-99", 0, 99),  # the first bytes
        (f"bytes={size // 2}-{size // 2 + 999}", size // 2, size // 2 + 999),  # the middle
        (f"bytes={size - 100}-{size - 1}", size - 100, size - 1),  # the last
        ("bytes=-100", size - 100, size - 1),  # a suffix
        (f"bytes={size - 10}-", size - 10, size - 1),  # open-ended
        (f"bytes={size - 10}-{size + 500}", size - 10, size - 1),  # past the end: clipped
    ]:
        part = ranged(spec)
        assert part.status_code == 206, spec
        assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert part.content == body[first : last + 1]
    for spec in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"):
        refused = ranged(spec)
        assert refused.status_code == 416, spec
        assert refused.headers["content-range"] == f"bytes */{size}"
    assert ranged("bytes=0-9", **{"If-Range": etag}).status_code == 206
    assert ranged("bytes=0-9", **{"If-Range": '"another-version"'}).status_code == 200
    assert ranged("bytes=0-9,20-29").status_code == 200  # several ranges: the whole body

    # One Played for the viewing, however many ranges its player asks for.
    [event] = played(api, call.recording_id)
    assert (event.reason_code, event.what, event.actor, event.viewing_id) == (
        "quality_evaluation",
        "audio,screen",
        "quinn",
        viewing["viewing_id"],
    )
    # The compliance report shows the viewing with its reason and what it played.
    report = api.call("lena", "GET", "/v1/audit", params={"action": "played"}).json()["items"]
    assert [(r["actor"], r["reason_code"], r["detail"]["what"], r["detail"]["viewing_id"]) for r in report] == [
        ("quinn", "quality_evaluation", "audio,screen", viewing["viewing_id"])
    ]
    peaks = api.call("quinn", "GET", viewing["peaks_url"]).json()
    assert peaks["peaks_per_second"] == 20
    assert len(peaks["peaks"]) == pytest.approx(call.plan.call_ms / 1000 * 20, abs=2)
    pause = peaks["peaks"][11 * 20 : 13 * 20]  # the voice is silent while the call was paused
    assert max(pause) < 0.01 < max(peaks["peaks"][:20])


def test_the_playable_file_shows_each_frame_at_its_capture_time(api: Api, call: Call) -> None:
    viewing = open_viewing(api, "sue", call.recording_id).json()
    body = api.call("sue", "GET", viewing["playable_url"]).content
    with av.open(io.BytesIO(body)) as film:
        [video], [audio] = film.streams.video, film.streams.audio
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert float(film.duration / av.time_base) == pytest.approx(call.plan.duration_ms / 1000, abs=0.3)
        shown = {}
        for frame in film.decode(video):
            at_ms = round(float(frame.pts * video.time_base) * 1000)
            rgba = frame.reformat(format="rgba")
            shown[at_ms] = decode_time_code(bytes(rgba.planes[0]), rgba.width, rgba.height)
    # Every frame shows the moment it is placed at; the gaps stay gaps (no frame inside them).
    assert shown and all(code is not None and abs(code - at) <= 100 for at, code in shown.items())
    assert call.plan.pause == (10_000, 14_000)
    for start, end in (call.plan.pause, (24_000, 29_000)):  # paused, then segment 4 missing
        assert not [at for at in shown if start < at < end - 100]


def test_a_grant_serves_only_its_own_user_its_recording_and_not_after_it_expires(api: Api, call: Call) -> None:
    viewing = open_viewing(api, "sue", call.recording_id).json()
    url = viewing["playable_url"]
    assert api.call("quinn", "GET", url).status_code == 403  # another user's grant
    assert api.call(None, "GET", url).status_code == 401  # a copied URL, nobody signed in
    signer = GrantSigner(crypto.purpose_key(load_master_key(api.components.settings), "playback-grants"))
    sue = principal(api, "sue")
    expired = signer.sign(Grant(uuid4(), sue.user_id, call.recording_id, "audio,screen", int(time.time()) - 1))
    other = signer.sign(Grant(uuid4(), sue.user_id, uuid4(), "audio,screen", int(time.time()) + 600))
    forged = GrantSigner(b"k" * 32).sign(Grant(uuid4(), sue.user_id, call.recording_id, "audio", 2**40))
    base = f"/v1/recordings/{call.recording_id}/playable"
    reasons = []
    for grant in (expired, other, forged, viewing["grant"][:-2] + "xx"):
        refused = api.call("sue", "GET", base, params={"grant": grant})
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        reasons.append(refused.json()["detail"])
    assert "expired" in reasons[0] and "another recording" in reasons[1] and "signature" in reasons[2]
    assert api.call("sue", "GET", base).status_code in (400, 422)  # no grant at all
    why = [row["detail"].get("why", "") for row in refusals(api, call.recording_id)]
    assert sum("another user" in w or "expired" in w or "signature" in w for w in why) >= 4


def test_who_may_play_follows_the_teams_and_the_policy(api: Api, call: Call) -> None:
    rid = call.recording_id
    assert open_viewing(api, "sam", rid).status_code == 403  # supervisor of another team
    assert open_viewing(api, "aud", rid).status_code == 403  # auditors never hear a call
    assert open_viewing(api, "root", rid).status_code == 403  # nor admins
    assert open_viewing(api, "agent-n", rid).status_code == 403  # not by default
    assert open_viewing(api, "lena", rid, reason="legal_request").status_code == 201  # legal: everywhere
    refused_reason = open_viewing(api, "sue", rid, reason="curiosity")
    assert refused_reason.status_code == 422 and "reason_code" in refused_reason.json()["detail"]
    assert open_viewing(api, "sue", rid, parts=["video"]).status_code in (400, 422)
    api.components.ledger.set_policy(
        terms=PolicyTerms(agents_play_own_calls=True, playback_reasons=("coaching",)),
        reason="self-coaching",
        occurred_at=call.started_at,
        by=Actor("root", "admin"),
    )
    assert open_viewing(api, "agent-n", rid, reason="coaching", parts=["audio"]).status_code == 201
    assert open_viewing(api, "agent-s", rid, reason="coaching").status_code == 403  # another agent's call
    assert [(e.actor, e.reason_code, e.what) for e in played(api, rid)] == [
        ("lena", "legal_request", "audio,screen"),
        ("agent-n", "coaching", "audio"),
    ]
    refused = {row["actor"] for row in refusals(api, rid) if row["action"] == "play"}
    assert {"sam", "agent-n", "agent-s"} <= refused


def test_audio_only_viewing_gets_a_file_without_the_screen(api: Api, call: Call) -> None:
    viewing = open_viewing(api, "sue", call.recording_id, parts=["audio"]).json()
    media = api.call("sue", "GET", viewing["playable_url"])
    assert media.headers["content-type"].startswith("audio/mp4")
    with av.open(io.BytesIO(media.content)) as film:
        assert (len(film.streams.video), len(film.streams.audio)) == (0, 1)


def test_a_purged_recording_cannot_be_played_or_rebuilt(api: Api, call: Call) -> None:
    viewing = open_viewing(api, "sue", call.recording_id).json()
    assert api.call("sue", "GET", viewing["playable_url"]).status_code == 200
    media_root = Path(api.components.settings.media_url)

    def derived() -> list[Path]:
        return list(media_root.rglob("derived/**/*.mp4"))

    assert derived()
    api.components.retention.erase_subject(
        principal(api, "lena"), customer_id="cust-0042", request_id="dsr-1", reason="erasure request"
    )
    assert not derived()
    assert open_viewing(api, "sue", call.recording_id).status_code == 409
    again = api.call("sue", "GET", viewing["playable_url"])
    assert again.status_code == 409 and "purged" in again.json()["detail"]
    assert not derived()
    # Its page shows the purge record, and no player or way to open one.
    sign_in(api, "sue")
    page = api.client.get(f"/recordings/{call.recording_id}")
    assert page.status_code == 200 and 'id="purged"' in page.text and "erasure request" in page.text
    assert 'id="open-player"' not in page.text and 'id="player"' not in page.text
    assert "cust-0042" not in page.text  # the customer's id is destroyed with its key


def test_console_search_pages_by_keyset_within_the_callers_reach(api: Api) -> None:
    pbx, started = principal(api, "pbx"), datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    for number, agent in [(n, "agent-n") for n in range(PAGE_SIZE + 2)] + [(99, "agent-s")]:
        start = StartCall(
            interaction_id=f"page-{number}",
            agent_id=agent,
            customer_id="c",
            queue="sales",
            direction="inbound",
            tags={},
            occurred_at=started + timedelta(seconds=number),
            by=Actor("pbx", "telephony"),
        )
        api.components.lifecycle.start(pbx, start)
    sign_in(api, "sue")  # answers for agent-n's team, not agent-s's
    first = api.client.get("/search", params={"queue": "sales"})
    rows = re.findall(r'data-recording-id="([^"]+)"', first.text)
    assert len(rows) == PAGE_SIZE
    next_page = re.search(r'id="next-page" href="([^"]+)"', first.text)
    assert next_page is not None
    second = api.client.get(html.unescape(next_page.group(1)))
    more = re.findall(r'data-recording-id="([^"]+)"', second.text)
    assert len(more) == 2 and not set(rows) & set(more) and 'id="next-page"' not in second.text
    searched = api.call("lena", "GET", "/v1/audit", params={"action": "search"}).json()["items"]
    assert [row["actor"] for row in searched].count("sue") >= 2  # audited like the API's search


# -- the console -------------------------------------------------------------


BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"  # what a browser asks for when it navigates


def sign_in(api: Api, user: str):
    api.client.headers["accept"] = BROWSER
    form = api.client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return api.client.post("/sign-in", data={"token": api.tokens[user], "csrf_token": token}, follow_redirects=False)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_console_session_csrf_and_a_viewing_from_the_page(api: Api, call: Call) -> None:
    rid = call.recording_id
    # Without a session, a script or other client is told so; a browser is sent to sign in.
    refused = api.client.get("/search", follow_redirects=False)
    assert refused.status_code == 401 and refused.headers["content-type"].startswith("application/problem+json")
    api.client.headers["accept"] = BROWSER
    assert api.client.get("/search", follow_redirects=False).headers["location"] == "/sign-in"
    bad = api.client.post("/sign-in", data={"token": "nope", "csrf_token": "1.x"}, follow_redirects=False)
    assert bad.status_code == 403
    signed = sign_in(api, "quinn")
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()

    search = api.client.get("/search", params={"agent": "agent-n"})
    assert search.status_code == 200 and str(rid) in search.text
    assert "script-src 'self'" in search.headers["content-security-policy"]
    page = api.client.get(f"/recordings/{rid}")
    assert 'id="open-player"' in page.text and 'value="quality_evaluation"' in page.text
    form = {"reason_code": "dispute", "parts": ["audio", "screen"]}
    assert api.client.post(f"/recordings/{rid}/viewings", data=form).status_code == 403  # no CSRF token
    assert not played(api, rid)
    opened = api.client.post(
        f"/recordings/{rid}/viewings", data={**form, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert opened.status_code == 303
    player = api.client.get(opened.headers["location"])
    assert 'id="player"' in player.text and "/playable?grant=" in player.text
    [event] = played(api, rid)
    assert (event.actor, event.reason_code) == ("quinn", "dispute")

    # The player's script annotates with the session's CSRF token in a header; the cookie alone writes nothing.
    note = {"text": "agent reads the card number back", "media_offset_ms": 12_300}
    path = f"/recordings/{rid}/annotations"
    assert api.client.post(path, json=note).status_code == 403
    done = api.client.post(path, json=note, headers={"X-CSRF-Token": csrf_of(player.text)})
    assert done.status_code == 201 and done.json()["at_ms"] == 12_300
    assert api.client.post(f"/v1/recordings/{rid}/annotations", json=note).status_code == 401
    [annotated] = [e for e in api.components.ledger.history(rid).events if type(e).__name__ == "Annotated"]
    assert (annotated.media_offset_ms, annotated.actor) == (12_300, "quinn")

    api.client.post("/sign-out", data={"csrf_token": csrf_of(player.text)})
    assert api.client.get("/search", follow_redirects=False).status_code == 303
    media = opened.headers["location"]  # the page's grant, now that its session is gone
    assert api.client.get(media, follow_redirects=False).status_code == 303


def test_another_teams_supervisor_gets_403_pages_and_both_refusals_are_audited(api: Api, call: Call) -> None:
    viewing = open_viewing(api, "sue", call.recording_id).json()
    sign_in(api, "sam")
    page = api.client.get(f"/recordings/{call.recording_id}")
    assert page.status_code == 403 and "outside the teams" in page.text
    assert api.client.get(viewing["playable_url"]).status_code == 403
    actions = {(row["actor"], row["action"]) for row in refusals(api, call.recording_id)}
    assert {("sam", "view"), ("sam", "play")} <= actions


def test_derived_media_is_sealed_in_chunks_that_open_alone_and_only_in_place(api: Api, call: Call) -> None:
    media, rid = api.components.media, call.recording_id
    data = bytes(range(256)) * (5 * crypto.CHUNK_BYTES // 256 + 17)  # five chunks and a bit
    key = f"{media.derived_prefix(rid)}test/film.mp4"
    media.put_derived(rid, key, data)
    film = media.open_derived(rid, key)
    assert film is not None and film.size == len(data)
    step = crypto.CHUNK_BYTES
    for first, last in [(0, 0), (step - 1, step), (step - 5, 3 * step + 5), (len(data) - 3, len(data) - 1)]:
        assert film.read(first, last) == data[first : last + 1]
    # The stored object is ciphertext, and its chunks open only where they were sealed.
    stored = Path(api.components.settings.media_url, key)
    sealed = stored.read_bytes()
    assert data[:4096] not in sealed
    chunk = crypto.SEALED_CHUNK_BYTES
    stored.write_bytes(sealed[chunk : 2 * chunk] + sealed[:chunk] + sealed[2 * chunk :])  # two chunks swapped
    with pytest.raises(crypto.CannotOpen):
        media.open_derived(rid, key).read(0, 10)
    stored.write_bytes(sealed[:-chunk])  # the last chunk cut off
    with pytest.raises(crypto.CannotOpen):
        media.open_derived(rid, key).read(0, 10)
