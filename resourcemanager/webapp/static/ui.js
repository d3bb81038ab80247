// miniyarn RM UI: keeps the server-rendered page current by polling the YARN REST API every second.
// Data reaches the page only as textContent or DOM-set attributes, never as HTML.
"use strict";

const REFRESH_MS = 1000;
const API = "/ws/v1/cluster";
const page = document.body.dataset.page;
const appId = document.body.dataset.appId;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path) {
  const r = await fetch(API + path, { headers: { Accept: "application/json" } });
  // The login cookie expired (or was cleared in another tab): back to the login page, then here.
  if (r.status === 401) location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

const badge = (state) => h("span", { class: `badge ${String(state).replace(/[^A-Z_]/g, "")}` }, state);
const bar = (pct) => h("span", { class: "progress" }, h("span", { style: `width:${Math.round(Math.min(100, pct))}%` }));
const meter = (used, total, unit) => h("span", { class: "meter" }, bar(total ? 100 * used / total : 0),
  `${used} / ${total}${unit}`);
const card = (label, value, sub) => h("div", { class: "card" }, h("div", { class: "label" }, label),
  h("div", { class: "value" }, value), sub ? h("div", { class: "sub" }, sub) : null);

function fmtTime(ms) { return ms > 0 ? new Date(ms).toLocaleTimeString([], { hour12: false }) : "–"; }
function fmtDuration(ms) {
  if (ms < 0) return "–";
  const s = Math.floor(ms / 1000), m = Math.floor(s / 60), hr = Math.floor(s / 3600);
  return hr ? `${hr}h ${m % 60}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

function fill(id, rows, empty) {
  const body = document.getElementById(id);
  if (!body) return;
  const cols = body.closest("table").querySelectorAll("th").length;
  body.replaceChildren(...(rows.length ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))
    : [h("tr", {}, h("td", { class: "empty", colspan: cols }, empty))]));
}

function appRow(a) {
  return [h("a", { href: `/cluster/app/${encodeURIComponent(a.id)}`, class: "app-link mono" }, a.id), a.user,
    h("span", { class: "app-name" }, a.name), a.applicationType, a.queue, badge(a.state), badge(a.finalStatus),
    h("span", {}, bar(a.progress), `${Math.round(a.progress)}%`), fmtTime(a.startedTime), fmtDuration(a.elapsedTime),
    a.trackingUI === "UNASSIGNED" ? "UNASSIGNED"
      : h("a", { href: `/proxy/${encodeURIComponent(a.id)}/` }, a.trackingUI)];
}

function nodeRow(n) {
  return [h("a", { href: `/node/${n.id}/`, class: "mono" }, n.id), n.rack, badge(n.state), n.numContainers,
    meter(n.usedMemoryMB, n.totalResource.memory, " MB"), `${n.availMemoryMB} MB`,
    meter(n.usedVirtualCores, n.totalResource.vCores, ""), n.availableVirtualCores, fmtTime(n.lastHealthUpdate),
    n.healthReport || n.healthStatus, n.version];
}

async function refreshMetrics() {
  const m = (await api("/metrics")).clusterMetrics;
  const el = document.getElementById("cluster-metrics");
  if (!el) return;
  el.replaceChildren(card("Apps submitted", m.appsSubmitted), card("Apps pending", m.appsPending),
    card("Apps running", m.appsRunning),
    card("Apps completed", m.appsCompleted, `${m.appsFailed} failed, ${m.appsKilled} killed`),
    card("Containers running", m.containersAllocated, `${m.containersPending} pending`),
    card("Memory used", `${m.allocatedMB} / ${m.totalMB} MB`, `${m.availableMB} MB available`),
    card("VCores used", `${m.allocatedVirtualCores} / ${m.totalVirtualCores}`, `${m.availableVirtualCores} available`),
    card("Active nodes", m.activeNodes, `${m.lostNodes} lost, ${m.unhealthyNodes} unhealthy`));
}

async function refreshApps() {
  const apps = ((await api("/apps")).apps || { app: [] }).app;
  apps.sort((a, b) => b.startedTime - a.startedTime || (b.id > a.id ? 1 : -1));
  fill("apps-body", apps.map(appRow), "No applications");
}

async function refreshNodes() {
  const nodes = ((await api("/nodes")).nodes || { node: [] }).node;
  fill("nodes-body", nodes.map(nodeRow), "No NodeManagers");
}

function queueRows(q, depth) {
  const used = q.resourcesUsed || { memory: 0, vCores: 0 };
  const abs = Number(q.absoluteUsedCapacity !== undefined ? q.absoluteUsedCapacity : q.usedCapacity || 0);
  const rows = [[`${"\u00a0".repeat(4 * depth)}${q.queuePath || q.queueName || "root"}`, q.state || "RUNNING",
    `${Number(q.capacity === undefined ? 100 : q.capacity).toFixed(1)}%`,
    `${Number(q.maxCapacity === undefined ? 100 : q.maxCapacity).toFixed(1)}%`,
    h("span", {}, bar(abs), `${abs.toFixed(1)}%`), q.numApplications === undefined ? "" : q.numApplications,
    q.numPendingApplications === undefined ? "" : q.numPendingApplications,
    `${used.memory} MB, ${used.vCores} vcores`]];
  for (const c of (q.queues && q.queues.queue) || []) rows.push(...queueRows(c, depth + 1));
  return rows;
}

async function refreshScheduler() {
  const info = (await api("/scheduler")).scheduler.schedulerInfo;
  if (info.type === "fifoScheduler") {
    fill("queues-body", [["default (FIFO)", info.qstate, "100.0%", "100.0%",
      `${(100 * info.usedCapacity).toFixed(1)}%`, "", "", `${info.usedNodeCapacity} MB`]], "No queues");
  } else {
    fill("queues-body", queueRows(info, 0), "No queues");
  }
}

async function refreshApp() {
  const id = encodeURIComponent(appId);
  const [a, att] = await Promise.all([api(`/apps/${id}`), api(`/apps/${id}/appattempts`)]);
  const app = a.app;
  const attempts = att.appAttempts.appAttempt;
  const current = attempts.length ? attempts[attempts.length - 1] : null;
  const containers = current
    ? (await api(`/apps/${id}/appattempts/${encodeURIComponent(current.appAttemptId)}/containers`)).container : [];
  const logs = (nodeId, cid) => `/node/${nodeId}/containerlogs/${encodeURIComponent(cid)}/${encodeURIComponent(app.user)}`;
  document.querySelector(".app-title").textContent = app.name;
  document.getElementById("app-state").replaceChildren(badge(app.state), " ", badge(app.finalStatus));
  const kill = document.getElementById("kill-app");
  if (kill && ["FINISHED", "FAILED", "KILLED"].includes(app.state)) kill.remove();
  const kv = [["Application id", app.id], ["User", app.user], ["Name", app.name], ["Type", app.applicationType],
    ["Queue", app.queue], ["Priority", app.priority], ["Started", fmtTime(app.startedTime)],
    ["Launched", fmtTime(app.launchTime)], ["Finished", fmtTime(app.finishedTime)],
    ["Elapsed", fmtDuration(app.elapsedTime)], ["Progress", `${Math.round(app.progress)}%`],
    ["Tracking UI", h("a", { href: `/proxy/${id}/`, class: "tracking-link" }, app.trackingUI)],
    ["Allocated", `${app.allocatedMB} MB, ${app.allocatedVCores} vcores in ${app.runningContainers} containers`],
    ["Resource use", `${app.memorySeconds} MB·s, ${app.vcoreSeconds} vcore·s`]];
  document.getElementById("app-kv").replaceChildren(...kv.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  fill("attempts-body", attempts.map((t) => [t.appAttemptId, badge(t.appAttemptState), fmtTime(t.startTime),
    fmtTime(t.finishedTime), t.containerId, t.nodeId,
    t.containerId ? h("a", { href: logs(t.nodeId, t.containerId) }, "logs") : "", t.diagnosticsInfo]), "No attempts yet");
  fill("containers-body", containers.map((c) => [h("span", {}, c.containerId, c.isAM ? " " : "",
    c.isAM ? h("span", { class: "badge" }, "AM") : null), h("a", { href: `/node/${c.nodeId}/`, class: "mono" }, c.nodeId),
  h("span", {}, badge(c.containerState), c.containerState === "COMPLETE" ? ` exit ${c.containerExitStatus}` : ""),
  `${c.allocatedMB} MB`, c.allocatedVCores, c.priority, fmtTime(c.startedTime),
  h("a", { href: logs(c.nodeId, c.containerId) }, "logs")]), "No containers");
  const final = ["FINISHED", "FAILED", "KILLED"].includes(app.state);
  document.getElementById("pending-reason").textContent = final ? "" : app.pendingReason || "";
  fill("asks-body", app.resourceRequests.map((r) => [r.priority, r.resourceName, `${r.capability.memory} MB`,
    r.capability.vCores, r.numContainers]), "Nothing pending");
  document.getElementById("diagnostics").textContent = app.diagnostics || "–";
}

const PAGES = {
  cluster: () => Promise.all([refreshMetrics(), refreshNodes(), refreshApps()]),
  apps: refreshApps,
  nodes: refreshNodes,
  scheduler: refreshScheduler,
  app: refreshApp,
};

let inflight = false;
async function tick() {
  if (inflight || !PAGES[page]) return;
  inflight = true;
  const live = document.getElementById("live");
  try {
    await PAGES[page]();
    live.textContent = "live";
    live.classList.remove("stale");
  } catch (e) {
    live.textContent = `not answering: ${e.message}`;
    live.classList.add("stale");
  } finally {
    inflight = false;
  }
}

// Kill, as `yarn application -kill` does it (PUT .../state). Two clicks rather than confirm(): a page that
// opens dialogs is one users learn to click through.
const killButton = document.getElementById("kill-app");
if (killButton) {
  killButton.addEventListener("click", async () => {
    if (killButton.dataset.armed !== "yes") {
      killButton.dataset.armed = "yes";
      killButton.textContent = "Click again to kill";
      return;
    }
    killButton.disabled = true;
    killButton.textContent = "Killing…";
    const r = await fetch(`${API}/apps/${encodeURIComponent(appId)}/state`, {
      method: "PUT", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ state: "KILLED" }),
    });
    if (!r.ok) killButton.textContent = `Kill refused: HTTP ${r.status}`;
    tick();
  });
}

setInterval(tick, REFRESH_MS);
tick();
