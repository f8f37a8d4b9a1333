// The review studio page: one frame at a time, its regions outlined, tracks listed beside it.
// Plain JavaScript, no libraries and no network beyond this studio's own server.
"use strict";

// By kind, matching app.css; green is kept for regions left visible.
const COLOURS = {
  face: "#ff8c1a", head: "#c9570c", person: "#0fa3b1", plate: "#2f7bff", text: "#a445ff",
};
const KEEP = "#19a974";
const DRAWING = "#ff2d55";
const LOW = "#e0002a";
const SUSPECT = "#ffd400";

const state = {
  plan: null, index: 0, view: "source", regions: [], selected: null,
  keyframes: {}, drag: null, busy: false, warnings: [], mark: { in: null, out: null },
  // The leak check's suspects (a to-do list), and the one picked to be outlined.
  suspects: [], suspect: null,
  item: 0,
  // Reshaping: an untracked region of this frame picked (its position; a track is picked by
  // `selected`), its new box not yet applied, and the drag under way.
  region: null, pending: null, grab: null,
  // A track's thumbnail element, made once and kept across redraws of the list, so stepping
  // frames never fetches a thumbnail again.
  thumbs: new Map(), thumbWatch: null, thumbQueue: [], thumbLoading: false,
  // Set once the first frame and the track list are on screen; when a frame last was.
  ready: false, shownAt: 0, thumbTimer: null,
};
const $ = (id) => document.getElementById(id);

// Every request names the folder item on screen (0 for a single file).
function url(path) { return `${path}${path.includes("?") ? "&" : "?"}item=${state.item}`; }

