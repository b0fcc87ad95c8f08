// The road network as SVG, in the roadnet's own metres (y flipped so north is up).
// Roads are drawn on the right of their direction of travel, so both directions stay visible;
// their colour is the congestion index. Signalised intersections show their green movements and
// are buttons (click, or Tab + Enter) that select them.

const SVG = "http://www.w3.org/2000/svg";
const DISC_M = 100; // intersection disc radius
const SIDE_M = 26; // how far a road is drawn right of the centre line
const ROAD_W = 36; // stroke width of a road
const QUEUE_W = 14; // stroke width of the queue bar drawn inside a road
const VEHICLE_M = 7.5; // road length one halted vehicle takes (length + gap)

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

const flip = ([x, y]) => [x, -y];
const sub = (a, b) => [a[0] - b[0], a[1] - b[1]];
const add = (a, b) => [a[0] + b[0], a[1] + b[1]];
const scale = (a, k) => [a[0] * k, a[1] * k];
const unit = (a) => { const n = Math.hypot(a[0], a[1]) || 1; return [a[0] / n, a[1] / n]; };
const rightOf = (u) => [-u[1], u[0]]; // right-hand normal in SVG coordinates (y down)

/** Congestion class 0–3 for an index (travel time over free-flow time). */
export function congestionClass(index) {
  if (index == null || index < 1.2) return 0;
  if (index < 1.6) return 1;
  if (index < 2.5) return 2;
  return 3;
}

/** Road polyline in SVG coordinates, shifted right and trimmed at both intersection discs. */
function roadPath(points) {
  const pts = points.map(flip);
  const n = pts.length;
  const first = unit(sub(pts[1], pts[0]));
  const last = unit(sub(pts[n - 1], pts[n - 2]));
  const out = pts.map((p, i) => {
    const dir = unit(sub(pts[Math.min(i + 1, n - 1)], pts[Math.max(i - 1, 0)]));
    return add(p, scale(rightOf(dir), SIDE_M));
  });
  out[0] = add(out[0], scale(first, DISC_M));
  out[n - 1] = add(out[n - 1], scale(last, -DISC_M));
  return out;
}

const fmt = (p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`;

/** The last `length` metres of a polyline (where a queue stands, back from the stop line). */
function tailOf(points, length) {
  const out = [points[points.length - 1]];
  let left = length;
  for (let i = points.length - 1; i > 0 && left > 0; i--) {
    const seg = Math.hypot(points[i][0] - points[i - 1][0], points[i][1] - points[i - 1][1]);
    if (seg >= left) {
      const k = left / seg;
      out.push(add(points[i], scale(sub(points[i - 1], points[i]), k)));
      break;
    }
    out.push(points[i - 1]);
    left -= seg;
  }
  return out;
}

export function createMap(svg, network, onSelect) {
  const b = network.bounds;
  const pad = 160;
  svg.setAttribute("viewBox",
    `${b.min_x - pad} ${-b.max_y - pad} ${b.max_x - b.min_x + 2 * pad} ${b.max_y - b.min_y + 2 * pad}`);
  svg.textContent = "";
  const roadLayer = el("g", { class: "roads" }, svg);
  const nodeLayer = el("g", { class: "nodes" }, svg);

  const roadsById = new Map(network.roads.map((r) => [r.id, r]));
  const roadEls = new Map();
  for (const road of network.roads) {
    const line = el("polyline", {
      class: "road c0", points: roadPath(road.points).map(fmt).join(" "),
      "stroke-width": ROAD_W, "data-id": road.id,
    }, roadLayer);
    const queue = el("polyline", { class: "queue", "stroke-width": QUEUE_W }, roadLayer);
    const title = el("title", {}, line);
    title.textContent = road.id;
    roadEls.set(road.id, { line, queue, title, path: roadPath(road.points), lanes: Math.max(road.lanes, 1) });
  }

  // End points of each movement's curve, in SVG coordinates.
  const moveEnds = (node, move) => {
    const c = flip([node.x, node.y]);
    const inPts = roadsById.get(move.from_road).points.map(flip);
    const outPts = roadsById.get(move.to_road).points.map(flip);
    const u = unit(sub(inPts[inPts.length - 1], inPts[inPts.length - 2]));
    const v = unit(sub(outPts[1], outPts[0]));
    const from = add(add(c, scale(u, -DISC_M * 0.85)), scale(rightOf(u), SIDE_M));
    const to = add(add(c, scale(v, DISC_M * 0.85)), scale(rightOf(v), SIDE_M));
    return { c, from, to };
  };

  const nodeEls = new Map();
  for (const node of network.intersections) {
    const [x, y] = flip([node.x, node.y]);
    if (!node.signalised) {
      el("rect", { class: "boundary", x: x - 22, y: y - 22, width: 44, height: 44 }, nodeLayer);
      continue;
    }
    const g = el("g", {
      class: "intersection", tabindex: "0", role: "button", "data-id": node.id,
      "aria-label": `Intersection ${node.id}`,
    }, nodeLayer);
    el("circle", { class: "disc", cx: x, cy: y, r: DISC_M }, g);
    const moves = el("g", { class: "moves" }, g);
    const title = el("title", {}, g);
    title.textContent = node.id;
    g.addEventListener("click", () => onSelect(node.id));
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(node.id); }
    });
    nodeEls.set(node.id, { g, moves, title, node, shown: null });
  }

  function showGreens(entry, green) {
    const key = green.join(",");
    if (entry.shown === key) return;
    entry.shown = key;
    entry.moves.textContent = "";
    for (const index of green) {
      const move = entry.node.movements[index];
      if (!move || move.turn === "right") continue; // right turns are always allowed
      const { c, from, to } = moveEnds(entry.node, move);
      el("path", { class: "move", d: `M${fmt(from)} Q${fmt(c)} ${fmt(to)}` }, entry.moves);
    }
  }

  return {
    update(state) {
      for (const r of state.roads) {
        const e = roadEls.get(r.id);
        if (!e) continue;
        e.line.setAttribute("class", `road c${congestionClass(r.congestion)}`);
        const ci = r.congestion == null ? "n/a" : r.congestion.toFixed(2);
        e.title.textContent = `${r.id}: ${r.vehicles} vehicles, ${r.halted} halted, congestion index ${ci}`;
        const queueM = (r.halted * VEHICLE_M) / e.lanes;
        e.queue.setAttribute("points", queueM > 0 ? tailOf(e.path, queueM).map(fmt).join(" ") : "");
      }
      for (const s of state.intersections) {
        const e = nodeEls.get(s.id);
        if (!e) continue;
        e.g.classList.toggle("transition", s.transition);
        const label = s.transition ? "transition" : `phase ${s.phase}`;
        e.g.setAttribute("aria-label", `Intersection ${s.id}, ${label}`);
        e.title.textContent = `${s.id}: ${label}`;
        showGreens(e, s.transition ? [] : s.green);
      }
    },
    select(id) {
      for (const [key, e] of nodeEls) e.g.classList.toggle("selected", key === id);
    },
  };
}
