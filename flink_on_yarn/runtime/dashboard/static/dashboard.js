// miniflink dashboard: a hash-routed page over the JobManager's REST API (Flink's shapes).
// Every URL is relative, so the page works at the JobManager's root and under /proxy/<appId>/.
// Data only ever reaches the page as textContent or attributes set through the DOM, never as HTML.
"use strict";

const REFRESH_MS = 1000;
const SVG_NS = "http://www.w3.org/2000/svg";

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "onclick") el.addEventListener("click", v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Thrown when the RM's proxy says the YARN application has ended: the JobManager is gone for good.
class ClusterEnded extends Error {
  constructor(app) {
    super(`the Flink cluster has ended (${app.state}, final status ${app.finalStatus})`);
    this.app = app;
  }
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ headers: { Accept: "application/json" } }, opts || {}));
  if (r.status === 410) {
    const body = await r.json().catch(() => null);
    if (body && body.application) throw new ClusterEnded(body.application);
  }
  if (r.status === 401) {
    const body = await r.clone().json().catch(() => null);
    // The JobManager itself (reached directly, not through the RM's proxy) wants its cluster secret once.
    if (body && Array.isArray(body.errors)) location.href = "login";
    throw new Error(`${path}: HTTP 401, log in first`);
  }
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  const type = r.headers.get("content-type") || "";
  return type.includes("json") ? r.json() : r.text();
}

const badge = (state) => h("span", { class: `badge ${String(state).replace(/[^A-Z_]/g, "")}` }, state);
const card = (label, value, sub) => h("div", { class: "card" }, h("div", { class: "label" }, label),
  h("div", { class: "value" }, value), sub ? h("div", { class: "sub" }, sub) : null);
const panel = (title, ...body) => h("section", { class: "panel" }, title ? h("h2", {}, title) : null, ...body);

function table(headers, rows, empty) {
  const body = rows.length ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))
    : [h("tr", {}, h("td", { class: "empty", colspan: headers.length }, empty || "Nothing here yet"))];
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, body));
}

function fmtTime(ms) { return ms > 0 ? new Date(ms).toLocaleTimeString() : "–"; }
function fmtDuration(ms) {
  if (ms < 0) return "–";
  const sec = Math.floor(ms / 1000), m = Math.floor(sec / 60), hr = Math.floor(m / 60);
  if (hr) return `${hr}h ${m % 60}m`;
  if (m) return `${m}m ${sec % 60}s`;
  return `${sec}s`;
}
// A measured time in ms; a figure a subtask does not measure (a source's busy time) comes as "NaN".
function fmtMs(ms) {
  if (typeof ms !== "number") return "–";
  return ms < 1000 ? `${ms} ms` : fmtDuration(ms);
}
function fmtBytes(b) {
  if (!b) return "–";
  const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return `${b.toFixed(i ? 1 : 0)} ${u[i]}`;
}

// ---- pages --------------------------------------------------------------------------------------

async function overviewPage() {
  const [ov, jobs] = await Promise.all([api("overview"), api("jobs/overview")]);
  const running = jobs.jobs.filter((j) => !["FINISHED", "CANCELED", "FAILED"].includes(j.state));
  const done = jobs.jobs.filter((j) => ["FINISHED", "CANCELED", "FAILED"].includes(j.state));
  return [
    h("h1", {}, "Overview"),
    h("div", { class: "cards", id: "overview-cards" },
      card("Task Managers", ov.taskmanagers),
      card("Task slots", `${ov["slots-available"]} / ${ov["slots-total"]}`, "available / total"),
      card("Jobs running", ov["jobs-running"]),
      card("Jobs finished", ov["jobs-finished"]),
      card("Jobs cancelled", ov["jobs-cancelled"]),
      card("Jobs failed", ov["jobs-failed"]),
      card("Flink version", ov["flink-version"], ov["flink-commit"])),
    panel("Running jobs", jobsTable(running)),
    panel("Completed jobs", jobsTable(done)),
  ];
}

