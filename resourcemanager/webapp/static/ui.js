// miniyarn RM UI: keeps a page current by fetching it again every second and swapping in its live parts
// (the elements marked data-live, by id). The server renders every page, escaped, from one set of
// templates; this script builds no markup of its own, so there is one page to keep in step, not two.
"use strict";

const REFRESH_MS = 1000;
const API = "/ws/v1/cluster";
const appId = document.body.dataset.appId;

async function fresh() {
  const here = location.pathname + location.search;
  const r = await fetch(here, { headers: { Accept: "text/html" }, cache: "no-store" });
  // The login cookie expired (or was cleared in another tab): the RM answers a page load with its login
  // page; go there, then back here.
  const at = new URL(r.url, location.href);
  if (r.status === 401 || at.pathname === "/login") {
    location.assign(`/login?next=${encodeURIComponent(here)}`);
    throw new Error("logged out");
  }
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return new DOMParser().parseFromString(await r.text(), "text/html");
}

// Times of day come from the server in its own zone; show them in the browser's (text only).
function localTimes() {
  for (const el of document.querySelectorAll("time[data-ms]")) {
    el.textContent = new Date(Number(el.dataset.ms)).toLocaleTimeString([], { hour12: false });
  }
}

function swap(doc) {
  for (const el of document.querySelectorAll("[data-live][id]")) {
    const next = doc.getElementById(el.id);
    if (next) el.replaceWith(document.adoptNode(next));
  }
  // An application that has ended has no Kill button any more.
  const kill = document.getElementById("kill-app");
  if (kill && !doc.getElementById("kill-app") && kill.dataset.armed !== "busy") kill.remove();
  localTimes();
}

let inflight = false;
async function tick() {
  if (inflight) return;
  inflight = true;
  const live = document.getElementById("live");
  try {
    swap(await fresh());
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
    killButton.dataset.armed = "busy";
    killButton.disabled = true;
    killButton.textContent = "Killing…";
    const r = await fetch(`${API}/apps/${encodeURIComponent(appId)}/state`, {
      method: "PUT", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ state: "KILLED" }),
    });
    killButton.dataset.armed = "";
    if (!r.ok) killButton.textContent = `Kill refused: HTTP ${r.status}`;
    tick();
  });
}

localTimes();
setInterval(tick, REFRESH_MS);