async function api(path, body) {
  path = url(path);
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const resp = await fetch(path, { credentials: "same-origin", ...init });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(data.error || `${resp.status} ${resp.statusText}`);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function say(text) { $("status").textContent = text; }

// Frames come as timestamps alone (a long video has tens of thousands): [index, pts, seconds].
function framesOf(f) {
  const [num, den] = f.time_base;
  return f.pts.map((p, i) => [f.index ? f.index[i] : i, p, (p * num) / den]);
}

async function loadPlan() {
  state.plan = await api("/api/plan");
  const p = state.plan;
  p.frames = framesOf(p.frames);
  state.positions = new Map(p.frames.map((f, i) => [f[0], i]));
  $("case").textContent = `${p.items > 1 ? `file ${state.item + 1} of ${p.items}: ` : ""}${p.source.name} · ${p.plan} · ${p.frames.length} frame(s) · reviewer ${p.actor}`;
  $("slider").max = Math.max(0, p.frames.length - 1);
  const reason = $("reason");
  if (!reason.options.length) {
    for (const code of p.reasons) reason.add(new Option(code, code));
  }
  say(p.unsaved ? `${p.edits} edit(s), not saved` : `${p.edits} edit(s) saved`);
  state.trackById = new Map(p.tracks.map((t) => [t.id, t]));
  if (state.selected !== null && !state.trackById.has(state.selected)) state.selected = null;
  renderTracks();
  renderTimeline();
  renderAudio();
  // Warnings scan every region: they follow once the first frame is on screen.
  if (state.ready) state.warningsLoaded = loadWarnings();
  $("suspectbox").hidden = !p.suspects;
  if (p.suspects) await loadSuspects();
}

async function loadSuspects() {
  state.suspects = await api("/api/suspects");
  if (state.suspect !== null) state.suspect = state.suspects.find((s) => s.id === state.suspect.id) || null;
  renderSuspects();
}

function renderSuspects() {
  const list = $("suspectList");
  list.replaceChildren();
  const open = state.suspects.filter((s) => s.state === "open").length;
  $("suspectCount").textContent = `(${open} of ${state.suspects.length} to do)`;
  for (const s of state.suspects) {
    const li = document.createElement("li");
    li.className = `${s.state}${state.suspect && state.suspect.id === s.id ? " picked" : ""}`;
    li.dataset.suspect = s.id;
    const what = document.createElement("span");
    what.className = "what";
    what.textContent = `${s.kind} · frames ${s.first}–${s.last} · score ${s.score.toFixed(2)} · ${s.state}`;
    li.append(what);
    li.addEventListener("click", () => { state.suspect = s; renderSuspects(); show(indexOf(s.first)); });
    if (s.state === "open") {
      const hide = document.createElement("button");
      hide.textContent = "Hide it";
      hide.title = "Add a hidden manual region over these frames";
      hide.addEventListener("click", async (ev) => {
        ev.stopPropagation();
        if (await edit(`/api/suspects/${s.id}/hide`, {})) say(`hid the suspect ${s.kind} over frames ${s.first}–${s.last}`);
      });
      const dismiss = document.createElement("button");
      dismiss.textContent = "Dismiss";
      dismiss.title = "Nothing to hide here; the reason given is kept in the plan's history";
      dismiss.addEventListener("click", async (ev) => {
        ev.stopPropagation();
        const reason = $("suspectReason").value.trim();
        if (!reason) { say("say why the suspect needs no hiding first"); $("suspectReason").focus(); return; }
        if (await edit(`/api/suspects/${s.id}/dismiss`, { reason })) say(`dismissed the suspect over frames ${s.first}–${s.last}`);
      });
      li.append(" ", hide, " ", dismiss);
    }
    list.append(li);
  }
}

async function loadWarnings() {
  const { version } = state.plan, item = state.item;
  let found;
  try {
    found = await api("/api/warnings");
  } catch (err) {
    say(`cannot list the warnings: ${err.message}`);
    return;
  }
  if (state.plan.version !== version || state.item !== item) return;
  state.warnings = found;
  renderTimeline();
  renderWarnings();
  draw();
}

// The timeline: one lane per track over the frames it covers, warnings drawn on the lanes.
function pct(frameIndex) { return (indexOf(frameIndex) / state.plan.frames.length) * 100; }

function bar(cls, first, last) {
  const el = document.createElement("div");
  el.className = cls;
  el.style.left = `${pct(first)}%`;
  el.style.width = `${((indexOf(last) - indexOf(first) + 1) / state.plan.frames.length) * 100}%`;
  return el;
}

function renderTimeline() {
  state.laneSelected = state.selected;
  const lanes = $("lanes");
  lanes.replaceChildren();
  const rows = state.plan.tracks.map((t) => ({ id: t.id, track: t }));
  if (state.warnings.some((w) => w.track === null)) rows.push({ id: null, track: null });
  for (const { id, track: t } of rows) {
    const lane = document.createElement("div");
    lane.className = `lane${id !== null && id === state.selected ? " selected" : ""}`;
    lane.dataset.track = id === null ? "" : id;
    if (t) {
      lane.append(bar(`span ${t.kind}${t.decision === "keep" ? " keep" : ""}`, t.first, t.last));
      for (const k of t.keys || []) {
        const tick = bar("key", k, k);
        tick.title = `keyframe at frame ${k}`;
        lane.append(tick);
      }
    }
    for (const w of state.warnings.filter((x) => x.track === id)) {
      const mark = bar(`warn ${w.type}`, w.first, w.last);
      mark.title = w.message;
      lane.append(mark);
    }
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = t ? `#${t.id} ${t.kind}` : "no track";
    lane.append(label);
    lanes.append(lane);
  }
  if (state.plan.has_audio) lanes.append(audioLane());
  const head = document.createElement("div");
  head.id = "playhead";
  lanes.append(head);
  placePlayhead();
}

// Audio: ranges in seconds on the frames' clock; a frame's range runs to the next frame's time.
function frameEnd(i) {
  const f = state.plan.frames;
  if (i + 1 < f.length) return f[i + 1][2];
  return f[i][2] + (f.length > 1 ? f[i][2] - f[i - 1][2] : 0.04);
}

function frameAt(seconds) {
  const f = state.plan.frames;
  let lo = 0, hi = f.length - 1;
  while (lo < hi) {  // the last frame that starts at or before `seconds`
    const mid = (lo + hi + 1) >> 1;
    if (f[mid][2] <= seconds + 1e-9) lo = mid; else hi = mid - 1;
  }
  return lo;
}

function audioBar(cls, start, end) {
  const n = state.plan.frames.length;
  const a = frameAt(start), b = frameAt(Math.max(start, end - 1e-6));
  const el = document.createElement("div");
  el.className = cls;
  el.style.left = `${(a / n) * 100}%`;
  el.style.width = `${((b - a + 1) / n) * 100}%`;
  return el;
}

function audioLane() {
  const lane = document.createElement("div");
  lane.className = "lane audio";
  lane.dataset.track = "";
  for (const a of state.plan.audio) {
    const el = audioBar(`span ${a.action}`, a.start, a.end);
    el.title = `${a.action} ${a.start.toFixed(3)}–${a.end.toFixed(3)} s: ${a.reason}`;
    lane.append(el);
  }
  const m = markedRange();
  if (m) lane.append(audioBar("span marked", m[0], m[1]));
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = "audio";
  lane.append(label);
  return lane;
}

function markedRange() {
  const { in: a, out: b } = state.mark;
  if (a === null && b === null) return null;
  const first = a === null ? b : a, last = b === null ? a : b;
  const lo = Math.min(first, last), hi = Math.max(first, last);
  return [state.plan.frames[lo][2], frameEnd(hi)];
}

function setMark(which) {
  state.mark[which] = state.index;
  renderAudio();
  renderTimeline();
}

function renderAudio() {
  const p = state.plan;
  $("audio").hidden = !p.has_audio;
  if (!p.has_audio) return;
  $("keepAudio").checked = p.keep_audio;
  const m = markedRange();
  $("inout").textContent = m ? `${m[0].toFixed(3)}–${m[1].toFixed(3)} s` : "no range marked";
  $("mute").disabled = $("bleep").disabled = !m;
  const list = $("audioList");
  list.replaceChildren();
  for (const a of p.audio) {
    const li = document.createElement("li");
    li.textContent = `${a.action === "bleep" ? "bleeped" : "muted"} ${a.start.toFixed(3)}–${a.end.toFixed(3)} s (${a.reason})`;
    li.dataset.audio = a.id;
    const b = document.createElement("button");
    b.textContent = "Remove";
    b.addEventListener("click", () => edit(`/api/audio/${a.id}/delete`, {}));
    li.append(b);
    list.append(li);
  }
}

function setupAudio() {
  $("markIn").addEventListener("click", () => setMark("in"));
  $("markOut").addEventListener("click", () => setMark("out"));
  for (const action of ["mute", "bleep"]) {
    $(action).addEventListener("click", async () => {
      const m = markedRange();
      if (!m) return;
      if (await edit("/api/audio", { action, start: m[0], end: m[1], reason: $("audioReason").value })) {
        state.mark = { in: null, out: null };
        $("audioReason").value = "";
        renderAudio();
        renderTimeline();
      }
    });
  }
  $("keepAudio").addEventListener("change", () => { state.plan.keep_audio = $("keepAudio").checked; });
}

function placePlayhead() {
  const head = $("playhead");
  if (head) head.style.left = `${((state.index + 0.5) / state.plan.frames.length) * 100}%`;
}

function candidatesHere() {
  const index = frameInfo(state.index)[0];
  return state.warnings.filter((w) => w.type === "low" && w.boxes[index])
    .map((w) => ({ box: w.boxes[index], score: w.score, warning: w }));
}

async function promoteHere() {
  const here = candidatesHere();
  if (!here.length) { say("no low-score candidate on this frame"); return; }
  if (await edit("/api/candidates/promote", { frame: frameInfo(state.index)[0] })) {
    say(`hid the low-score ${here[0].warning.kind} over frames ${here[0].warning.first}–${here[0].warning.last}`);
  }
}

function renderWarnings() {
  const list = $("warnList");
  list.replaceChildren();
  $("warnCount").textContent = state.warnings.length ? `(${state.warnings.length}) — where a face may show` : "none";
  for (const w of state.warnings) {
    const li = document.createElement("li");
    li.className = w.type;
    li.textContent = w.message;
    li.addEventListener("click", () => { if (w.track !== null) state.selected = w.track; show(indexOf(w.first)); });
    if (w.type === "low") {
      const b = document.createElement("button");
      b.textContent = "Hide it";
      b.title = "Hide it over these frames as a manual region (key P on its frame)";
      b.addEventListener("click", async (ev) => {
        ev.stopPropagation();
        await show(indexOf(w.first));
        await promoteHere();
      });
      li.append(" ", b);
    }
    list.append(li);
  }
}

function frameInfo(i) { return state.plan.frames[i]; }

async function show(i) {
  state.shownAt = performance.now();
  const n = state.plan.frames.length;
  state.index = Math.max(0, Math.min(n - 1, i));
  state.region = null;  // a region picked by its place in one frame
  state.pending = null;
  const [index, , time] = frameInfo(state.index);
  $("position").textContent = `frame ${index} / ${n - 1} · ${time.toFixed(3)} s`;
  $("slider").value = state.index;
  $("time").value = time.toFixed(2);
  const img = $("frame");
  const loaded = new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; });
  img.src = url(`/api/frames/${index}.jpg?view=${state.view}&v=${state.view === "preview" ? state.plan.version : 0}`);
  state.regions = await api(`/api/frames/${index}/regions`);
  await loaded;
  draw();
  renderTracks();
  // A step moves the playhead; the lanes are drawn again only when the selection changed.
  if (state.laneSelected !== state.selected) renderTimeline(); else placePlayhead();
  renderSelected();
  state.shownAt = performance.now();
}