function jobsTable(jobs) {
  return table(["Job name", "Job id", "Status", "Start time", "Duration", "Tasks"],
    jobs.sort((a, b) => b["start-time"] - a["start-time"]).map((j) => [
      h("a", { href: `#/jobs/${encodeURIComponent(j.jid)}`, class: "job-link" }, j.name),
      h("span", { class: "mono" }, j.jid), badge(j.state), fmtTime(j["start-time"]), fmtDuration(j.duration),
      `${j.tasks.running || 0} running / ${j.tasks.total} total`]), "No jobs");
}

async function jobsPage() {
  const jobs = await api("jobs/overview");
  return [h("h1", {}, "Jobs"), panel(null, jobsTable(jobs.jobs))];
}

function levels(plan) {
  const depth = {};
  const byId = Object.fromEntries(plan.nodes.map((n) => [n.id, n]));
  const visit = (id, seen) => {
    if (depth[id] !== undefined) return depth[id];
    if (seen.has(id)) return 0;
    seen.add(id);
    const ins = (byId[id] && byId[id].inputs) || [];
    depth[id] = ins.length ? 1 + Math.max(...ins.map((i) => visit(i.id, seen))) : 0;
    return depth[id];
  };
  plan.nodes.forEach((n) => visit(n.id, new Set()));
  return depth;
}

function jobGraph(job) {
  const depth = levels(job.plan);
  const cols = {};
  for (const v of job.vertices) (cols[depth[v.id] || 0] = cols[depth[v.id] || 0] || []).push(v);
  const W = 230, H = 92, GX = 70, GY = 24;
  const ncol = Object.keys(cols).length || 1;
  const nrow = Math.max(1, ...Object.values(cols).map((c) => c.length));
  const width = ncol * W + (ncol - 1) * GX + 20, height = nrow * H + (nrow - 1) * GY + 20;
  const pos = {};
  Object.entries(cols).forEach(([c, vs]) => vs.forEach((v, i) => {
    pos[v.id] = { x: 10 + Number(c) * (W + GX), y: 10 + i * (H + GY) };
  }));
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, id: "job-graph" });
  svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
    markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#94a3b8" }))));
  for (const n of job.plan.nodes) {
    for (const inp of n.inputs || []) {
      const a = pos[inp.id], b = pos[n.id];
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      svg.append(s("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 2},${y2}`, fill: "none",
        stroke: "#94a3b8", "stroke-width": 1.5, "marker-end": "url(#arrow)" }));
      svg.append(s("text", { x: mx, y: (y1 + y2) / 2 - 6, "text-anchor": "middle", fill: "#64748b" },
        inp.ship_strategy || ""));
    }
  }
  const colors = { RUNNING: "#2563eb", FINISHED: "#15803d", FAILED: "#b91c1c", CANCELED: "#64748b",
    CANCELING: "#b45309" };
  for (const v of job.vertices) {
    const p = pos[v.id];
    const g = s("g", { class: "vertex", "data-vertex": v.id, transform: `translate(${p.x},${p.y})` });
    g.append(s("rect", { width: W, height: H, rx: 8, fill: "#fff", stroke: colors[v.status] || "#cbd5e1",
      "stroke-width": 2 }));
    g.append(s("rect", { width: 6, height: H, rx: 3, fill: colors[v.status] || "#cbd5e1" }));
    const name = v.name.length > 28 ? v.name.slice(0, 27) + "…" : v.name;
    g.append(s("text", { x: 16, y: 22, style: "font-weight:600;font-size:12px" }, name));
    g.append(s("title", {}, v.name));
    g.append(s("text", { x: 16, y: 42 }, `Parallelism: ${v.parallelism}   ${v.status}`));
    g.append(s("text", { x: 16, y: 60 }, `Records in: ${v.metrics["read-records"]}`));
    g.append(s("text", { x: 16, y: 78 }, `Records out: ${v.metrics["write-records"]}`));
    svg.append(g);
  }
  return svg;
}

