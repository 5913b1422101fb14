"""The playback console in a real browser: Debian's Chromium, driven by Playwright, on a
real server (uvicorn in this process) holding one call whose every frame and every
second of sound says when it was captured (api/cli/demo_media.py).

The call: 45 s, screen in 5-s segments placed at their offsets, a pause of 3 s with a
reason (no screen, silent voice), one segment that never arrived (voice goes on, the
screen holds), and the voice for the whole call with a beep at every whole second.

What is measured, and how:
- seeking: the frame on screen is drawn to a canvas and its time code read back;
- audio against screen: the video's audio is tapped with Web Audio
  (``createMediaElementSource`` -> an AudioWorklet that timestamps each beep's first
  sample on the audio context's clock, mapped to the page's clock by
  ``getOutputTimestamp``), and every presented frame is timestamped by
  ``requestVideoFrameCallback`` (``expectedDisplayTime``). The beep of second k and the
  first frame of second k should reach the user together.
  What this can and cannot see: headless Chromium here has no sound device, so its audio
  goes to a fake output that consumes it in real time; and tapping the element's audio
  routes it through the Web Audio graph instead of the element's own output. So the
  figure is "when Chromium's audio context hands the beep to its output" against "when
  the compositor expects the frame on screen", not what a speaker would emit. It does
  measure the file and the player: the same measurement of a file whose voice is 200 ms
  late reads about +240 ms (this path's own offset is +30 to +60 ms, steady while
  playing and re-settled by each seek).

Like every integration test, these run on both engines (the module's server is started
once per engine); each engine's run takes about a minute on two cores, half of it the
30 s of playback the sync test needs.
"""

from __future__ import annotations

import bisect
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import av
import httpx
import pytest

from adapters.settings import Settings
from adapters.speech import PocketsphinxTranscriber
from api.cli.demo import CallPlan, record_call
from api.cli.demo_media import TIME_CODE_JS, frame_times
from api.http.app import create_app
from api.jobs.transcription import Transcription
from bench.scratch_databases import create_scratch_database, drop_scratch_database
from domain.commands import RecordTranscript
from domain.evaluation_form import Answer, Question
from domain.recording import Recording
from domain.transcript import Utterance, Word
from domain.values import Actor
from tests.support.browser import run
from tests.support.in_process_server import serving
from tests.support.speech import spoken_call

pytestmark = pytest.mark.timeout(120)  # each test is meant to take under a minute; none may hang CI

# -- the call --------------------------------------------------------------------

CALL_MS = 45_000
FPS = 10
FRAME_MS = 1000 // FPS
PAUSE = (20_000, 23_000)  # paused for card details: no screen, a silent voice
MISSING = (33_000, 38_000)  # segment 6 never arrived
# (sequence number, start, duration) of each segment that arrived.
SEGMENTS = [(0, 0, 5000), (1, 5000, 5000), (2, 10_000, 5000), (3, 15_000, 5000)]
SEGMENTS += [(4, 23_000, 5000), (5, 28_000, 5000), (7, 38_000, 5000), (8, 43_000, 2000)]

TEAMS = [("sales", None), ("sales-east", "sales"), ("support", None)]
USERS = [
    ("pbx", "telephony", None),
    ("ann", "agent", "sales-east"),
    ("sue", "supervisor", None),  # answers for sales, and so for sales-east below it
    ("sam", "supervisor", None),  # answers for support only
    ("quinn", "quality", None),  # answers for sales-east
    ("aud", "auditor", None),
    ("lena", "legal", None),
]
RESPONSIBLE = [("sales", "sue"), ("support", "sam"), ("sales-east", "quinn")]
SETUP = Actor("test-setup", "admin")

FRAMES = sorted(ms for _, start, duration in SEGMENTS for ms in frame_times(start, duration, FPS))


def frame_shown_at(ms: float) -> int:
    """Capture time of the frame a player should show at media time ``ms``: the last one at
    or before it (through a gap, the last frame before the gap)."""
    return FRAMES[bisect.bisect_right(FRAMES, ms + 0.5) - 1]


def in_span(ms: float, span: tuple[int, int]) -> bool:
    return span[0] <= ms < span[1]


@dataclass
class Console:
    base: str
    tokens: dict[str, str]
    recording_id: UUID
    components: Any

    def played(self, by: str | None = None) -> list[Any]:
        events = self.components.ledger.history(self.recording_id).events
        return [e for e in events if isinstance(e, Recording.Played) and (by is None or e.actor == by)]

    def audit(self, **params: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.base}/v1/audit",
            params={"recording": str(self.recording_id), **params},
            headers={"Authorization": f"Bearer {self.tokens['aud']}"},
            timeout=15,
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


def seed(
    components: Any, *, call_ms: int, segments: list[tuple[int, int, int]], pause: tuple[int, int] | None
) -> tuple[UUID, dict[str, str]]:
    """The org (each user's API token), then one call of ``call_ms`` through the application's
    own services, as telephony and the agent's capture client would send it."""
    ledger, identity = components.ledger, components.identity
    now = datetime.now(UTC)
    for name, parent in TEAMS:
        ledger.create_team(name=name, parent=parent, occurred_at=now, by=SETUP)
    tokens = {
        name: ledger.register_user(name=name, role=role, team=team, occurred_at=now, by=SETUP)[1]
        for name, role, team in USERS
    }
    for team, user in RESPONSIBLE:
        ledger.make_responsible(team, user=user, occurred_at=now, by=SETUP)
    identity.directory_changed()
    pbx, ann = identity.principal_named("pbx"), identity.principal_named("ann")
    assert pbx is not None and ann is not None
    plan = CallPlan(
        f"browser-{call_ms}",
        call_ms=call_ms,
        segments=tuple(segments),
        reported_segments=max(n for n, _, _ in segments) + 1,
        pause=pause,
    )
    rid = record_call(components, plan, pbx=pbx, agent=ann, started_at=now - timedelta(minutes=10))
    components.projections.catch_up()
    return rid, tokens