function scale() {
  const img = $("frame");
  return img.naturalWidth ? img.clientWidth / img.naturalWidth : 1;
}

function draw() {
  const img = $("frame"), canvas = $("overlay");
  canvas.width = img.clientWidth;
  canvas.height = img.clientHeight;
  const ctx = canvas.getContext("2d");
  const k = scale();
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (const r of state.regions) {
    const [x1, y1, x2, y2] = r.box;
    ctx.setLineDash(r.decision === "keep" ? [6, 4] : []);
    ctx.strokeStyle = r.decision === "keep" ? KEEP : (COLOURS[r.kind] || "#fff");
    ctx.lineWidth = r.track !== null && r.track === state.selected ? 4 : 2;
    ctx.strokeRect(x1 * k, y1 * k, (x2 - x1) * k, (y2 - y1) * k);
    ctx.setLineDash([]);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.font = "12px system-ui, sans-serif";
    const t = r.track === null ? null : state.trackById.get(r.track);
    const key = t && (t.keys || []).includes(frameInfo(state.index)[0]);
    const label = `${r.track === null ? "" : "#" + r.track + " "}${r.kind}${r.origin === "manual" ? ` (manual${key ? ", keyframe" : ""})` : ""}`;
    ctx.fillText(label, x1 * k + 2, Math.max(12, y1 * k - 3));
  }
  // A dashed box with its label under it: what nothing hides yet.
  const dashed = ([x1, y1, x2, y2], colour, width, dash, label) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.setLineDash(dash);
    ctx.strokeRect(x1 * k, y1 * k, (x2 - x1) * k, (y2 - y1) * k);
    ctx.setLineDash([]);
    ctx.fillStyle = colour;
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(label, x1 * k + 2, Math.min(canvas.height - 3, y2 * k + 13));
  };
  // Low-score candidates nothing hides, with the key that hides them.
  for (const c of candidatesHere()) dashed(c.box, LOW, 2, [2, 3], `low ${c.score.toFixed(2)} · P hides it`);
  const picked = state.suspect && state.suspect.boxes[frameInfo(state.index)[0]];
  if (picked) dashed(picked, SUSPECT, 3, [8, 4], `suspect ${state.suspect.kind}`);
  const shaped = targetBox();
  if (shaped) {
    const [x1, y1, x2, y2] = shaped;
    ctx.strokeStyle = DRAWING;
    ctx.lineWidth = 2;
    ctx.strokeRect(x1 * k, y1 * k, (x2 - x1) * k, (y2 - y1) * k);
    ctx.fillStyle = "#fff";
    for (const [, hx, hy] of handles(shaped)) {
      ctx.fillRect(hx * k - 4, hy * k - 4, 8, 8);
      ctx.strokeRect(hx * k - 4, hy * k - 4, 8, 8);
    }
  }
  const here = state.keyframes[frameInfo(state.index)[0]];
  const box = state.drag ? state.drag.box : here;
  if (box) {
    ctx.strokeStyle = DRAWING;
    ctx.lineWidth = 2;
    ctx.setLineDash([3, 3]);
    ctx.strokeRect(box[0] * k, box[1] * k, (box[2] - box[0]) * k, (box[3] - box[1]) * k);
    ctx.setLineDash([]);
  }
}