const TERMINAL = ["FINISHED", "CANCELED", "FAILED"];
const lastSeen = {};  // job id → the state the page last showed, for when the JobManager goes away

// Flink's CheckpointingStatistics as a panel; null for a job without checkpointing (its 404).
function checkpointsPanel(ckpt) {
  if (!ckpt) return null;
  const c = ckpt.counts, latest = ckpt.latest.completed, restored = ckpt.latest.restored;
  return panel("Checkpoints",
    h("div", { class: "cards" }, card("Completed", c.completed), card("In progress", c.in_progress),
      card("Failed", c.failed), card("Restored", c.restored,
        restored ? `from #${restored.id} at ${fmtTime(restored.restore_timestamp)}` : null),
      card("Latest", latest ? `#${latest.id}` : "–", latest ? latest.external_path : null)),
    table(["ID", "Status", "Triggered", "Duration", "State size", "Acknowledged", "Failure"],
      ckpt.history.map((p) => [p.id, badge(p.status), fmtTime(p.trigger_timestamp), `${p.end_to_end_duration} ms`,
        fmtBytes(p.state_size), `${p.num_acknowledged_subtasks}/${p.num_subtasks}`, p.failure_message || ""]),
      "No checkpoint taken yet"));
}

async function jobPage(jid) {
  const job = await api(`jobs/${encodeURIComponent(jid)}`);
  const ckpt = await api(`jobs/${encodeURIComponent(jid)}/checkpoints`).catch(() => null);
  lastSeen[jid] = job.state;
  const live = !TERMINAL.includes(job.state);
  const cancel = h("button", { class: "danger", id: "cancel-job", disabled: !live || job.state === "CANCELLING",
    onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await api(`jobs/${encodeURIComponent(jid)}?mode=cancel`, { method: "PATCH" });
      } catch (e) {
        // A per-job cluster may end between the click and the answer: that is the cancel done, not an error.
        if (!(e instanceof ClusterEnded)) alert(e);
      }
      refresh();
    } }, "Cancel job");
  return [
    h("div", { class: "row" }, h("h1", {}, job.name), h("span", { id: "job-state" }, badge(job.state)),
      h("span", { class: "spacer" }), cancel),
    h("div", { class: "cards" }, card("Job id", h("span", { class: "mono" }, job.jid)),
      card("Start", fmtTime(job["start-time"])), card("Duration", fmtDuration(job.duration)),
      card("Type", job["job-type"]), card("Required slots", job.requiredSlots), card("Restarts", job.restarts)),
    panel("Job graph", jobGraph(job)),
    panel("Vertices", table(["Name", "Parallelism", "Status", "Bytes in", "Records in", "Bytes out", "Records out",
      "Busy", "Idle", "Back-pressured", "Tasks", "TaskManagers"],
      job.vertices.map((v) => [v.name, v.parallelism, badge(v.status), fmtBytes(v.metrics["read-bytes"]),
        v.metrics["read-records"], fmtBytes(v.metrics["write-bytes"]), v.metrics["write-records"],
        // Flink's accumulated times, the maximum over the vertex's subtasks.
        fmtMs(v.metrics["accumulated-busy-time"]), fmtMs(v.metrics["accumulated-idle-time"]),
        fmtMs(v.metrics["accumulated-backpressured-time"]),
        Object.entries(v.tasks).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", "),
        h("span", {}, v.taskmanagers.map((t) => h("a", { href: `#/taskmanagers/${encodeURIComponent(t)}`,
          class: "mono", style: "margin-right:8px" }, t)))]))),
    checkpointsPanel(ckpt),
  ].filter((n) => n !== null);
}

