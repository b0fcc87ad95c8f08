// A small two-series line chart (brain against baseline) drawn as SVG in pixel coordinates.

const SVG = "http://www.w3.org/2000/svg";
const MARGIN = { left: 44, right: 8, top: 8, bottom: 20 };

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  parent.appendChild(node);
  return node;
}

function label(parent, x, y, text, anchor) {
  el("text", { x, y, "text-anchor": anchor }, parent).textContent = text;
}

const clock = (s) => `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}`;

/** Draws `samples[i].brain[key]` and `samples[i].baseline[key]` against `time_s`. */
export function drawChart(svg, samples, key) {
  const width = Math.max(svg.clientWidth, 200);
  const height = Math.max(svg.clientHeight, 100);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.textContent = "";
  if (samples.length < 2) {
    label(svg, width / 2, height / 2, "collecting data…", "middle");
    return;
  }
  const t0 = samples[0].time_s;
  const t1 = samples[samples.length - 1].time_s;
  const values = samples.flatMap((s) => [s.brain[key], s.baseline[key]]).filter(Number.isFinite);
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values, lo + 1) * 1.05;
  const x = (t) => MARGIN.left + ((t - t0) / (t1 - t0 || 1)) * (width - MARGIN.left - MARGIN.right);
  const y = (v) => height - MARGIN.bottom - ((v - lo) / (hi - lo)) * (height - MARGIN.top - MARGIN.bottom);

  el("line", { class: "axis", x1: MARGIN.left, x2: width - MARGIN.right, y1: y(lo), y2: y(lo) }, svg);
  el("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: y(lo), y2: y(hi) }, svg);
  label(svg, MARGIN.left - 4, y(hi) + 10, Math.round(hi).toString(), "end");
  label(svg, MARGIN.left - 4, y(lo), Math.round(lo).toString(), "end");
  label(svg, MARGIN.left, height - 4, clock(t0), "start");
  label(svg, width - MARGIN.right, height - 4, clock(t1), "end");

  for (const series of ["baseline", "brain"]) {
    const pts = samples
      .filter((s) => Number.isFinite(s[series][key]))
      .map((s) => `${x(s.time_s).toFixed(1)},${y(s[series][key]).toFixed(1)}`);
    el("polyline", { class: series, points: pts.join(" ") }, svg);
  }
}
