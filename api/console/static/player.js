// The recording page's player (callvault issue #13). Its DOM is api/console/templates/_player.html,
// its data the JSON in #recording-data.
//
// The <video> element is the one clock: it plays the recording's single MP4 (screen and voice
// on the call's clock), and wavesurfer only draws over it. Peaks come precomputed from the
// server, so the browser never downloads or decodes the whole recording to draw the waveform.
// Loaded as a module from /static (CSP script-src 'self'): no inline script, no inline handler.
import WaveSurfer from "./vendor/wavesurfer.esm.js";
import RegionsPlugin from "./vendor/wavesurfer.regions.esm.js";
import TimelinePlugin from "./vendor/wavesurfer.timeline.esm.js";

const SKIP_SECONDS = 10;
// wavesurfer writes this height into the <style> of its shadow root, whose CSP hash
// vendor.json records ("csp"): change one, rerun scripts/vendor-frontend.
const WAVEFORM_HEIGHT = 72;
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];
// Fallbacks only: the colours live in console.css as custom properties on #player-root.
const DEFAULT_COLOURS = {
  pause: "rgba(230, 160, 0, 0.28)",
  missing: "rgba(200, 40, 40, 0.28)",
  acw: "rgba(40, 110, 200, 0.22)",
  hold: "rgba(120, 60, 170, 0.25)",
  card: "rgba(0, 0, 0, 0.45)",
  annotation: "#0a7d55",
  snapshot: "#444",
  evaluation: "#8a4b00",
};

const $ = (selector) => document.querySelector(selector);

/** 0:07, 3:41, 1:02:09 */
function formatTime(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** The media's own duration once its metadata is in: wavesurfer scales everything by it. */
function mediaDuration(video, fallback) {
  return new Promise((resolve) => {
    const done = () => resolve(Number.isFinite(video.duration) && video.duration > 0 ? video.duration : fallback);
    if (video.readyState >= HTMLMediaElement.HAVE_METADATA) return done();
    video.addEventListener("loadedmetadata", done, { once: true });
    video.addEventListener("error", done, { once: true });
  });
}

/** The peaks laid on the media's clock: padded with silence (or cut) to cover exactly `duration` seconds. */
async function loadPeaks(url, duration) {
  if (!url) return [0]; // no audio in this viewing: a flat line still carries the timeline and regions
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`peaks: HTTP ${response.status}`);
  const { peaks_per_second: perSecond, peaks } = await response.json();
  const wanted = Math.max(1, Math.ceil(duration * perSecond));
  const laid = peaks.slice(0, wanted);
  while (laid.length < wanted) laid.push(0);
  return laid;
}

function colourOf(root, kind) {
  const fromCss = getComputedStyle(root).getPropertyValue(`--${kind}-colour`).trim();
  return fromCss || DEFAULT_COLOURS[kind] || "rgba(0, 0, 0, 0.2)";
}

/** A region's caption: one line, cut with an ellipsis where the region is narrow; full text on hover. */
function regionLabel(text) {
  const label = document.createElement("div");
  label.textContent = text;
  label.title = text;
  // Styles set through the DOM (not a style attribute), which CSP style-src allows.
  Object.assign(label.style, {
    padding: "0.1em 0.3em",
    fontSize: "12px",
    whiteSpace: "nowrap",
    overflow: "hidden",
    textOverflow: "ellipsis",
  });
  return label;
}