function renderTracks() {
  const list = $("trackList");
  const p = state.plan;
  const here = new Set(state.regions.map((r) => r.track));
  list.replaceChildren();
  const only = $("onlyHere").checked;
  for (const t of p.tracks) {
    if (only && !here.has(t.id)) continue;
    const li = document.createElement("li");
    li.className = `${t.kind} ${t.decision === "keep" ? "keep" : ""} ${here.has(t.id) ? "here" : ""}`;
    li.dataset.track = t.id;
    li.append(thumbOf(t));
    const title = document.createElement("div");
    const st = document.createElement("span");
    st.className = `state ${t.review}`;
    st.textContent = t.review;
    title.append(st);
    const name = document.createElement("strong");
    name.textContent = `#${t.id} ${t.kind}`;
    title.append(name, ` · ${t.decision === "keep" ? "kept visible" : t.decision === "mixed" ? "partly kept" : "hidden"}`);
    if (t.reasons.length) title.append(` (${t.reasons.join(", ")})`);
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `frames ${t.first}–${t.last} (${t.frames}) · detected ${t.detected} · tracked ${t.tracked} · manual ${t.manual}`;
    const buttons = document.createElement("div");
    const button = (label, fn, cls) => {
      const b = document.createElement("button");
      b.textContent = label;
      b.className = cls;
      b.addEventListener("click", (ev) => { ev.stopPropagation(); fn(); });
      buttons.append(b);
    };
    button("First", () => { state.selected = t.id; show(indexOf(t.first)); }, "first");
    button("Last", () => { state.selected = t.id; show(indexOf(t.last)); }, "last");
    button("Approve", () => edit(`/api/tracks/${t.id}/approve`, {}), "approve");
    if (t.decision !== "keep") {
      button("Exempt", () => edit(`/api/tracks/${t.id}/exempt`, { reason: $("reason").value }), "exempt");
    }
    if (t.decision !== "redact") button("Redact", () => edit(`/api/tracks/${t.id}/redact`, {}), "redact");
    if (t.manual === t.frames) {
      button("Delete", () => { if (confirm(`Delete manual track #${t.id}?`)) edit(`/api/tracks/${t.id}/delete`, {}); }, "delete");
    }
    li.append(title, meta, buttons);
    li.addEventListener("click", () => select(t.id));
    list.append(li);
  }
  // Regions without a track (every region of a photo): exempt or hide them one by one.
  const index = frameInfo(state.index)[0];
  state.regions.forEach((r, n) => {
    if (r.track !== null) return;
    const li = document.createElement("li");
    li.className = `${r.kind} ${r.decision === "keep" ? "keep" : ""} here region`;
    li.dataset.region = n;
    const name = document.createElement("strong");
    name.textContent = `region ${n + 1} ${r.kind}`;
    li.append(name, ` · ${r.decision === "keep" ? `kept visible (${r.reason})` : "hidden"} · ${r.origin}, score ${r.score.toFixed(2)}`);
    const b = document.createElement("button");
    if (r.decision === "keep") {
      b.textContent = "Redact";
      b.className = "redact";
      b.addEventListener("click", () => edit(`/api/frames/${index}/regions/${n}/redact`, {}));
    } else {
      b.textContent = "Exempt";
      b.className = "exempt";
      b.addEventListener("click", () => edit(`/api/frames/${index}/regions/${n}/exempt`, { reason: $("reason").value }));
    }
    const div = document.createElement("div");
    div.append(b);
    li.append(div);
    li.addEventListener("click", () => setTarget({ region: n }));
    list.append(li);
  });
}