async function taskmanagersPage() {
  const tms = (await api("taskmanagers")).taskmanagers;
  return [h("h1", {}, "Task Managers"), panel(null, table(
    ["Container / resource id", "Slots", "Free slots", "CPU cores", "Physical memory", "Last heartbeat", "Idle", ""],
    tms.map((t) => [h("a", { href: `#/taskmanagers/${encodeURIComponent(t.id)}`, class: "mono tm-link" }, t.id),
      t.slotsNumber, t.freeSlots, (t.hardware && t.hardware.cpuCores) || "–",
      fmtBytes(t.hardware && t.hardware.physicalMemory), fmtTime(t.timeSinceLastHeartbeat), t.idle ? "yes" : "no",
      h("span", {}, h("a", { href: `#/taskmanagers/${encodeURIComponent(t.id)}/stdout` }, "stdout"), " · ",
        h("a", { href: `#/taskmanagers/${encodeURIComponent(t.id)}/log` }, "log"))]),
    "No TaskManagers registered"))];
}

async function taskmanagerPage(id, which) {
  which = which === "log" ? "log" : "stdout";
  const [tm, text] = await Promise.all([api(`taskmanagers/${encodeURIComponent(id)}`),
    api(`taskmanagers/${encodeURIComponent(id)}/${which}`)]);
  const base = `#/taskmanagers/${encodeURIComponent(id)}`;
  const pre = h("pre", { class: "log", id: "tm-output" }, text || "(empty)");
  return [
    h("h1", {}, "TaskManager ", h("span", { class: "mono" }, tm.id)),
    h("div", { class: "cards" }, card("Slots", tm.slotsNumber), card("Free slots", tm.freeSlots),
      card("CPU cores", (tm.hardware && tm.hardware.cpuCores) || "–"),
      card("Memory", fmtBytes(tm.hardware && tm.hardware.physicalMemory)), card("PID", tm.pid || "–")),
    panel(null, h("div", { class: "tabs" },
      h("a", { href: `${base}/stdout`, class: which === "stdout" ? "active" : null }, "Stdout"),
      h("a", { href: `${base}/log`, class: which === "log" ? "active" : null }, "Log")), pre),
  ];
}

// ---- allocation timeline ---------------------------------------------------------------------------

const SERIES = [
  { key: "tmRequested", label: "TaskManagers requested (pending)", color: "#f59e0b", chart: "tm" },
  { key: "tmAllocated", label: "TaskManagers allocated (container granted)", color: "#8b5cf6", chart: "tm" },
  { key: "tmRegistered", label: "TaskManagers registered", color: "#2563eb", chart: "tm" },
  { key: "slotsRequested", label: "Slots requested (waiting)", color: "#f59e0b", chart: "slots" },
  { key: "slotsAllocated", label: "Slots allocated to jobs", color: "#15803d", chart: "slots" },
  { key: "slotsRegistered", label: "Slots registered", color: "#2563eb", chart: "slots" },
];

// Folds the event log into step series: each value changes only at an event's timestamp.
function foldHistory(events) {
  const v = { tmRequested: 0, tmAllocated: 0, tmRegistered: 0, slotsRequested: 0, slotsAllocated: 0,
    slotsRegistered: 0 };
  const points = [];
  const n = (e) => Number(e.slots || 1);
  for (const e of events) {
    switch (e.event) {
      case "taskmanager-requested": v.tmRequested += Number(e.count || 1); break;
      case "taskmanager-allocated": v.tmRequested = Math.max(0, v.tmRequested - 1); v.tmAllocated += 1; break;
      case "taskmanager-registered": v.tmRegistered += 1; v.slotsRegistered += n(e); break;
      case "taskmanager-released": case "taskmanager-lost":
        v.tmRegistered = Math.max(0, v.tmRegistered - 1); v.tmAllocated = Math.max(0, v.tmAllocated - 1);
        v.slotsRegistered = Math.max(0, v.slotsRegistered - n(e)); break;
      case "slots-requested": v.slotsRequested += n(e); break;
      case "slots-allocated": v.slotsRequested = Math.max(0, v.slotsRequested - n(e)); v.slotsAllocated += n(e); break;
      case "slots-request-timeout": v.slotsRequested = Math.max(0, v.slotsRequested - n(e)); break;
      case "slots-released": v.slotsAllocated = Math.max(0, v.slotsAllocated - n(e)); break;
      default: break;
    }
    points.push({ t: e.timestamp, event: e, values: Object.assign({}, v) });
  }
  return points;
}