def with_worklet(app: Any) -> Any:
    """The app, and beside it the test's audio worklet (``ONSETS_WORKLET``) at ``WORKLET_PATH``:
    from the console's own origin, so the page's CSP (script-src 'self') lets it load unchanged.
    (Playwright's request interception does not see a worklet's module fetch.)"""
    body = ONSETS_WORKLET.encode()

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == WORKLET_PATH:
            headers = [(b"content-type", b"text/javascript"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return asgi


@contextmanager
def served(tmp: Path, **overrides: Any) -> Iterator[tuple[str, Any]]:
    """A console server on its own store in ``tmp`` (and the test's audio worklet beside it):
    its base URL and the app's components."""
    settings = Settings(
        sqlite_path=str(tmp / "callvault.sqlite3"),
        master_key_file=str(tmp / "master.key"),
        views_process=False,
        media_url=str(tmp / "media"),
        archive_url=str(tmp / "archive"),
        **overrides,
    )
    app = create_app(settings)
    with serving(with_worklet(app)) as base:
        yield base, app.state.components


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The console's store, on each engine: the settings that choose it (a scratch PostgreSQL database)."""
    if request.param == "sqlite":
        yield {}
        return
    admin = request.getfixturevalue("postgres_admin")
    name, url = create_scratch_database(admin, prefix="callvault_test")
    try:
        yield {"database_url": url}
    finally:
        drop_scratch_database(admin, name)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, engine: dict[str, str]) -> Iterator[Console]:
    with served(tmp_path_factory.mktemp("console"), **engine) as (base, components):
        rid, tokens = seed(components, call_ms=CALL_MS, segments=SEGMENTS, pause=PAUSE)
        yield Console(base, tokens, rid, components)


# -- the browser's side -----------------------------------------------------------

# Timestamps the first sample of each beep on the audio context's clock (``currentFrame``
# is the render quantum's first frame: exact to the sample). Served beside the app by the
# test's server (``with_worklet``).
ONSETS_WORKLET = """
class Onsets extends AudioWorkletProcessor {
  constructor() { super(); this.quiet = 1e9; }
  process(inputs) {
    const samples = inputs[0] && inputs[0][0];
    if (samples) for (let i = 0; i < samples.length; i++) {
      if (Math.abs(samples[i]) > 0.3) {
        if (this.quiet > sampleRate * 0.3) this.port.postMessage((currentFrame + i) / sampleRate);
        this.quiet = 0;
      } else this.quiet++;
    }
    return true;
  }
}
registerProcessor("onsets", Onsets);
// The loudest sample heard since it was last asked (each message answers it, then starts again).
class Peak extends AudioWorkletProcessor {
  constructor() {
    super();
    this.peak = 0;
    this.port.onmessage = () => { this.port.postMessage(this.peak); this.peak = 0; };
  }
  process(inputs) {
    const samples = inputs[0] && inputs[0][0];
    if (samples) for (let i = 0; i < samples.length; i++) this.peak = Math.max(this.peak, Math.abs(samples[i]));
    return true;
  }
}
registerProcessor("peak", Peak);
"""
WORKLET_PATH = "/__browser_test__/onsets.js"

# The video's audio through the worklet (and on to the output), and every presented frame
# with its media time, its expected display time and the time code it shows.
LISTEN_JS = """async (workletUrl) => {
  const v = document.getElementById("player");
  const ctx = new AudioContext();
  await ctx.audioWorklet.addModule(workletUrl);
  const node = new AudioWorkletNode(ctx, "onsets");
  ctx.createMediaElementSource(v).connect(node);
  node.connect(ctx.destination);
  const seen = window.__seen = {onsets: [], stamps: [], frames: [], sampleRate: ctx.sampleRate};
  node.port.onmessage = (e) => seen.onsets.push(e.data);
  setInterval(() => {
    const s = ctx.getOutputTimestamp();
    if (s.performanceTime > 0) seen.stamps.push([s.contextTime, s.performanceTime]);
  }, 20);
  const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext("2d", {willReadFrequently: true});
  const onFrame = (now, meta) => {
    g.drawImage(v, 0, 0);
    const code = window.decodeTimeCode(g.getImageData(0, 0, c.width, c.height).data, c.width, c.height);
    seen.frames.push({mediaTime: meta.mediaTime, shown: meta.expectedDisplayTime, code});
    v.requestVideoFrameCallback(onFrame);
  };
  v.requestVideoFrameCallback(onFrame);
  if (ctx.state !== "running") await ctx.resume();
  return {state: ctx.state, sampleRate: ctx.sampleRate, baseLatency: ctx.baseLatency};
}"""

# Seeks (when a time is given) and plays for a while, for each step of the plan; answers
# the video's state after each step.
PLAY_PLAN_JS = """async (plan) => {
  const v = document.getElementById("player");
  const steps = [];
  for (const [at, seconds] of plan) {
    if (at !== null) {
      const seeked = new Promise((r) => v.addEventListener("seeked", r, {once: true}));
      v.currentTime = at;
      await seeked;
    }
    if (v.paused) await v.play();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    steps.push({currentTime: v.currentTime, paused: v.paused});
  }
  v.pause();
  const q = v.getVideoPlaybackQuality();
  return {steps, dropped: q.droppedVideoFrames, total: q.totalVideoFrames};
}"""

# The frame on screen after each seek, read back from a canvas.
SEEK_JS = """async (times) => {
  const v = document.getElementById("player");
  const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext("2d", {willReadFrequently: true});
  const out = [];
  for (const t of times) {
    const started = performance.now();
    const seeked = new Promise((r) => v.addEventListener("seeked", r, {once: true}));
    v.currentTime = t;
    await seeked;
    const took = performance.now() - started;
    g.drawImage(v, 0, 0);
    out.push({t, code: window.decodeTimeCode(g.getImageData(0, 0, c.width, c.height).data, c.width, c.height),
              currentTime: v.currentTime, ms: took});
  }
  return out;
}"""

SHOWN_JS = """async () => {
  const v = document.getElementById("player");
  const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext("2d", {willReadFrequently: true});
  g.drawImage(v, 0, 0);
  return {code: window.decodeTimeCode(g.getImageData(0, 0, c.width, c.height).data, c.width, c.height),
          currentTime: v.currentTime};
}"""

# Waits until the video can show a frame (a seek is the sure way with preload=metadata).
READY_JS = """async () => {
  const v = document.getElementById("player");
  if (v.readyState < 1) {
    await new Promise((resolve, reject) => {
      v.addEventListener("loadedmetadata", resolve, {once: true});
      v.addEventListener("error", () => reject(new Error("video error " + (v.error && v.error.code))), {once: true});
    });
  }
  if (v.readyState < 2) {
    const seeked = new Promise((r) => v.addEventListener("seeked", r, {once: true}));
    v.currentTime = 0;
    await seeked;
  }
  return {duration: v.duration, width: v.videoWidth, height: v.videoHeight,
          seekable: v.seekable.length ? [v.seekable.start(0), v.seekable.end(0)] : null};
}"""

WAIT_SEEKED_JS = """async () => {
  const v = document.getElementById("player");
  if (!v.seeking) return v.currentTime;
  await new Promise((r) => v.addEventListener("seeked", r, {once: true}));
  return v.currentTime;
}"""


def sign_in(page: Any, base: str, token: str) -> None:
    """Through the console's sign-in page, as a person would: the API token, then the search page."""
    page.goto(f"{base}/sign-in")
    page.fill("form#sign-in input[name=token]", token)
    page.click("form#sign-in [type=submit]")
    page.wait_for_url(f"{base}/search**")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["callvault_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"


def open_player(
    page: Any,
    console: Console,
    reason: str,
    parts: tuple[str, ...] = ("audio", "screen"),
    *,
    recording_id: UUID | None = None,
    unredacted: bool = False,
) -> str:
    """From the search page to the recording's page (the module's call unless another is named),
    then "open the player" with ``reason``; the viewing's grant (from the page's URL). The video
    is ready to show a frame."""
    base, rid = console.base, recording_id or console.recording_id
    page.goto(f"{base}/search")
    page.click(f'table#results tr[data-recording-id="{rid}"] a.open')
    page.wait_for_url(f"{base}/recordings/{rid}")
    form = page.locator("form#open-player")
    form.locator("select[name=reason_code]").select_option(reason)
    for part in ("audio", "screen"):
        form.locator(f"input[name=parts][value={part}]").set_checked(part in parts)
    if unredacted:
        form.locator("input[name=unredacted]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/recordings/{rid}?viewing=*")
    grant = parse_qs(urlparse(page.url).query)["viewing"][0]
    page.evaluate(TIME_CODE_JS)
    ready = run(page, READY_JS, seconds=20)
    assert ready["duration"] == pytest.approx(CALL_MS / 1000, abs=0.1), ready
    assert ready["seekable"] == [0, pytest.approx(CALL_MS / 1000, abs=0.1)], ready
    assert (ready["width"], ready["height"]) == (640, 360)
    return grant


def listen(page: Any, base: str) -> None:
    """Starts timestamping the video's beeps and frames (see the module's description)."""
    state = run(page, LISTEN_JS, f"{base}{WORKLET_PATH}", seconds=10)
    assert state["state"] == "running", state


@dataclass(frozen=True)
class Second:
    """One whole second k of media time: when its beep was heard, and when its first frame was
    shown (page clock, ms). If frame k.0 itself was not presented (dropped), the first frame of
    the second that was, less its distance from k.0 on the media clock (``exact`` False)."""

    k: int
    heard: float
    shown: float | None
    exact: bool = True

    @property
    def audio_minus_video(self) -> float:
        assert self.shown is not None
        return self.heard - self.shown


def seconds_measured(seen: dict[str, Any]) -> list[Second]:
    """Each beep heard, with the first frame of its second shown around it (none in a gap)."""
    stamps = sorted(seen["stamps"])
    assert len(stamps) > 10, "the audio context reported no output timestamps"
    context_times = [s[0] for s in stamps]

    def page_time(context_time: float) -> float:
        """When audio at this context time left for the output (the closest earlier output timestamp)."""
        i = max(0, bisect.bisect_right(context_times, context_time) - 1)
        at_context, at_page = stamps[i]
        return at_page + (context_time - at_context) * 1000

    frames = seen["frames"]  # in the order presented
    shown_times = [f["shown"] for f in frames]
    measured = []
    for onset in seen["onsets"]:
        heard = page_time(onset)
        # Which second's beep: where the video was when it was heard (its last frame shown, and
        # the time since; through a gap the held frame's time runs on).
        i = bisect.bisect_right(shown_times, heard) - 1
        assert i >= 0, f"a beep at {heard:.0f} ms before any frame"
        k = round((frames[i]["mediaTime"] * 1000 + heard - frames[i]["shown"]) / 1000)
        of_second = [
            f for f in frames if int(f["mediaTime"] + 1e-6) == k and abs(f["shown"] - heard) < 1000
        ]  # this playing of second k (the plan visits no second twice)
        if not of_second:
            measured.append(Second(k, heard, None))
            continue
        first = min(of_second, key=lambda f: f["mediaTime"])
        ahead = (first["mediaTime"] - k) * 1000
        measured.append(Second(k, heard, first["shown"] - ahead, exact=ahead < 1))
    return measured


# -- the tests ---------------------------------------------------------------------


def test_opening_the_player_records_one_played_and_new_tab_adds_none(console: Console, browser_context: Any) -> None:
    """Signed in on the console's page, a supervisor opens the player with a reason: one Played,
    with that reason and the parts chosen; reloading the page, the standalone page in a new tab
    and all the byte ranges the videos fetch add none."""
    page = browser_context.new_page()
    sign_in(page, console.base, console.tokens["sue"])
    before = len(console.played())
    grant = open_player(page, console, "dispute")
    [played] = console.played()[before:]
    assert (played.actor, played.role, played.reason_code, played.what) == (
        "sue",
        "supervisor",
        "dispute",
        "audio,screen",
    )
    run(
        page,
        "async () => { const v = document.getElementById('player'); await v.play(); "
        "await new Promise(r => setTimeout(r, 1500)); v.pause(); return v.currentTime; }",
        seconds=10,
    )
    page.reload()
    run(page, READY_JS, seconds=20)
    with browser_context.expect_page(timeout=15_000) as opened:
        page.click("#open-tab")
    tab = opened.value
    tab.wait_for_load_state()
    assert urlparse(tab.url).path == f"/recordings/{console.recording_id}/player"
    assert parse_qs(urlparse(tab.url).query)["viewing"] == [grant]
    tab.evaluate(TIME_CODE_JS)
    run(tab, READY_JS, seconds=20)
    playing = run(
        tab,
        """async () => { const v = document.getElementById('player'); const from = v.currentTime; await v.play();
           await new Promise(r => setTimeout(r, 2000)); return {from, to: v.currentTime, paused: v.paused}; }""",
        seconds=10,
    )
    assert not playing["paused"] and playing["to"] - playing["from"] > 1.5, playing
    shown = run(tab, SHOWN_JS, seconds=5)
    assert shown["code"] is not None and abs(shown["code"] - shown["currentTime"] * 1000) <= 2 * FRAME_MS, shown
    assert len(console.played()) == before + 1  # still the one


def test_seeking_shows_the_frame_captured_then_and_holds_the_last_one_through_gaps(
    console: Console, browser_context: Any, request: pytest.FixtureRequest
) -> None:
    page = browser_context.new_page()
    sign_in(page, console.base, console.tokens["sue"])
    open_player(page, console, "quality_evaluation")
    # Before and after the pause and the missing segment, inside both, the ends, and back.
    times = [1.04, 12.34, 19.95, 20.05, 21.5, 22.95, 23.0, 24.56, 32.95, 33.2, 35.0, 37.9, 38.0, 41.23, 44.95, 3.33, 0]
    results = run(page, SEEK_JS, times, seconds=30)
    for r in results:
        ms = r["t"] * 1000
        expected = frame_shown_at(ms)
        if in_span(ms, PAUSE) or in_span(ms, MISSING):
            assert r["code"] == expected, f"in a gap at {r['t']} s the screen shows {r['code']}, not {expected}"
        else:
            assert r["code"] is not None and abs(r["code"] - expected) <= FRAME_MS, r
        assert r["currentTime"] == pytest.approx(r["t"], abs=0.001)  # no snapping back
    # The figures measured: the test's properties in a JUnit report (pytest --junitxml, junit_family=xunit1).
    request.node.user_properties.append(("seeks", [(r["t"], r["code"], round(r["ms"], 1)) for r in results]))

    # The timeline's regions seek there when clicked: the pause and the missing segment.
    for kind in ("pause", "missing"):
        item = page.locator(f"#timeline-items li[data-kind={kind}]").first
        at_ms = int(item.get_attribute("data-at-ms") or "-1")
        item.click()
        now = run(page, WAIT_SEEKED_JS, seconds=5)
        assert now * 1000 == pytest.approx(at_ms, abs=1)
        assert run(page, SHOWN_JS, seconds=5)["code"] == frame_shown_at(at_ms), kind
    # The skip buttons: from 12.34 s, +10 s lands in the pause (the frame before it), -10 s back.
    run(page, SEEK_JS, [12.34], seconds=5)
    page.click("#fwd10")
    assert run(page, WAIT_SEEKED_JS, seconds=5) == pytest.approx(22.34, abs=0.01)
    assert run(page, SHOWN_JS, seconds=5)["code"] == PAUSE[0] - FRAME_MS
    page.click("#back10")
    assert run(page, WAIT_SEEKED_JS, seconds=5) == pytest.approx(12.34, abs=0.01)
    assert run(page, SHOWN_JS, seconds=5)["code"] == 12_300


def test_audio_and_screen_stay_within_100_ms_over_30_s_and_after_seeks(
    console: Console, browser_context: Any, request: pytest.FixtureRequest
) -> None:
    page = browser_context.new_page()
    sign_in(page, console.base, console.tokens["quinn"])
    open_player(page, console, "quality_evaluation")
    listen(page, console.base)
    # 30 s of playback: across the pause, across the missing segment, then back to the start.
    plan = [[10.5, 15.0], [29.5, 10.0], [3.5, 5.0]]
    played = run(page, PLAY_PLAN_JS, plan, seconds=50)
    seen = page.evaluate("() => window.__seen")
    # Every frame shown says the time it was shown for: the file puts each frame where it was captured.
    wrong = [f for f in seen["frames"] if f["code"] is None or abs(f["code"] - f["mediaTime"] * 1000) > 1]
    assert not wrong, wrong[:5]
    measured = seconds_measured(seen)
    paired = [s for s in measured if s.shown is not None]
    offsets = [s.audio_minus_video for s in paired]
    request.node.user_properties.append(
        (
            "av_sync",
            f"A/V: {len(paired)} seconds paired of {len(measured)} beeps; audio minus video (ms): "
            f"min {min(offsets):.1f}, median {sorted(offsets)[len(offsets) // 2]:.1f}, max {max(offsets):.1f}; "
            f"frames dropped {played['dropped']} of {played['total']}; per second: "
            + ", ".join(f"{s.k}:{s.audio_minus_video:+.0f}{'' if s.exact else '~'}" for s in paired),
        )
    )
    assert all(abs(o) <= 100 for o in offsets), [(s.k, s.audio_minus_video) for s in paired]
    # No beep in the pause (its voice is silent); in the missing segment, beeps with the screen held.
    assert not [s for s in measured if in_span(s.k * 1000, PAUSE)]
    unpaired = [s.k for s in measured if s.shown is None]
    # A beep for every whole second played but those of the pause; a frame for each but the missing segment's.
    heard = [k for k in [*range(11, 26), *range(30, 40), *range(4, 9)] if not in_span(k * 1000, PAUSE)]
    assert [s.k for s in measured] == heard
    assert unpaired == [k for k in heard if in_span(k * 1000, MISSING)] == [33, 34, 35, 36, 37]


def test_hiding_the_screen_keeps_the_audio_playing_and_expand_enlarges_the_video(
    console: Console, browser_context: Any
) -> None:
    page = browser_context.new_page()
    sign_in(page, console.base, console.tokens["sue"])
    open_player(page, console, "coaching", parts=("audio", "screen"))
    listen(page, console.base)
    run(page, "async () => { await document.getElementById('player').play(); }", seconds=10)
    page.click("#toggle-screen")
    assert "hidden" in (page.get_attribute("#screen", "class") or "").split()
    assert "show" in page.inner_text("#toggle-screen").lower()
    assert not page.locator("#player").is_visible()
    before = page.evaluate(
        "() => ({t: document.getElementById('player').currentTime, beeps: window.__seen.onsets.length})"
    )
    page.wait_for_timeout(3000)
    after = page.evaluate(
        "() => { const v = document.getElementById('player');"
        " return {t: v.currentTime, paused: v.paused, beeps: window.__seen.onsets.length}; }"
    )
    assert not after["paused"] and after["t"] - before["t"] > 2.5, (before, after)
    assert after["beeps"] - before["beeps"] >= 2, "no sound while the screen was hidden"
    page.click("#toggle-screen")
    assert "hidden" not in (page.get_attribute("#screen", "class") or "").split()
    assert "hide" in page.inner_text("#toggle-screen").lower()
    assert page.locator("#player").is_visible()

    small = page.locator("#player").bounding_box()
    page.click("#expand")
    assert "expanded" in (page.get_attribute("#player-root", "class") or "").split()
    page.wait_for_timeout(300)  # any transition of the layout
    large = page.locator("#player").bounding_box()
    width = page.viewport_size["width"]
    assert small and large and large["width"] > small["width"] and large["width"] >= 0.9 * width, (small, large)
    page.click("#expand")
    assert "expanded" not in (page.get_attribute("#player-root", "class") or "").split()


STATE_JS = """() => {
  const v = document.getElementById("player");
  return {t: v.currentTime, paused: v.paused, rate: v.playbackRate,
          hidden: document.getElementById("screen").classList.contains("hidden"),
          expanded: document.getElementById("player-root").classList.contains("expanded")};
}"""


def test_speed_skips_and_keyboard_shortcuts_and_keys_typed_in_a_field_are_text(
    console: Console, browser_context: Any
) -> None:
    page = browser_context.new_page()
    sign_in(page, console.base, console.tokens["quinn"])
    open_player(page, console, "coaching")
    page.select_option("#speed", "1.5")
    assert page.evaluate(STATE_JS)["rate"] == 1.5
    run(page, SEEK_JS, [12.34], seconds=5)
    page.locator("h1").first.click()  # nothing focused that takes keys
    page.keyboard.press(">")
    assert page.evaluate(STATE_JS)["rate"] == 2
    page.wait_for_function("() => document.getElementById('speed').value === '2'")  # on ratechange, a task later
    for rate in (1.5, 1.25, 1):
        page.keyboard.press("<")
        assert page.evaluate(STATE_JS)["rate"] == rate
    page.keyboard.press("ArrowRight")
    assert run(page, WAIT_SEEKED_JS, seconds=5) == pytest.approx(22.34, abs=0.01)
    page.keyboard.press("j")
    assert run(page, WAIT_SEEKED_JS, seconds=5) == pytest.approx(12.34, abs=0.01)
    page.keyboard.press("h")
    page.keyboard.press("f")
    assert page.evaluate(STATE_JS) | {"t": 0} == {"t": 0, "paused": True, "rate": 1, "hidden": True, "expanded": True}
    page.keyboard.press("h")
    page.keyboard.press("Escape")
    page.keyboard.press(" ")
    page.wait_for_timeout(1200)
    state = page.evaluate(STATE_JS)
    assert not state["paused"] and state["t"] > 12.34 + 0.8 and not state["hidden"] and not state["expanded"]
    page.keyboard.press("k")
    assert page.evaluate(STATE_JS)["paused"]
    page.wait_for_function("() => document.getElementById('play').textContent === 'Play'")  # on the pause event
    # Typed into the annotation: text, not commands.
    before = page.evaluate(STATE_JS)
    page.click("form#annotate textarea[name=text]")
    page.keyboard.type("h f k j l > <")
    assert page.evaluate(STATE_JS) == before
    assert page.input_value("form#annotate textarea[name=text]") == "h f k j l > <"


def test_an_annotation_typed_at_the_playhead_is_stored_there_and_shown_at_once(
    console: Console, browser_context: Any
) -> None:
    page = browser_context.new_page()
    sign_in(page, console.base, console.tokens["sue"])
    open_player(page, console, "coaching")
    run(page, SEEK_JS, [12.34], seconds=5)
    stamp = f"greeting skipped {time.monotonic_ns()}"
    page.fill("form#annotate textarea[name=text]", stamp)
    page.click("form#annotate button[type=submit]")
    item = page.locator('#timeline-items li[data-kind=annotation][data-at-ms="12340"]')
    item.wait_for(timeout=10_000)  # no reload: the page adds it when the server says 201
    assert stamp in item.inner_text()
    assert page.input_value("form#annotate textarea[name=text]") == ""
    [stored] = [
        e
        for e in console.components.ledger.history(console.recording_id).events
        if isinstance(e, Recording.Annotated) and e.text == stamp
    ]
    assert (stored.media_offset_ms, stored.actor, stored.role) == (12_340, "sue", "supervisor")

    # While playing: the offset stored is where the playhead was when the button was pressed (±1 frame).
    second = f"hold music too loud {time.monotonic_ns()}"
    page.fill("form#annotate textarea[name=text]", second)
    run(
        page,
        """async () => {
          const v = document.getElementById('player');
          // Where the playhead is as the form is submitted (capture phase: before the player's own listener).
          document.addEventListener('submit', () => { window.__submittedAt = v.currentTime; }, {capture: true});
          await v.play();
          await new Promise(r => setTimeout(r, 1200));
        }""",
        seconds=10,
    )
    count = page.locator("#timeline-items li[data-kind=annotation]").count()
    page.click("form#annotate button[type=submit]")
    page.wait_for_function(
        "(n) => document.querySelectorAll('#timeline-items li[data-kind=annotation]').length > n", arg=count
    )
    playhead = page.evaluate("() => window.__submittedAt")
    assert playhead > 12.34 + 1
    [stored] = [
        e
        for e in console.components.ledger.history(console.recording_id).events
        if isinstance(e, Recording.Annotated) and e.text == second
    ]
    assert abs(stored.media_offset_ms - playhead * 1000) <= FRAME_MS, (stored.media_offset_ms, playhead)
    item = page.locator(f'#timeline-items li[data-kind=annotation][data-at-ms="{stored.media_offset_ms}"]')
    assert second in item.inner_text()


def refusals(console: Console, actor: str) -> list[tuple[str, str]]:
    """(action, why) of each refusal of ``actor`` on the recording, from the audit trail (GET /v1/audit)."""
    return [(r["action"], r["detail"].get("why", "")) for r in console.audit(actor=actor, outcome="refused")]


def test_a_supervisor_of_another_team_is_refused_the_page_and_the_media_and_both_are_audited(
    console: Console, browser_context: Any
) -> None:
    rid = console.recording_id
    # sue opens a viewing; its media URL is what sam tries to fetch.
    sue = browser_context.new_page()
    sign_in(sue, console.base, console.tokens["sue"])
    open_player(sue, console, "dispute")
    media_url = sue.evaluate("() => document.getElementById('player').currentSrc")
    assert urlparse(media_url).path == f"/v1/recordings/{rid}/playable"
    browser_context.clear_cookies()

    sam = browser_context.new_page()
    sign_in(sam, console.base, console.tokens["sam"])
    assert sam.locator(f'table#results tr[data-recording-id="{rid}"]').count() == 0  # not in his search
    page = sam.goto(f"{console.base}/recordings/{rid}")
    assert page is not None and page.status == 403
    assert sam.locator("#player").count() == 0 and sam.locator("form#open-player").count() == 0
    media = sam.request.get(media_url)
    assert media.status == 403 and b"ftyp" not in media.body()[:16]
    # Nor can he get a grant of his own.
    api = httpx.post(
        f"{console.base}/v1/recordings/{rid}/viewings",
        json={"reason_code": "dispute", "parts": ["audio", "screen"]},
        headers={"Authorization": f"Bearer {console.tokens['sam']}"},
        timeout=15,
    )
    assert api.status_code == 403
    refused = refusals(console, "sam")
    assert [action for action, _ in refused] == ["view", "play", "play"], refused
    assert "outside the teams" in refused[0][1] and refused[1][1] == "the grant was issued to another user"
    assert "outside the teams" in refused[2][1]


def test_another_users_grant_is_refused(console: Console, browser_context: Any) -> None:
    """quinn may play this recording, but not through sue's viewing: the grant names its user."""
    sue = browser_context.new_page()
    sign_in(sue, console.base, console.tokens["sue"])
    grant = open_player(sue, console, "dispute")
    media_url = sue.evaluate("() => document.getElementById('player').currentSrc")
    browser_context.clear_cookies()
    quinn = browser_context.new_page()
    sign_in(quinn, console.base, console.tokens["quinn"])
    assert quinn.request.get(media_url).status == 403
    standalone = quinn.goto(f"{console.base}/recordings/{console.recording_id}/player?viewing={grant}")
    assert standalone is not None and standalone.status == 403
    assert quinn.locator("#player").count() == 0
    assert refusals(console, "quinn") == [("play", "the grant was issued to another user")] * 2


def test_an_expired_grant_is_refused(tmp_path: Path, settings: Settings, browser_context: Any) -> None:
    """A short call and a grant of 3 s past its length: playing works, and once it lapses
    the media and the player page are refused (``settings``: its own store, on each engine)."""
    engine = {"database_url": settings.database_url} if settings.database_url else {}
    with served(tmp_path, playback_grant_seconds=3.0, **engine) as (base, components):
        rid, tokens = seed(components, call_ms=2000, segments=[(0, 0, 2000)], pause=None)
        console = Console(base, tokens, rid, components)
        page = browser_context.new_page()
        sign_in(page, console.base, console.tokens["sue"])
        page.goto(f"{console.base}/recordings/{rid}")
        form = page.locator("form#open-player")
        form.locator("select[name=reason_code]").select_option("dispute")
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{console.base}/recordings/{rid}?viewing=*")
        opened = time.monotonic()
        media_url = page.evaluate("() => document.getElementById('player').currentSrc")
        standalone = page.get_attribute("#open-tab", "href")
        assert page.request.get(media_url, headers={"Range": "bytes=0-99"}).status == 206
        time.sleep(max(0.0, opened + 6.5 - time.monotonic()))  # 2 s of call + 3 s of grant, and a margin
        assert page.request.get(media_url, headers={"Range": "bytes=0-99"}).status == 403
        again = page.goto(f"{console.base}{standalone}")
        assert again is not None and again.status == 403
        expired = "the grant has expired; open the player again"
        assert refusals(console, "sue") == [("play", expired)] * 2


# -- a second call, in which the customer reads out a card number ------------------------------

CARD_SPAN = (25_000, 26_900)  # four groups of digits, half a second apart


@pytest.fixture(scope="module")
def card_call(console: Console) -> UUID:
    """The same media as the module's call; its transcript (from telephony) has the customer read
    a card number at 25-26.9 s, outside the pause: one CardDataDetected span."""
    components = console.components
    pbx, ann = components.identity.principal_named("pbx"), components.identity.principal_named("ann")
    plan = CallPlan("browser-card", CALL_MS, tuple(SEGMENTS), max(n for n, _, _ in SEGMENTS) + 1, PAUSE)
    rid = record_call(components, plan, pbx=pbx, agent=ann, started_at=datetime.now(UTC) - timedelta(minutes=9))
    card = "4111 1111 1111 1111".split()
    words = tuple(Word(group, CARD_SPAN[0] + 500 * i, CARD_SPAN[0] + 500 * i + 400) for i, group in enumerate(card))
    utterances = (
        Utterance("agent", 1000, 3000, "thank you for calling how can I help"),
        Utterance("customer", 5000, 7000, "I would like to pay my bill"),
        Utterance("customer", CARD_SPAN[0], CARD_SPAN[1], " ".join(card), words),
        Utterance("agent", 28_000, 30_000, "thank you that is done"),
    )
    stored = components.transcripts.record(
        pbx,
        RecordTranscript(
            rid, source="telephony", utterances=utterances, occurred_at=datetime.now(UTC), by=Actor("pbx", "telephony")
        ),
    )
    assert [(s.start_ms, s.end_ms) for s in stored.card_spans] == [CARD_SPAN]
    components.projections.catch_up()
    return rid


def screen_brightness(page: Any) -> float:
    """The mean grey level (0-255) of the screen as the user sees it (the video and anything over it)."""
    with av.open(io.BytesIO(page.locator("#screen").screenshot())) as image:
        grey = bytes(next(image.decode(video=0)).reformat(format="gray").planes[0])
    return sum(grey) / len(grey)


# Seeks, plays for ``seconds`` and counts the beeps heard meanwhile (the worklet of ``listen``).
BEEPS_WHILE_PLAYING_JS = """async ([at, seconds]) => {
  const v = document.getElementById("player");
  const seeked = new Promise((r) => v.addEventListener("seeked", r, {once: true}));
  v.currentTime = at;
  await seeked;
  const before = window.__seen.onsets.length;
  await v.play();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  v.pause();
  return {beeps: window.__seen.onsets.length - before, currentTime: v.currentTime};
}"""


def test_the_transcript_follows_playback_and_a_click_seeks(
    console: Console, card_call: UUID, browser_context: Any
) -> None:
    page = browser_context.new_page()
    sign_in(page, console.base, console.tokens["quinn"])
    open_player(page, console, "quality_evaluation", recording_id=card_call)
    utterances = page.locator("#utterances li")
    utterances.nth(3).wait_for(timeout=10_000)
    assert [utterances.nth(i).get_attribute("data-speaker") for i in range(4)] == [
        "agent",
        "customer",
        "customer",
        "agent",
    ]
    assert "[card] [card] [card] [card]" in utterances.nth(2).inner_text()
    assert "1111" not in page.content()
    # A click on an utterance seeks to it, and it is the one highlighted.
    utterances.nth(1).click()
    at = run(page, WAIT_SEEKED_JS, seconds=5)
    assert at == pytest.approx(5.0, abs=0.05)
    page.wait_for_selector('#utterances li.speaking[data-start-ms="5000"]', timeout=5000)
    # While playing, the highlight moves on with the voice.
    run(page, BEEPS_WHILE_PLAYING_JS.replace("window.__seen.onsets.length", "0"), [27.5, 1.2], seconds=10)
    page.wait_for_selector('#utterances li.speaking[data-start-ms="28000"]', timeout=5000)
    assert page.locator("#utterances li.speaking").count() == 1


def test_card_data_is_muted_and_blank_for_a_supervisor_and_heard_by_legal_unredacted(
    console: Console, card_call: UUID, browser_context: Any
) -> None:
    sue = browser_context.new_page()
    sign_in(sue, console.base, console.tokens["sue"])
    open_player(sue, console, "dispute", recording_id=card_call)
    assert sue.locator('#timeline-items li[data-kind="card"]').count() == 1
    cover = sue.locator("#redacted")
    run(sue, SEEK_JS, [12.0], seconds=5)
    assert not cover.is_visible() and screen_brightness(sue) > 30  # the demo's coloured frames
    run(sue, SEEK_JS, [25.5], seconds=5)
    cover.wait_for(state="visible", timeout=5000)
    assert sue.evaluate("() => document.getElementById('player').muted")
    assert screen_brightness(sue) < 8, "the screen must be blank where card data was spoken"
    # Played through: the beeps of 25 s and 26 s are not heard, those around them are.
    listen(sue, console.base)
    heard = run(sue, BEEPS_WHILE_PLAYING_JS, [23.5, 5.0], seconds=15)
    assert heard["currentTime"] > 28.1, heard
    assert heard["beeps"] == 3, heard  # 24, 27 and 28 s
    assert not cover.is_visible()
    browser_context.clear_cookies()

    lena = browser_context.new_page()
    sign_in(lena, console.base, console.tokens["lena"])
    open_player(lena, console, "legal_request", recording_id=card_call, unredacted=True)
    assert lena.locator("#unredacted-note").is_visible()
    run(lena, SEEK_JS, [25.5], seconds=5)
    assert not lena.locator("#redacted").is_visible() and screen_brightness(lena) > 30
    listen(lena, console.base)
    heard = run(lena, BEEPS_WHILE_PLAYING_JS, [23.5, 5.0], seconds=15)
    assert heard["beeps"] == 5, heard  # 24 to 28 s
    played = [
        (e.actor, e.unredacted)
        for e in console.components.ledger.history(card_call).events
        if isinstance(e, Recording.Played) and e.actor in ("sue", "lena")
    ]
    assert played == [("sue", False), ("lena", True)]


def test_a_quality_manager_evaluates_with_a_pinned_comment_and_the_agent_disputes(
    console: Console, card_call: UUID, browser_context: Any
) -> None:
    """As a new user would: quinn opens the call, reads the transcript while it plays, answers the
    form with a comment pinned at the playhead; ann, the agent, disputes; the recording's history
    shows the viewing, the evaluation and the dispute, in that order."""
    components = console.components
    quinn = components.identity.principal_named("quinn")
    components.evaluations.publish_form(
        quinn,
        "browser-qa",
        "Inbound support",
        [
            Question(
                "greeting",
                "Greeted the customer by the script",
                1,
                False,
                (Answer("yes", "Yes", 100), Answer("no", "No", 0)),
            ),
            Question(
                "pci",
                "Asked the customer to use the keypad for card details",
                2,
                True,
                (Answer("yes", "Yes", 100), Answer("no", "No", 0)),
            ),
        ],
    )
    page = browser_context.new_page()
    sign_in(page, console.base, console.tokens["quinn"])
    open_player(page, console, "quality_evaluation", recording_id=card_call)
    page.locator("#utterances li").nth(3).wait_for(timeout=10_000)
    run(page, SEEK_JS, [26.0], seconds=5)
    evaluate = page.locator("form#evaluate")
    evaluate.locator("input[name='answer:greeting'][value=yes]").check()
    evaluate.locator("input[name='answer:pci'][value=no]").check()
    page.click("#pin-comment")
    pinned = evaluate.locator(".comment-row").last
    assert pinned.locator("input[name=comment_at_ms]").input_value() == "26000"
    pinned.locator("textarea").fill("card number read out loud: offer the keypad")
    evaluate.locator("button[type=submit]").click()
    page.wait_for_url(f"{console.base}/recordings/{card_call}?viewing=*")
    article = page.locator("#evaluations article.evaluation")
    assert article.count() == 1
    assert "0%" in article.locator(".score").inner_text()  # the fatal question failed
    comment = article.locator(".comments li")
    assert "offer the keypad" in comment.inner_text()
    comment.locator("button.seek").click()
    assert run(page, WAIT_SEEKED_JS, seconds=5) == pytest.approx(26.0, abs=0.05)
    browser_context.clear_cookies()

    ann = browser_context.new_page()
    sign_in(ann, console.base, console.tokens["ann"])
    ann.goto(f"{console.base}/recordings/{card_call}")
    respond = ann.locator("#evaluations form.respond")
    respond.locator("textarea[name=comment]").fill("I did offer the keypad; the customer read it out anyway")
    respond.locator("button[value=dispute]").click()
    ann.wait_for_url(f"{console.base}/recordings/{card_call}")
    assert ann.locator("#evaluations .response[data-kind=disputed]").count() == 1
    assert ann.locator("#evaluations form.respond").count() == 0  # one response per revision
    steps = [
        (row.get_attribute("data-type"), row.locator("td").nth(3).inner_text().split()[0])
        for row in ann.locator("#history tbody tr").all()
        if row.get_attribute("data-type") in ("Played", "EvaluationSubmitted", "EvaluationDisputed")
    ]
    # (Earlier tests of this module may have played this call too: the last three steps are this one's.)
    assert [s for s in steps if s[1] in ("quinn", "ann")][-3:] == [
        ("Played", "quinn"),
        ("EvaluationSubmitted", "quinn"),
        ("EvaluationDisputed", "ann"),
    ]
    browser_context.clear_cookies()

    # The evaluator revises, from the form prefilled with the revision disputed; both stay.
    again = browser_context.new_page()
    sign_in(again, console.base, console.tokens["quinn"])
    again.goto(f"{console.base}/recordings/{card_call}")
    again.click("#evaluations a.revise")
    revise = again.locator("form#evaluate")
    assert revise.locator("input[name='answer:greeting'][value=yes]").is_checked()
    assert "offer the keypad" in revise.locator("textarea[name=comment_text]").first.input_value()
    revise.locator("input[name='answer:pci'][value=yes]").check()
    revise.locator("button[type=submit]").click()
    again.wait_for_url(f"{console.base}/recordings/{card_call}")
    assert "100%" in again.locator("#evaluations .score").inner_text()
    assert again.locator("#evaluations li.revision").count() == 2
    types = [row.get_attribute("data-type") for row in again.locator("#history tbody tr").all()]
    quality_steps = [t for t in types if t.startswith("Evaluation")]
    assert quality_steps == ["EvaluationSubmitted", "EvaluationDisputed", "EvaluationRevised"]


# -- a synthesized call: real speech, our transcriber, the span it finds muted in Chromium -----

CARD_WORDS = "four one one one one one one one one one one one one one one one"  # 4111 1111 1111 1111

# Plays [at, at + seconds) of the video through the "peak" worklet: the loudest sample heard.
PEAK_WHILE_PLAYING_JS = """async ([workletUrl, at, seconds]) => {
  const v = document.getElementById("player");
  if (!window.__peak) {
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule(workletUrl);
    const node = new AudioWorkletNode(ctx, "peak");
    ctx.createMediaElementSource(v).connect(node);
    node.connect(ctx.destination);
    if (ctx.state !== "running") await ctx.resume();
    window.__peak = () => new Promise((r) => { node.port.onmessage = (e) => r(e.data); node.port.postMessage(0); });
  }
  const seeked = new Promise((r) => v.addEventListener("seeked", r, {once: true}));
  v.currentTime = at;
  await seeked;
  await window.__peak();  // forget what was heard before
  await v.play();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  v.pause();
  return {peak: await window.__peak(), currentTime: v.currentTime};
}"""


@pytest.fixture(scope="module")
def spoken_card_call(console: Console) -> tuple[UUID, tuple[int, int]]:
    """A call whose voice is espeak-ng speech (the agent's greeting at 0.5 s, the customer reading
    a card number from 3 s), transcribed by our own transcriber (pocketsphinx): the recording and
    the span where it found the card."""
    components = console.components
    pbx, ann = components.identity.principal_named("pbx"), components.identity.principal_named("ann")
    speech = spoken_call(
        [("agent", "thank you for calling how can I help", 0.5), ("customer", CARD_WORDS, 3.0)],
        seconds=CALL_MS / 1000,
    )
    plan = CallPlan("browser-spoken", CALL_MS, tuple(SEGMENTS), max(n for n, _, _ in SEGMENTS) + 1, PAUSE)
    started = datetime.now(UTC) - timedelta(minutes=8)
    rid = record_call(components, plan, pbx=pbx, agent=ann, started_at=started, voice=speech.wav)
    job = Transcription(
        components.ledger, components.views, components.media, components.transcripts, PocketsphinxTranscriber()
    )
    assert job.run() >= 1
    [span] = components.ledger.get_recording(rid).card_spans
    card = speech.placed[1]
    assert card.start_ms - 500 <= span[0] < span[1] <= card.end_ms + 500, (span, card)
    components.projections.catch_up()
    return rid, span


def test_a_synthesized_card_number_is_silent_and_blank_for_a_supervisor_and_heard_by_legal(
    console: Console, spoken_card_call: tuple[UUID, tuple[int, int]], browser_context: Any
) -> None:
    rid, (start_ms, end_ms) = spoken_card_call
    worklet = f"{console.base}{WORKLET_PATH}"
    inside = [start_ms / 1000 + 0.3, (end_ms - start_ms) / 1000 - 0.6]  # where to start, how long to play

    sue = browser_context.new_page()
    sign_in(sue, console.base, console.tokens["sue"])
    open_player(sue, console, "quality_evaluation", recording_id=rid)
    greeting = run(sue, PEAK_WHILE_PLAYING_JS, [worklet, 0.6, 1.5], seconds=15)
    assert greeting["peak"] > 0.05, greeting  # the agent's greeting is heard
    heard = run(sue, PEAK_WHILE_PLAYING_JS, [worklet, *inside], seconds=20)
    assert heard["peak"] < 0.005, heard  # the card number is not
    run(sue, SEEK_JS, [(start_ms + end_ms) / 2000], seconds=5)
    assert sue.locator("#redacted").is_visible() and screen_brightness(sue) < 8
    browser_context.clear_cookies()

    lena = browser_context.new_page()
    sign_in(lena, console.base, console.tokens["lena"])
    open_player(lena, console, "legal_request", recording_id=rid, unredacted=True)
    heard = run(lena, PEAK_WHILE_PLAYING_JS, [worklet, *inside], seconds=20)
    assert heard["peak"] > 0.05, heard
    played = console.audit(action="played", actor="lena", recording=str(rid))
    assert [row["detail"].get("unredacted") for row in played] == [True]
