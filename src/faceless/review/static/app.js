// The review studio page: one frame at a time, its regions outlined, tracks listed beside it.
// Plain JavaScript, no libraries and no network beyond this studio's own server.
"use strict";

const COLOURS = { face: "#ff8c1a", plate: "#2f7bff", text: "#a445ff", head: "#ff8c1a" };
const KEEP = "#19a974";
const DRAWING = "#ff2d55";

const state = {
  plan: null, index: 0, view: "source", regions: [], selected: null,
  keyframes: {}, drag: null, busy: false, warnings: [],
};
const $ = (id) => document.getElementById(id);

async function api(path, body) {
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

async function loadPlan() {
  state.plan = await api("/api/plan");
  const p = state.plan;
  $("case").textContent = `${p.source.name} · ${p.plan} · ${p.frames.length} frame(s) · reviewer ${p.actor}`;
  $("slider").max = Math.max(0, p.frames.length - 1);
  const reason = $("reason");
  if (!reason.options.length) {
    for (const code of p.reasons) reason.add(new Option(code, code));
  }
  say(p.unsaved ? `${p.edits} edit(s), not saved` : `${p.edits} edit(s) saved`);
  state.warnings = await api("/api/warnings");
  if (state.selected !== null && !p.tracks.some((t) => t.id === state.selected)) state.selected = null;
  renderTracks();
  renderTimeline();
  renderWarnings();
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
  const head = document.createElement("div");
  head.id = "playhead";
  lanes.append(head);
  placePlayhead();
}

function placePlayhead() {
  const head = $("playhead");
  if (head) head.style.left = `${((state.index + 0.5) / state.plan.frames.length) * 100}%`;
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
    list.append(li);
  }
}

function frameInfo(i) { return state.plan.frames[i]; }

async function show(i) {
  const n = state.plan.frames.length;
  state.index = Math.max(0, Math.min(n - 1, i));
  const [index, , time] = frameInfo(state.index);
  $("position").textContent = `frame ${index} / ${n - 1} · ${time.toFixed(3)} s`;
  $("slider").value = state.index;
  $("time").value = time.toFixed(2);
  const img = $("frame");
  const loaded = new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; });
  img.src = `/api/frames/${index}.jpg?view=${state.view}&v=${state.view === "preview" ? state.plan.version : 0}`;
  state.regions = await api(`/api/frames/${index}/regions`);
  await loaded;
  draw();
  renderTracks();
  renderTimeline();
  renderSelected();
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
    const label = `${r.track === null ? "" : "#" + r.track + " "}${r.kind}${r.origin === "manual" ? " (manual)" : ""}`;
    ctx.fillText(label, x1 * k + 2, Math.max(12, y1 * k - 3));
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
}

function select(id) {
  state.selected = id;
  draw();
  renderTimeline();
  renderSelected();
}

// The selected track's edits: reshape on this frame, delete frames, split, merge.
function renderSelected() {
  const t = state.plan.tracks.find((x) => x.id === state.selected);
  const manual = !!t && t.manual === t.frames;
  const here = frameInfo(state.index)[0];
  $("selName").textContent = t ? `#${t.id} ${t.kind} (frames ${t.first}–${t.last})` : "none";
  $("useBox").disabled = !manual || !state.keyframes[here] || !state.regions.some((r) => r.track === t.id);
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
  $("useBox").addEventListener("click", async () => {
    const box = state.keyframes[here()];
    if (await edit(`/api/tracks/${state.selected}/keyframe`, { frame: here(), box })) clearDrawing();
  });
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
  const i = state.plan.frames.findIndex((f) => f[0] === frameIndex);
  return i < 0 ? 0 : i;
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

function setupDrawing() {
  const canvas = $("overlay");
  canvas.addEventListener("mousedown", (ev) => {
    const p = point(ev);
    state.drag = { start: p, box: [p[0], p[1], p[0], p[1]] };
  });
  canvas.addEventListener("mousemove", (ev) => {
    if (!state.drag) return;
    const [x, y] = point(ev), [sx, sy] = state.drag.start;
    state.drag.box = [Math.min(sx, x), Math.min(sy, y), Math.max(sx, x), Math.max(sy, y)];
    draw();
  });
  window.addEventListener("mouseup", () => {
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
      r = await api("/api/render", {});
    } catch (err) {
      if (err.status !== 409 || !confirm(`${err.message}\n\nReplace it?`)) throw err;
      r = await api("/api/render", { overwrite: true });
    }
    await loadPlan();
    say(`rendered ${r.output} (${r.frames} frame(s))`);
  } catch (err) {
    say(`not rendered: ${err.message}`);
  } finally {
    state.busy = false;
  }
}

function setupKeys() {
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement && ev.target.type !== "radio" && ev.target.type !== "checkbox"
        && ev.target.type !== "range") return;
    if (ev.target instanceof HTMLSelectElement) return;
    const step = ev.shiftKey ? 10 : 1;
    if (ev.key === "ArrowRight") { ev.preventDefault(); show(state.index + step); }
    if (ev.key === "ArrowLeft") { ev.preventDefault(); show(state.index - step); }
  });
}

async function main() {
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
  setupKeys();
  await show(0);
  document.body.dataset.ready = "1";
}

main().catch((err) => say(`cannot load the case: ${err.message}`));