// Thumbnails load only as their row comes into view: a long video has thousands of tracks,
// and opening it must not wait for any of them.
function thumbWatch() {
  if (!state.thumbWatch) {
    state.thumbWatch = new IntersectionObserver((seen) => {
      for (const e of seen) {
        if (!e.isIntersecting) continue;
        state.thumbWatch.unobserve(e.target);
        e.target.dataset.queued = "1";
        state.thumbQueue.push(e.target);
      }
      nextThumb();
    }, { rootMargin: "120px 0px" });
  }
  return state.thumbWatch;
}

// One thumbnail at a time: each is a decode on the server, and the frame on screen must not
// wait behind a list's worth of them.
function nextThumb() {
  if (!state.ready || state.thumbLoading || !state.thumbQueue.length) return;
  // Nor behind frames being stepped through: they wait until the frames stop a moment.
  const wait = state.shownAt + 400 - performance.now();
  if (wait > 0) {
    clearTimeout(state.thumbTimer);
    state.thumbTimer = setTimeout(nextThumb, wait);
    return;
  }
  const img = state.thumbQueue.shift();
  state.thumbLoading = true;
  const done = () => { state.thumbLoading = false; nextThumb(); };
  img.addEventListener("load", done, { once: true });
  img.addEventListener("error", done, { once: true });
  delete img.dataset.queued;
  img.src = img.dataset.src;
}

function thumbOf(t) {
  // A new picture only when the track's extent changed (a split, a merge, a cut).
  const key = `${state.item}:${t.id}:${t.kind}:${t.first}:${t.last}:${t.frames}`;
  let img = state.thumbs.get(key);
  if (!img) {
    img = document.createElement("img");
    img.className = "thumb";
    img.alt = `track #${t.id}`;
    img.width = img.height = 48;
    img.dataset.src = url(`/api/tracks/${t.id}/thumb.jpg`);
    state.thumbs.set(key, img);
  }
  if (!img.getAttribute("src") && !img.dataset.queued) thumbWatch().observe(img);
  return img;
}

// A folder: a grid of its files, each opened in the viewer with the same tools.
async function showGrid() {
  const items = await api("/api/items");
  $("grid").hidden = false;
  $("studio").hidden = true;
  $("toGrid").hidden = true;
  $("save").hidden = $("render").hidden = true;
  $("case").textContent = `${items.length} files`;
  const tiles = $("tiles");
  tiles.replaceChildren();
  items.forEach((it, n) => {
    const tile = document.createElement("figure");
    tile.className = `tile${it.unsaved ? " unsaved" : ""}`;
    tile.dataset.item = n;
    const img = document.createElement("img");
    img.alt = it.name;
    img.src = `/api/thumb.jpg?item=${n}&v=${it.edits}`;
    const cap = document.createElement("figcaption");
    const name = document.createElement("strong");
    name.textContent = it.name;
    const counts = document.createElement("span");
    counts.className = "counts";
    counts.textContent = `${it.regions} region(s)${it.kept ? ` · ${it.kept} kept` : ""}${it.manual ? ` · ${it.manual} manual` : ""}${it.media === "video" ? ` · ${it.frames} frames` : ""}`;
    const st = document.createElement("span");
    st.className = "counts";
    st.textContent = `${it.edits} edit(s)${it.unsaved ? ", not saved" : ""}${it.rendered ? " · rendered" : ""}`;
    cap.append(name, counts, st);
    tile.append(img, cap);
    tile.addEventListener("click", () => openItem(n));
    tiles.append(tile);
  });
  document.body.dataset.view = "grid";
}

async function openItem(n) {
  state.item = n;
  state.index = 0;
  state.selected = null;
  state.mark = { in: null, out: null };
  clearDrawing();
  $("grid").hidden = true;
  $("studio").hidden = false;
  $("toGrid").hidden = false;
  $("save").hidden = $("render").hidden = false;
  await loadPlan();
  await show(0);
  document.body.dataset.view = "item";
}

async function everyItem(path, body, what) {
  const n = state.plan.items;
  const was = state.item;
  let done = 0;
  try {
    for (state.item = 0; state.item < n; state.item++) {
      say(`${what} ${state.item + 1} of ${n}…`);
      await api(path, body);
      done++;
    }
  } catch (err) {
    say(`${what} stopped at file ${state.item + 1}: ${err.message}`);
    return;
  } finally {
    state.item = was;
  }
  say(`${what} ${done} file(s)`);
  await showGrid();
}

function select(id) {
  state.selected = id;
  state.region = null;
  state.pending = null;
  draw();
  renderTimeline();
  renderSelected();
}

// The selected track's edits: reshape on this frame, delete frames, split, merge.
function renderSelected() {
  const t = state.plan.tracks.find((x) => x.id === state.selected);
  const manual = !!t && t.manual === t.frames;
  const here = frameInfo(state.index)[0];
  const region = regionOfTarget();
  $("selName").textContent = t ? `#${t.id} ${t.kind} (frames ${t.first}–${t.last})`
    : region ? `region ${state.region + 1} (${region.kind}) of this frame` : "none";
  $("useBox").disabled = !state.pending || !region;
  $("cancelBox").disabled = !state.pending;
  for (const id of ["shapeScope", "shapeFirst", "shapeLast"]) $(id).disabled = !t;
  $("splitHere").disabled = !t || here <= t.first || here > t.last;
  $("delRange").disabled = !manual;
  const merge = $("mergeWith");
  const was = merge.value;
  merge.replaceChildren();
  if (t) {
    for (const o of state.plan.tracks) {
      if (o.id !== t.id && o.kind === t.kind && (o.last < t.first || o.first > t.last)) {
        merge.add(new Option(`#${o.id} (frames ${o.first}–${o.last})`, o.id));
      }
    }
    if ([...merge.options].some((o) => o.value === was)) merge.value = was;
  }
  $("merge").disabled = !merge.options.length;
}