// Job start/end labels in lanes below the charts: each label goes into the first lane where it does not
// overlap the one before it, and ends at its marker instead of starting there when it would run off the
// right edge. Labels are [{x, width}] (in viewBox units); returns [{lane, anchor}] in the same order.
const LABEL_CHAR_W = 6.6; // an 11px system-ui character, wide enough for digits and capitals
function labelLanes(labels, right) {
  const ends = [];
  return labels.map((l) => {
    const flip = l.x + 3 + l.width > right;
    const left = flip ? l.x - 3 - l.width : l.x + 3;
    let lane = ends.findIndex((end) => end + 8 <= left);
    if (lane < 0) { lane = ends.length; ends.push(0); }
    ends[lane] = left + l.width;
    return { lane, anchor: flip ? "end" : "start" };
  });
}

function timelineChart(points, jobs, now) {
  const W = 1000, PAD_L = 44, PAD_R = 16, CH = 170, GAP = 46, TOP = 22, LANE_H = 15;
  const t0 = Math.min(...points.map((p) => p.t), ...jobs.map((j) => j["start-time"]).filter((t) => t > 0), now - 1000);
  const t1 = Math.max(now, t0 + 1000);
  const x = (t) => PAD_L + (W - PAD_L - PAD_R) * (t - t0) / (t1 - t0);
  const markers = jobs.flatMap((j) => [[j["start-time"], "start", j], [j["end-time"], "end", j]])
    .filter(([t]) => t > 0).map(([t, what, j]) => ({ t, what, j, text: `${what === "start" ? "▶" : "■"} ${j.name.slice(0, 24)}` }))
    .sort((a, b) => a.t - b.t);
  const lanes = labelLanes(markers.map((m) => ({ x: x(m.t), width: m.text.length * LABEL_CHAR_W })), W - 2);
  const nLanes = Math.max(1, ...lanes.map((l) => l.lane + 1));
  const LABELS_Y = TOP + 2 * CH + GAP + 16;
  const H = LABELS_Y + nLanes * LANE_H + 22;
  const svg = s("svg", { id: "allocation-timeline", width: "100%", viewBox: `0 0 ${W} ${H}`,
    preserveAspectRatio: "xMinYMin meet" });
  const charts = { tm: { y0: TOP, title: "TaskManagers" }, slots: { y0: TOP + CH + GAP, title: "Slots" } };
  for (const [name, c] of Object.entries(charts)) {
    const keys = SERIES.filter((ser) => ser.chart === name).map((ser) => ser.key);
    const max = Math.max(1, ...points.flatMap((p) => keys.map((k) => p.values[k])));
    c.y = (val) => c.y0 + CH - (CH - 10) * val / max;
    svg.append(s("text", { x: PAD_L, y: c.y0 - 6, style: "font-weight:600" }, c.title));
    for (let i = 0; i <= max; i += Math.max(1, Math.ceil(max / 4))) {
      svg.append(s("line", { x1: PAD_L, x2: W - PAD_R, y1: c.y(i), y2: c.y(i), stroke: "#eef2f6" }));
      svg.append(s("text", { x: PAD_L - 8, y: c.y(i) + 4, "text-anchor": "end" }, i));
    }
    svg.append(s("line", { x1: PAD_L, x2: W - PAD_R, y1: c.y(0), y2: c.y(0), stroke: "#94a3b8" }));
  }
  // The first and last time labels sit inside the chart (centred, the last one ran off the right edge).
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const t = t0 + (t1 - t0) * i / ticks;
    const anchor = i === 0 ? "start" : i === ticks ? "end" : "middle";
    svg.append(s("text", { x: x(t), y: H - 8, "text-anchor": anchor, fill: "#64748b", class: "time-tick" },
      new Date(t).toLocaleTimeString()));
  }
  markers.forEach((m, i) => {
    const color = m.what === "start" ? "#0ea5e9" : "#ef4444";
    const { lane, anchor } = lanes[i];
    const y = LABELS_Y + lane * LANE_H;
    const g = s("g", { class: `job-marker job-${m.what}` });
    g.append(s("line", { x1: x(m.t), x2: x(m.t), y1: TOP - 4, y2: y - 10, stroke: color, "stroke-dasharray": "4 3" }));
    g.append(s("text", { x: x(m.t) + (anchor === "end" ? -3 : 3), y, fill: color, "text-anchor": anchor,
      class: "job-label" }, m.text));
    g.append(s("title", {}, `${m.j.name} (${m.j.jid}) ${m.what} at ${new Date(m.t).toLocaleTimeString()} — ${m.j.state}`));
    svg.append(g);
  });
  for (const ser of SERIES) {
    const c = charts[ser.chart];
    if (!points.length) continue;
    let d = `M${x(t0)},${c.y(0)}`;
    let prev = 0;
    for (const p of points) {
      d += ` L${x(p.t)},${c.y(prev)} L${x(p.t)},${c.y(p.values[ser.key])}`;
      prev = p.values[ser.key];
    }
    d += ` L${x(t1)},${c.y(prev)}`;
    svg.append(s("path", { d, fill: "none", stroke: ser.color, "stroke-width": 2, opacity: 0.9,
      class: `series series-${ser.key}` }));
    let last = null;
    for (const p of points) {
      const val = p.values[ser.key];
      if (last !== null && val === last) continue;
      last = val;
      const dot = s("circle", { cx: x(p.t), cy: c.y(val), r: 3.5, fill: ser.color, class: "point" });
      dot.append(s("title", {}, `${new Date(p.t).toLocaleTimeString()} ${p.event.event}` +
        `${p.event.taskmanager ? " " + p.event.taskmanager : ""}${p.event.job ? " job " + p.event.job : ""}` +
        ` → ${ser.label}: ${val}`));
      svg.append(dot);
    }
  }
  return svg;
}

