// The text panels: key figures, the selected intersection, alerts, and the data hub.

/** Creates an element with text and an optional class. */
export function h(tag, text = "", className = "") {
  const node = document.createElement(tag);
  if (text !== "") node.textContent = text;
  if (className) node.className = className;
  return node;
}

export const clock = (s) => {
  const t = Math.floor(s);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(t / 3600))}:${pad(Math.floor((t % 3600) / 60))}:${pad(t % 60)}`;
};

// Each key figure: how to show it and which direction is better.
const KPIS = {
  running: { label: "Vehicles in the network", unit: "", show: (v) => v.toFixed(0), lowerIsBetter: true },
  avg_speed_mps: { label: "Average speed", unit: " km/h", show: (v) => (v * 3.6).toFixed(1), lowerIsBetter: false },
  avg_travel_time_s: { label: "Average travel time so far", unit: " s", show: (v) => v.toFixed(1), lowerIsBetter: true },
  throughput_per_h: { label: "Throughput", unit: " veh/h", show: (v) => v.toFixed(0), lowerIsBetter: false },
};

export function renderKpis(state) {
  for (const [key, spec] of Object.entries(KPIS)) {
    const box = document.getElementById(`kpi-${key}`);
    const brain = state.brain[key];
    const base = state.baseline[key];
    const value = h("div", Number.isFinite(brain) ? spec.show(brain) + spec.unit : "–", "value");
    value.id = `kpi-brain-${key}`;
    const compare = h("div", `fixed time: ${Number.isFinite(base) ? spec.show(base) + spec.unit : "–"}`, "compare");
    if (Number.isFinite(brain) && Number.isFinite(base) && base !== 0) {
      const change = ((brain - base) / Math.abs(base)) * 100;
      const better = spec.lowerIsBetter ? change < 0 : change > 0;
      const delta = h("span", ` · ${Math.abs(change).toFixed(1)}% ${better ? "better" : "worse"}`, better ? "better" : "worse");
      if (Math.abs(change) < 0.05) delta.className = "";
      compare.appendChild(delta);
    }
    box.replaceChildren(h("div", spec.label, "label"), value, compare);
  }
}

function table(headers, rows, chosen = () => false) {
  const t = h("table");
  const head = h("tr");
  for (const name of headers) head.appendChild(h("th", name));
  t.appendChild(h("thead")).appendChild(head);
  const body = t.appendChild(h("tbody"));
  for (const row of rows) {
    const tr = body.appendChild(h("tr", "", chosen(row) ? "chosen" : ""));
    for (const cell of row) tr.appendChild(h("td", String(cell), typeof cell === "number" ? "num" : ""));
  }
  return t;
}

const number = (v) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toFixed(1)) : v);

function decisionInputs(decision) {
  const inputs = decision.inputs || [];
  if (inputs.length === 0) return null;
  const keys = Object.keys(inputs[0]);
  const rows = inputs.map((row) => keys.map((k) => number(row[k])));
  return table(keys.map((k) => k.replace(/_/g, " ")), rows,
    (row) => keys.includes("phase") && row[keys.indexOf("phase")] === decision.chosen_phase);
}

/** The selected intersection: phase, greens, queues per approach, the last decision and why. */
export function renderDetail(detail, network) {
  const box = document.getElementById("detail");
  const node = network.intersections.find((n) => n.id === detail.id);
  const parts = [h("h2", detail.id)];
  parts[0].id = "detail-title";

  const facts = h("div", "", "detail-grid");
  const greens = (detail.green || [])
    .map((i) => node?.movements[i])
    .filter((m) => m && m.turn !== "right")
    .map((m) => `${m.from_road} → ${m.to_road} (${m.turn})`);
  facts.append(h("span", "Showing", "muted"), h("span", detail.transition ? "transition (all red but right turns)" : `phase ${detail.phase}`));
  facts.append(h("span", "Green", "muted"), h("span", greens.length ? greens.join("; ") : "right turns only"));
  parts.push(facts);

  const d = detail.decision;
  if (d) {
    const reason = h("p", d.reason, "reason");
    parts.push(reason, h("p", `Decided at ${clock(d.time_s)} by rule “${d.rule}”, chose phase ${d.chosen_phase}.`, "muted small"));
    const inputs = decisionInputs(d);
    if (inputs) parts.push(inputs);
  } else {
    parts.push(h("p", "No decision yet: the brain has not changed this signal since the start.", "reason"));
  }

  const approaches = (detail.approaches || []).map((a) => [a.road, a.vehicles, a.halted]);
  if (approaches.length) {
    parts.push(h("h2", "Queues per approach"), table(["incoming road", "vehicles", "halted"], approaches));
  }
  const recent = (detail.recent || []).slice(1, 6);
  if (recent.length) {
    const list = h("ol", "", "recent");
    for (const r of recent) list.appendChild(h("li", `${clock(r.time_s)} — ${r.reason}`));
    parts.push(h("h2", "Earlier decisions"), list);
  }
  box.replaceChildren(...parts);
}

export function renderDetailError(id, message) {
  document.getElementById("detail").replaceChildren(h("h2", id), h("p", message, "muted"));
}

export function renderAlerts(alerts) {
  const list = document.getElementById("alerts");
  document.getElementById("alerts-count").textContent = String(alerts.length);
  if (alerts.length === 0) {
    list.replaceChildren(h("li", "No alerts.", "empty"));
    return;
  }
  list.replaceChildren(...alerts.slice(0, 50).map((a) => {
    const li = h("li", "", a.kind);
    li.append(h("span", a.kind, "kind"), h("span", ` · ${a.severity} · ${clock(a.time_s)} · ${a.road}`, "muted"),
      h("div", a.message));
    return li;
  }));
}

export function renderHub(hub) {
  const dl = document.getElementById("hub");
  const rows = Object.entries(hub.entities_by_type).sort();
  rows.push(["Subscriptions", hub.subscriptions],
    ["Requests per second", hub.requests_per_s.toFixed(1)],
    ["Requests in total", hub.requests_total],
    ["Last publish", `${hub.publish_ms.toFixed(1)} ms`]);
  dl.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", k), h("dd", String(v))]));
}
