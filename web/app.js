// Citybrain cockpit: loads the network once, then follows the live stream of snapshots.
// Everything shown comes from the JSON API (/api/...), documented in the README.

import { createMap } from "./map.js";
import { drawChart } from "./chart.js";
import { clock, renderAlerts, renderDetail, renderDetailError, renderHub, renderKpis } from "./panels.js";

const MAX_SAMPLES = 720;
const view = { network: null, map: null, samples: [], selected: null, lastState: null };

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${path}: HTTP ${response.status}`);
  return body;
}

function drawCharts() {
  drawChart(document.getElementById("chart-att"), view.samples, "avg_travel_time_s");
  drawChart(document.getElementById("chart-running"), view.samples, "running");
}

function showState(state) {
  view.lastState = state;
  document.getElementById("clock").textContent = clock(state.time_s);
  document.getElementById("hour").textContent = `hour ${state.hour} · ×${state.speed} real time`;
  renderKpis(state);
  view.map.update(state);
  document.body.dataset.ready = "1";
}

async function showDetail() {
  if (!view.selected) return;
  const id = view.selected;
  try {
    const detail = await getJson(`/api/intersections/${encodeURIComponent(id)}`);
    if (view.selected === id) renderDetail(detail, view.network);
  } catch (err) {
    renderDetailError(id, err.message);
  }
}

function select(id) {
  view.selected = id;
  view.map.select(id);
  history.replaceState(null, "", `#${id}`);
  showDetail();
}

async function refreshSide() {
  try {
    const [alerts, hub] = await Promise.all([getJson("/api/alerts"), getJson("/api/hub")]);
    renderAlerts(alerts.alerts);
    renderHub(hub);
  } catch (err) {
    console.warn("side panels:", err.message);
  }
}

function follow() {
  const status = document.getElementById("link-status");
  const stream = new EventSource("/api/stream");
  stream.addEventListener("open", () => {
    status.textContent = "live";
    status.classList.add("live");
  });
  stream.addEventListener("error", () => {
    status.textContent = "reconnecting…";
    status.classList.remove("live");
  });
  stream.addEventListener("state", (event) => {
    const state = JSON.parse(event.data);
    showState(state);
    const last = view.samples[view.samples.length - 1];
    if (!last || last.time_s < state.time_s) {
      view.samples.push({ time_s: state.time_s, brain: state.brain, baseline: state.baseline });
      if (view.samples.length > MAX_SAMPLES) view.samples.shift();
    }
    drawCharts();
    showDetail();
  });
  stream.addEventListener("alert", () => refreshSide());
}

async function start() {
  view.network = await getJson("/api/network");
  document.getElementById("scenario").textContent =
    `${view.network.scenario} · ${view.network.intersections.filter((n) => n.signalised).length} signals · ${view.network.roads.length} roads`;
  view.map = createMap(document.getElementById("map"), view.network, select);
  const [state, hist] = await Promise.all([getJson("/api/state"), getJson("/api/history")]);
  view.samples = hist.samples.slice(-MAX_SAMPLES);
  showState(state);
  drawCharts();
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (view.network.intersections.some((n) => n.id === wanted && n.signalised)) select(wanted);
  refreshSide();
  setInterval(refreshSide, 5000);
  window.addEventListener("resize", drawCharts);
  follow();
}

start().catch((err) => {
  document.getElementById("scenario").textContent = `Cannot load the cockpit: ${err.message}`;
});