async function resourcesPage() {
  const [hist, jobs, rmo] = await Promise.all([api("resourcemanager/allocation-history"), api("jobs/overview"),
    api("resourcemanager/overview")]);
  const points = foldHistory(hist.events);
  return [
    h("h1", {}, "Allocation timeline"),
    h("div", { class: "cards" }, card("Required slots", rmo.requiredSlots), card("Registered slots", rmo.registeredSlots),
      card("Free slots", rmo.freeSlots), card("Pending slot requests", rmo.pendingSlotRequests),
      card("Task Managers", rmo.taskmanagers.length, `${rmo.idleTaskmanagers.length} idle`)),
    panel(null, timelineChart(points, jobs.jobs, Date.now()),
      h("div", { class: "legend" }, SERIES.map((ser) => h("span", {}, h("i", { style: `background:${ser.color}` }),
        ser.label)), h("span", {}, h("i", { style: "background:#0ea5e9" }), "job start"),
        h("span", {}, h("i", { style: "background:#ef4444" }), "job end"))),
    panel("Events", table(["Time", "Event", "TaskManager", "Slots", "Job", "Detail"],
      hist.events.slice(-200).reverse().map((e) => [fmtTime(e.timestamp), e.event,
        h("span", { class: "mono" }, e.taskmanager || ""), e.slots === undefined ? "" : e.slots,
        h("span", { class: "mono" }, e.job || ""), e.detail || ""]), "No events yet")),
  ];
}

// ---- router ---------------------------------------------------------------------------------------