function setupTrackEdit() {
  $("lanes").addEventListener("click", (ev) => {
    const rect = $("lanes").getBoundingClientRect();
    const i = Math.floor(((ev.clientX - rect.left) / rect.width) * state.plan.frames.length);
    const lane = ev.target.closest(".lane");
    if (lane && lane.dataset.track !== "") state.selected = Number(lane.dataset.track);
    renderTimeline();
    show(i);
  });
  const here = () => frameInfo(state.index)[0];
  $("useBox").addEventListener("click", applyShape);
  $("cancelBox").addEventListener("click", () => { state.pending = null; draw(); renderSelected(); });
  $("splitHere").addEventListener("click", () => edit(`/api/tracks/${state.selected}/split`, { frame: here() }));
  $("delRange").addEventListener("click", () => {
    const first = $("delFirst").value === "" ? here() : Number($("delFirst").value);
    const last = $("delLast").value === "" ? first : Number($("delLast").value);
    if (confirm(`Delete track #${state.selected} in frames ${first}–${last}?`)) {
      edit(`/api/tracks/${state.selected}/delete`, { first, last });
    }
  });
  $("merge").addEventListener("click", () => edit(`/api/tracks/${state.selected}/merge`, { with: Number($("mergeWith").value) }));
}

function indexOf(frameIndex) {
  const i = state.positions.get(Number(frameIndex));
  return i === undefined ? 0 : i;
}

async function edit(path, body) {
  try {
    await api(path, body);
    await loadPlan();
    await show(state.index);
    return true;
  } catch (err) {
    say(`not done: ${err.message}`);
    return false;
  }
}

// Drawing: a drag on the frame sets this frame's keyframe of the region being added.
function point(ev) {
  const rect = $("overlay").getBoundingClientRect();
  const k = scale();
  const s = state.plan.source;
  const x = Math.max(0, Math.min(s.width, (ev.clientX - rect.left) / k));
  const y = Math.max(0, Math.min(s.height, (ev.clientY - rect.top) / k));
  return [x, y];
}

function updateDrawForm() {
  const keys = Object.keys(state.keyframes).map(Number).sort((a, b) => a - b);
  $("keyframes").textContent = keys.length ? `keyframes at frame(s) ${keys.join(", ")}` : "no box drawn";
  $("addRegion").disabled = !keys.length;
  $("clearDraw").disabled = !keys.length;
  if (keys.length) {
    const last = state.plan.frames[state.plan.frames.length - 1][0];
    if ($("addFirst").value === "") $("addFirst").value = keys[0];
    if ($("addLast").value === "") $("addLast").value = keys.length > 1 ? keys[keys.length - 1] : last;
  }
}

// Move and resize: the selected region shows eight handles; drag one to resize, drag inside
// to move. The new box waits until applied to this frame, a range, or the whole track.
function handles(b) {
  const [x1, y1, x2, y2] = b, mx = (x1 + x2) / 2, my = (y1 + y2) / 2;
  return [["nw", x1, y1], ["n", mx, y1], ["ne", x2, y1], ["e", x2, my],
          ["se", x2, y2], ["s", mx, y2], ["sw", x1, y2], ["w", x1, my]];
}

function regionOfTarget() {
  if (state.region !== null) return state.regions[state.region] || null;
  if (state.selected === null) return null;
  return state.regions.find((r) => r.track === state.selected) || null;
}

function targetBox() {
  if (state.grab) return state.grab.box;
  if (state.pending) return state.pending;
  const r = regionOfTarget();
  return r ? r.box : null;
}

function hit(p) {
  const tol = 6 / scale();
  const box = targetBox();
  if (box) {
    for (const [mode, hx, hy] of handles(box)) {
      if (Math.abs(p[0] - hx) <= tol && Math.abs(p[1] - hy) <= tol) return { mode, box };
    }
    if (p[0] > box[0] && p[0] < box[2] && p[1] > box[1] && p[1] < box[3]) return { mode: "move", box };
  }
  // A click inside another region grabs it (the smallest, when boxes overlap).
  const inside = state.regions.map((r, n) => ({ r, n })).filter(({ r }) =>
    p[0] > r.box[0] && p[0] < r.box[2] && p[1] > r.box[1] && p[1] < r.box[3]);
  if (!inside.length) return null;
  inside.sort((a, b) => (a.r.box[2] - a.r.box[0]) * (a.r.box[3] - a.r.box[1]) - (b.r.box[2] - b.r.box[0]) * (b.r.box[3] - b.r.box[1]));
  const { r, n } = inside[0];
  setTarget(r.track !== null ? { track: r.track } : { region: n });
  return { mode: "move", box: r.box };
}