async function start() {
  const root = $("#player-root");
  const dataElement = $("#recording-data");
  if (!root || !dataElement) return; // a page without a player (e.g. a purged recording)
  const data = JSON.parse(dataElement.textContent);
  const video = $("#player");
  const screen = $("#screen");
  // The call clock, until the video says how long it really is (they should agree; if the file
  // were shorter, its end is as far as anyone can seek).
  const callDuration = data.duration_ms / 1000;
  const duration = () => (Number.isFinite(video.duration) && video.duration > 0 ? video.duration : callDuration);
  const items = $("#timeline-items");
  const status = $("#annotate-status");

  const seek = (seconds) => {
    video.currentTime = Math.min(Math.max(0, seconds), duration());
  };

  // --- controls that need no waveform: they work even if the peaks fail to load -------------
  const playButton = $("#play");
  const togglePlay = () => (video.paused ? video.play() : video.pause());
  const updatePlayButton = () => {
    playButton.textContent = video.paused ? "Play" : "Pause";
  };
  playButton.addEventListener("click", togglePlay);
  video.addEventListener("play", updatePlayButton);
  video.addEventListener("pause", updatePlayButton);
  video.addEventListener("error", () => {
    const note = document.createElement("p");
    note.className = "player-error";
    note.setAttribute("role", "alert");
    note.textContent = "The recording could not be loaded. If this page was open a long time, open the player again.";
    root.prepend(note);
  });

  $("#back10").addEventListener("click", () => seek(video.currentTime - SKIP_SECONDS));
  $("#fwd10").addEventListener("click", () => seek(video.currentTime + SKIP_SECONDS));

  const speed = $("#speed");
  speed.addEventListener("change", () => {
    video.playbackRate = Number(speed.value);
  });
  video.addEventListener("ratechange", () => {
    speed.value = String(video.playbackRate);
  });
  const stepSpeed = (step) => {
    const index = SPEEDS.indexOf(video.playbackRate);
    const next = SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, (index < 0 ? 2 : index) + step))];
    video.playbackRate = next;
  };

  // Hiding the screen only hides it (console.css: no display:none), so the voice plays on.
  // Both buttons are left out of pages whose viewing has no screen.
  const toggleScreenButton = $("#toggle-screen");
  const setScreenHidden = (hidden) => {
    screen.classList.toggle("hidden", hidden);
    toggleScreenButton.textContent = hidden ? "Show screen" : "Hide screen";
    toggleScreenButton.setAttribute("aria-pressed", String(hidden));
  };
  const toggleScreen = () => toggleScreenButton && setScreenHidden(!screen.classList.contains("hidden"));
  toggleScreenButton?.addEventListener("click", toggleScreen);

  const expandButton = $("#expand");
  const setExpanded = (expanded) => {
    if (!expandButton) return;
    root.classList.toggle("expanded", expanded);
    expandButton.textContent = expanded ? "Collapse" : "Expand";
    expandButton.setAttribute("aria-pressed", String(expanded));
  };
  const toggleExpanded = () => setExpanded(!root.classList.contains("expanded"));
  expandButton?.addEventListener("click", toggleExpanded);

  const clock = $("#clock");
  const updateClock = () => {
    clock.textContent = `${formatTime(video.currentTime)} / ${formatTime(duration())}`;
  };
  video.addEventListener("timeupdate", updateClock);
  video.addEventListener("seeked", updateClock);
  video.addEventListener("durationchange", updateClock);
  updateClock();

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    const typing = event.target instanceof Element && event.target.closest("input, textarea, select, [contenteditable]");
    if (typing) return; // keys typed into a field are text, not commands
    const actions = {
      " ": togglePlay,
      k: togglePlay,
      ArrowLeft: () => seek(video.currentTime - SKIP_SECONDS),
      j: () => seek(video.currentTime - SKIP_SECONDS),
      ArrowRight: () => seek(video.currentTime + SKIP_SECONDS),
      l: () => seek(video.currentTime + SKIP_SECONDS),
      h: toggleScreen,
      f: toggleExpanded,
      "<": () => stepSpeed(-1),
      ">": () => stepSpeed(+1),
      Escape: () => setExpanded(false),
    };
    const action = actions[event.key];
    if (!action) return;
    // Also stops Space from "clicking" a focused button and from scrolling the page.
    event.preventDefault();
    action();
  });

  // --- the list under the waveform: every region and marker, in time order; click = seek ---
  const addItem = (kind, atMs, label, endMs) => {
    const li = document.createElement("li");
    li.dataset.atMs = String(atMs);
    li.dataset.kind = kind;
    li.tabIndex = 0;
    const time = document.createElement("time");
    time.textContent = endMs == null ? formatTime(atMs / 1000) : `${formatTime(atMs / 1000)}–${formatTime(endMs / 1000)}`;
    const text = document.createElement("span");
    text.className = "label";
    text.textContent = label;
    li.append(time, " ", text);
    const after = [...items.children].find((other) => Number(other.dataset.atMs) > atMs);
    items.insertBefore(li, after ?? null);
  };
  items.addEventListener("click", (event) => {
    const li = event.target.closest("li[data-at-ms]");
    if (li) seek(Number(li.dataset.atMs) / 1000);
  });
  items.addEventListener("keydown", (event) => {
    const li = event.target.closest("li[data-at-ms]");
    if (li && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      event.stopPropagation(); // not also the page's Space = play/pause
      seek(Number(li.dataset.atMs) / 1000);
    }
  });

  // --- the waveform, its timeline, regions and markers --------------------------------------
  // Shapes wait for wavesurfer's "ready": before it knows the duration, the regions plugin
  // clamps every region to 0 and draws it as a marker.
  const shapes = [];
  let regions = null;
  let drawnSeconds = 0; // the waveform's span (the media's duration)
  const draw = ({ band, ...shape }) => {
    if (!regions || shape.start >= drawnSeconds) return; // past the media's end: in the list only
    const region = regions.addRegion({ ...shape, drag: false, resize: false });
    if (region.element && band) {
      // A legal hold usually spans the whole call: drawn full height, it would cover the waveform
      // and turn every click into "seek to its start". A thin ribbon along the bottom instead.
      Object.assign(region.element.style, { top: "auto", bottom: "0", height: "6px" });
    }
  };
  const addShape = (shape) => {
    shapes.push(shape);
    draw(shape);
  };
  const addRegion = (region) => {
    addItem(region.kind, region.start_ms, region.label, region.end_ms);
    addShape({
      start: region.start_ms / 1000,
      end: region.end_ms / 1000,
      color: colourOf(root, region.kind),
      content: region.kind === "hold" ? undefined : regionLabel(region.label), // the ribbon is too thin for words
      band: region.kind === "hold",
    });
  };
  const addMarker = (marker) => {
    addItem(marker.kind, marker.at_ms, marker.label);
    const content = document.createElement("span"); // a short sign; the label is its tooltip
    content.textContent = { snapshot: "▣", evaluation: "✔" }[marker.kind] ?? "✎";
    content.title = marker.label;
    addShape({ start: marker.at_ms / 1000, color: colourOf(root, marker.kind), content }); // no end: a marker
  };
  data.regions.forEach(addRegion);
  data.markers.forEach(addMarker);

  try {
    // Peaks and duration must describe the same span as the video, or the waveform under the
    // cursor drifts from what is heard; so wait for the video's metadata (preload="metadata").
    const seconds = await mediaDuration(video, callDuration);
    const peaks = await loadPeaks(data.peaks_url, seconds);
    const plugin = RegionsPlugin.create();
    const styles = getComputedStyle(root);
    const wavesurfer = WaveSurfer.create({
      container: "#waveform",
      media: video, // the video is the player; wavesurfer follows and seeks it
      peaks: [peaks],
      duration: seconds, // with peaks and duration given, wavesurfer fetches and decodes nothing
      height: WAVEFORM_HEIGHT,
      normalize: Boolean(data.peaks_url),
      waveColor: styles.getPropertyValue("--wave-colour").trim() || "#9aa5b1",
      progressColor: styles.getPropertyValue("--wave-progress-colour").trim() || "#3b4a5a",
      cursorColor: styles.getPropertyValue("--wave-cursor-colour").trim() || "#c0392b",
      cursorWidth: 2,
      dragToSeek: true,
      plugins: [plugin, TimelinePlugin.create({ container: "#timeline", height: 20 })],
    });
    plugin.on("region-clicked", (region, event) => {
      event.stopPropagation(); // seek to the region's start, not to the clicked point inside it
      seek(region.start);
    });
    wavesurfer.once("ready", () => {
      regions = plugin;
      drawnSeconds = wavesurfer.getDuration();
      shapes.forEach(draw);
    });
  } catch (error) {
    const note = document.createElement("p");
    note.className = "waveform-error";
    note.textContent = `The waveform could not be drawn (${error.message}); the player still works.`;
    $("#waveform").append(note);
  }

  // --- where card data was spoken: blank and silent for this viewing ------------------------------
  // The server already left those frames and sounds out of the file; the player covers the held
  // frame and mutes too, checking every painted frame (timeupdate alone comes only ~4 times a second).
  const hidden = data.hidden_spans.map(([start, end]) => [start / 1000, end / 1000]);
  if (hidden.length) {
    const cover = $("#redacted");
    const inHidden = (t) => hidden.some(([start, end]) => t >= start && t < end);
    let covered = null;
    const watch = () => {
      const now = inHidden(video.currentTime);
      if (now !== covered) {
        covered = now;
        cover.classList.toggle("off", !now);
        video.muted = now;
      }
    };
    const everyFrame = () => {
      watch();
      requestAnimationFrame(everyFrame);
    };
    video.addEventListener("seeking", watch);
    video.addEventListener("timeupdate", watch);
    requestAnimationFrame(everyFrame);
  }

  // --- the transcript beside the player: the utterance being spoken is highlighted; click = seek ---
  if (data.transcript_url) showTranscript(data.transcript_url, video, seek);

  // --- evaluations: comments seek; a new comment is pinned at the playhead ---------------------
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-seek-ms]");
    if (button) seek(Number(button.dataset.seekMs) / 1000);
  });
  const pin = $("#pin-comment");
  pin?.addEventListener("click", () => {
    const row = document.querySelector("#evaluation-comments .comment-row").cloneNode(true);
    row.querySelector("input[name=comment_at_ms]").value = String(Math.round(video.currentTime * 1000));
    row.querySelector("textarea").value = "";
    pin.before(row);
    row.querySelector("textarea").focus();
  });

  // --- annotate at the playhead ----------------------------------------------------------------
  const form = $("#annotate");
  if (form && data.annotate_url) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = form.elements.text.value.trim();
      if (!text) {
        status.textContent = "Write a comment first.";
        return;
      }
      const mediaOffsetMs = Math.round(video.currentTime * 1000);
      form.elements.media_offset_ms.value = String(mediaOffsetMs);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      status.textContent = "Saving…";
      try {
        const response = await fetch(data.annotate_url, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": data.csrf_token },
          body: JSON.stringify({ text, media_offset_ms: mediaOffsetMs }),
        });
        if (response.status !== 201) {
          const problem = await response.json().catch(() => ({})); // problem+json, or a page
          status.textContent = `Not saved: ${problem.detail || `the server answered ${response.status}`}`;
          return;
        }
        const saved = await response.json();
        addMarker({ kind: "annotation", at_ms: saved.at_ms, label: `${saved.actor}: ${saved.text}` }); // as the server labels them
        form.elements.text.value = "";
        status.textContent = `Saved at ${formatTime(saved.at_ms / 1000)}.`;
      } catch (error) {
        status.textContent = `Not saved: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    });
  }
}

/** Loads the transcript (reading it is recorded) and keeps the spoken utterance highlighted. */
async function showTranscript(url, video, seek) {
  const list = $("#utterances");
  const status = $("#transcript-status");
  let transcript;
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 404) {
      status.textContent = "No transcript yet.";
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    transcript = await response.json();
  } catch (error) {
    status.textContent = `The transcript could not be loaded (${error.message}).`;
    return;
  }
  status.textContent = "";
  $("#transcript-source").textContent = `version ${transcript.version} of ${transcript.versions}, from ${transcript.source}`;
  const rows = transcript.utterances.map((utterance) => {
    const li = document.createElement("li");
    li.dataset.startMs = String(utterance.start_ms);
    li.dataset.endMs = String(utterance.end_ms);
    li.dataset.speaker = utterance.speaker;
    li.tabIndex = 0;
    const time = document.createElement("time");
    time.textContent = formatTime(utterance.start_ms / 1000);
    const who = document.createElement("span");
    who.className = "speaker";
    who.textContent = utterance.speaker;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = utterance.text;
    li.append(time, " ", who, " ", text);
    list.append(li);
    return li;
  });
  const seekTo = (event) => {
    const li = event.target.closest("li[data-start-ms]");
    if (li) seek(Number(li.dataset.startMs) / 1000);
  };
  list.addEventListener("click", seekTo);
  list.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      event.stopPropagation();
      seekTo(event);
    }
  });
  let current = null;
  const highlight = () => {
    const ms = video.currentTime * 1000;
    // The last utterance started by now that has not ended: overlapping speakers show the later one.
    const speaking = rows.findLast((li) => Number(li.dataset.startMs) <= ms && ms < Number(li.dataset.endMs)) ?? null;
    if (speaking === current) return;
    current?.classList.remove("speaking");
    current?.removeAttribute("aria-current");
    current = speaking;
    if (current) {
      current.classList.add("speaking");
      current.setAttribute("aria-current", "true");
      const top = current.offsetTop - list.offsetTop;
      if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - current.clientHeight) {
        list.scrollTop = top - list.clientHeight / 3;
      }
    }
  };
  video.addEventListener("timeupdate", highlight);
  video.addEventListener("seeked", highlight);
  highlight();
}

start();