function route() {
  const parts = (location.hash.replace(/^#\/?/, "") || "overview").split("/").map(decodeURIComponent);
  if (parts[0] === "jobs" && parts[1]) return { nav: "jobs", jid: parts[1], page: () => jobPage(parts[1]) };
  if (parts[0] === "jobs") return { nav: "jobs", page: jobsPage };
  if (parts[0] === "taskmanagers" && parts[1]) return { nav: "taskmanagers", page: () => taskmanagerPage(parts[1], parts[2]) };
  if (parts[0] === "taskmanagers") return { nav: "taskmanagers", page: taskmanagersPage };
  if (parts[0] === "resources") return { nav: "resources", page: resourcesPage };
  return { nav: "overview", page: overviewPage };
}

// ---- the cluster is gone -------------------------------------------------------------------------------

// A job's final state once its JobManager has gone: what the page saw last if that was final, else what the
// ApplicationMaster told YARN when it unregistered ("Job <id> ended CANCELED: …").
function finalStateOf(jid, app) {
  if (TERMINAL.includes(lastSeen[jid])) return lastSeen[jid];
  const m = /Job ([0-9a-f]+) ended (FINISHED|CANCELED|FAILED)/.exec(app.diagnostics || "");
  return m && m[1] === jid ? m[2] : "UNKNOWN";
}

let ended = null;
const UNREGISTERED = ["FINAL_SAVING", "FINISHING"];  // YARN still waits for the AM's container to exit
function showEnded(app) {
  ended = app;
  const live = document.getElementById("live");
  live.textContent = "cluster ended";
  live.classList.add("stale");
  const main = document.getElementById("main");
  const r = route();
  if (r.jid) {
    const state = finalStateOf(r.jid, app);
    const slot = document.getElementById("job-state");
    if (slot) slot.replaceChildren(badge(state));
    else main.replaceChildren(h("h1", {}, "Job ", h("span", { class: "mono" }, r.jid)),
      h("span", { id: "job-state" }, badge(state)));
    const cancel = document.getElementById("cancel-job");
    if (cancel) cancel.disabled = true;
  }
  const banner = h("div", { class: "panel ended", id: "cluster-ended" },
    h("strong", {}, "This Flink cluster has ended. "),
    `YARN application ${app.id} is ${app.state} with final status ${app.finalStatus}. `,
    h("a", { href: app.appPage, id: "yarn-app-link" }, "See the application in YARN"),
    h("div", { class: "muted" }, "Below is the last the dashboard saw from its JobManager."),
    app.diagnostics ? h("pre", { class: "diag" }, app.diagnostics) : null);
  const old = document.getElementById("cluster-ended");
  if (old) old.replaceWith(banner);
  else main.prepend(banner);
}

let inflight = false;
async function refresh() {
  if (inflight || (ended && !UNREGISTERED.includes(ended.state))) return;
  inflight = true;
  const r = route();
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === r.nav));
  const live = document.getElementById("live");
  try {
    if (ended) {
      await api("overview");  // only to hear the application's final state from the proxy
      return;
    }
    const nodes = await r.page();
    const main = document.getElementById("main");
    const scroll = document.querySelector("#tm-output");
    const atBottom = scroll && scroll.scrollTop + scroll.clientHeight >= scroll.scrollHeight - 4;
    const keep = scroll ? scroll.scrollTop : 0;
    main.replaceChildren(...nodes);
    const out = document.querySelector("#tm-output");
    if (out) out.scrollTop = atBottom || !scroll ? out.scrollHeight : keep;
    live.textContent = "live";
    live.classList.remove("stale");
  } catch (e) {
    if (e instanceof ClusterEnded) {
      showEnded(e.app);
    } else {
      live.textContent = `not answering: ${e.message}`;
      live.classList.add("stale");
    }
  } finally {
    inflight = false;
  }
}

window.addEventListener("hashchange", () => (ended ? showEnded(ended) : refresh()));
setInterval(refresh, REFRESH_MS);
refresh();