function setTarget(target) {
  state.pending = null;
  state.region = target.track === undefined ? target.region : null;
  state.selected = target.track === undefined ? null : target.track;
  renderTracks();
  renderTimeline();
  renderSelected();
}

function reshaped(mode, box, start, p) {
  let [x1, y1, x2, y2] = box;
  const dx = p[0] - start[0], dy = p[1] - start[1];
  if (mode === "move") return [x1 + dx, y1 + dy, x2 + dx, y2 + dy];
  if (mode.includes("w")) x1 += dx;
  if (mode.includes("e")) x2 += dx;
  if (mode.includes("n")) y1 += dy;
  if (mode.includes("s")) y2 += dy;
  return [Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2)];
}

async function applyShape() {
  const box = state.pending.map((v) => Math.round(v * 100) / 100);
  const index = frameInfo(state.index)[0];
  let ok;
  if (state.region !== null) {
    ok = await edit(`/api/frames/${index}/regions/${state.region}/reshape`, { box });
  } else {
    const track = state.plan.tracks.find((x) => x.id === state.selected);
    const scope = $("shapeScope").value;
    let first = index, last = index;
    if (scope === "track") { first = track.first; last = track.last; }
    if (scope === "range") {
      first = $("shapeFirst").value === "" ? index : Number($("shapeFirst").value);
      last = $("shapeLast").value === "" ? index : Number($("shapeLast").value);
    }
    ok = await edit(`/api/tracks/${track.id}/reshape`, { frame: index, box, first, last });
  }
  if (ok) { state.pending = null; draw(); renderSelected(); }
}

function setupDrawing() {
  const canvas = $("overlay");
  canvas.addEventListener("mousedown", (ev) => {
    const p = point(ev);
    const grab = hit(p);
    if (grab) {
      state.grab = { mode: grab.mode, start: p, from: grab.box, box: grab.box };
      return;
    }
    state.drag = { start: p, box: [p[0], p[1], p[0], p[1]] };
  });
  canvas.addEventListener("mousemove", (ev) => {
    const p = point(ev);
    if (state.grab) {
      state.grab.box = reshaped(state.grab.mode, state.grab.from, state.grab.start, p);
      draw();
      return;
    }
    const tip = hit0(p);
    canvas.style.cursor = tip === "move" ? "move" : tip ? `${tip}-resize` : "crosshair";
    if (!state.drag) return;
    const [x, y] = point(ev), [sx, sy] = state.drag.start;
    state.drag.box = [Math.min(sx, x), Math.min(sy, y), Math.max(sx, x), Math.max(sy, y)];
    draw();
  });
  window.addEventListener("mouseup", () => {
    if (state.grab) {
      const { box, from } = state.grab;
      state.grab = null;
      if (box.some((v, i) => Math.abs(v - from[i]) > 0.5) && box[2] - box[0] >= 2 && box[3] - box[1] >= 2) {
        state.pending = box;
      }
      draw();
      renderSelected();
      return;
    }
    if (!state.drag) return;
    const box = state.drag.box;
    state.drag = null;
    if (box[2] - box[0] >= 2 && box[3] - box[1] >= 2) {
      state.keyframes[frameInfo(state.index)[0]] = box.map((v) => Math.round(v * 100) / 100);
      updateDrawForm();
      renderSelected();
    }
    draw();
  });
  $("addRegion").addEventListener("click", async () => {
    const keyframes = Object.entries(state.keyframes).map(([f, box]) => ({ frame: Number(f), box }));
    const body = {
      kind: $("addKind").value, keyframes,
      first: Number($("addFirst").value), last: Number($("addLast").value),
    };
    try {
      await api("/api/tracks", body);
      clearDrawing();
      await loadPlan();
      await show(state.index);
    } catch (err) {
      say(`not added: ${err.message}`);
    }
  });
  $("clearDraw").addEventListener("click", clearDrawing);
}

// K: the box on this frame becomes a keyframe (CVAT's and DIVE's key). On a track drawn by hand
// it is the box dragged into place here, or the one interpolated here if none was; on a box
// being drawn, the interpolated box is held here. Frames between keyframes are interpolated.
function interpolated(keys, index) {
  const frames = Object.keys(keys).map(Number).sort((a, b) => a - b);
  if (index <= frames[0]) return keys[frames[0]];
  if (index >= frames[frames.length - 1]) return keys[frames[frames.length - 1]];
  const after = frames.find((k) => k >= index), before = frames.filter((k) => k <= index).pop();
  if (after === before) return keys[before];
  const t = (index - before) / (after - before), a = keys[before], b = keys[after];
  return a.map((v, i) => v + (b[i] - v) * t);
}

async function keyframeHere() {
  const index = frameInfo(state.index)[0];
  const round = (box) => box.map((v) => Math.round(v * 100) / 100);
  const t = state.plan.tracks.find((x) => x.id === state.selected);
  if (t) {
    if (t.manual !== t.frames) {
      say(`K: track #${t.id} was found by the detector; move its box and press Apply box instead`);
      return;
    }
    // Asked for again unless a box was just moved here: a key pressed right after a step
    // can come before the new frame's regions.
    const regions = state.pending ? state.regions : await api(`/api/frames/${index}/regions`);
    const r = regions.find((x) => x.track === t.id);
    if (!r) { say(`K: track #${t.id} has no box on frame ${index}`); return; }
    const box = round(state.pending || r.box);
    if (await edit(`/api/tracks/${t.id}/keyframe`, { frame: index, box })) {
      say(`keyframe of track #${t.id} at frame ${index}`);
    }
    return;
  }
  if (Object.keys(state.keyframes).length) {
    state.keyframes[index] = round(interpolated(state.keyframes, index));
    updateDrawForm();
    draw();
    return;
  }
  say("K: select a track drawn by hand, or draw a box, first");
}

// The handle under the pointer, without grabbing anything (for the cursor).
function hit0(p) {
  const box = targetBox();
  if (!box) return null;
  const tol = 6 / scale();
  for (const [mode, hx, hy] of handles(box)) {
    if (Math.abs(p[0] - hx) <= tol && Math.abs(p[1] - hy) <= tol) return mode;
  }
  return p[0] > box[0] && p[0] < box[2] && p[1] > box[1] && p[1] < box[3] ? "move" : null;
}

function clearDrawing() {
  state.keyframes = {};
  $("addFirst").value = "";
  $("addLast").value = "";
  updateDrawForm();
  draw();
  renderSelected();
}

function jumpToTime() {
  const t = Number($("time").value);
  const frames = state.plan.frames;
  let best = 0;
  for (let i = 0; i < frames.length; i++) if (frames[i][2] <= t + 1e-9) best = i;
  show(best);
}

async function save() {
  try {
    const r = await api("/api/save", {});
    await loadPlan();
    say(`saved ${r.saved} (${r.edits} edit(s); machine's plan kept as ${r.original})`);
  } catch (err) {
    say(`not saved: ${err.message}`);
  }
}

async function render() {
  if (state.busy) return;
  state.busy = true;
  say("rendering…");
  try {
    let r;
    try {
      r = await api("/api/render", { keep_audio: state.plan.keep_audio });
    } catch (err) {
      if (err.status !== 409 || !confirm(`${err.message}\n\nReplace it?`)) throw err;
      r = await api("/api/render", { overwrite: true, keep_audio: state.plan.keep_audio });
    }
    await loadPlan();
    say(`rendered ${r.output} (${r.frames} frame(s))`);
  } catch (err) {
    say(`not rendered: ${err.message}`);
  } finally {
    state.busy = false;
  }
}

// Play: each frame as soon as the one before is on screen (as fast as frames arrive).
async function togglePlay() {
  state.playing = !state.playing;
  while (state.playing && state.index < state.plan.frames.length - 1) await show(state.index + 1);
  state.playing = false;
}

function setupKeys() {
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement && ev.target.type !== "radio" && ev.target.type !== "checkbox"
        && ev.target.type !== "range") return;
    if (ev.target instanceof HTMLSelectElement) return;
    if (ev.key === " ") { ev.preventDefault(); togglePlay(); return; }
    state.playing = false;  // any other key stops playback
    const step = ev.shiftKey ? 10 : 1;
    if (ev.key === "ArrowRight") { ev.preventDefault(); show(state.index + step); }
    if (ev.key === "ArrowLeft") { ev.preventDefault(); show(state.index - step); }
    if (state.plan.has_audio && (ev.key === "i" || ev.key === "o")) setMark(ev.key === "i" ? "in" : "out");
    if (ev.key === "p" || ev.key === "P") promoteHere();
    if (ev.key === "k" || ev.key === "K") keyframeHere();
  });
}

async function main() {
  // The first picture is decoded on the server while the plan's summary is made.
  const first = new Image();
  first.src = url("/api/frames/0.jpg?view=source&v=0");
  await loadPlan();
  $("back10").addEventListener("click", () => show(state.index - 10));
  $("back1").addEventListener("click", () => show(state.index - 1));
  $("fwd1").addEventListener("click", () => show(state.index + 1));
  $("fwd10").addEventListener("click", () => show(state.index + 10));
  $("slider").addEventListener("input", () => show(Number($("slider").value)));
  $("goTime").addEventListener("click", jumpToTime);
  $("time").addEventListener("keydown", (ev) => { if (ev.key === "Enter") jumpToTime(); });
  for (const r of document.querySelectorAll("input[name=view]")) {
    r.addEventListener("change", () => { state.view = r.value; show(state.index); });
  }
  $("onlyHere").addEventListener("change", renderTracks);
  $("save").addEventListener("click", save);
  $("render").addEventListener("click", render);
  window.addEventListener("resize", draw);
  setupDrawing();
  setupTrackEdit();
  setupAudio();
  setupKeys();
  $("toGrid").addEventListener("click", showGrid);
  $("saveAll").addEventListener("click", () => everyItem("/api/save", {}, "saved"));
  $("renderAll").addEventListener("click", () => everyItem("/api/render", { overwrite: true }, "rendered"));
  if (state.plan.items > 1) await showGrid(); else await show(0);
  // What the first frame does not need waits until it is on screen.
  state.ready = true;
  state.warningsLoaded = loadWarnings();
  nextThumb();
  document.body.dataset.ready = "1";
}

main().catch((err) => say(`cannot load the case: ${err.message}`));
