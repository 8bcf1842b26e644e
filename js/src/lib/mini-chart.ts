// A tiny SVG line chart (the small multiples of the checkpoint and vision scrubbers): one or
// more series against the checkpoint axis, a cursor at the current checkpoint
// and a dot per point; clicking a point (or anywhere on the plot) picks the
// nearest checkpoint. build() runs when data changes, setIndex() on every
// checkpoint switch. Text goes through textContent only.

import { type RGB, toCss } from "./colour";
import { clear, h, svg } from "./dom";
import { formatCompact } from "./format";
import { nearestIndex } from "./numbers";

export const MINI_W = 200;
export const MINI_H = 84;
const M = { left: 34, right: 6, top: 6, bottom: 16 };

export interface MiniSeries {
  name: string;
  values: number[];
  colour: RGB;
  /** Dashed line (secondary series). */
  dashed?: boolean;
}

export interface MiniChartData {
  /** x per checkpoint (finite, increasing). */
  x: number[];
  series: MiniSeries[];
  /** Fixed y range (e.g. [0, 1] for cosines); otherwise from the data. */
  yRange?: [number, number];
}

/** Which line is which (issue 18): a short solid or dashed stroke per series, shown when there are several. */
function buildKey(key: HTMLElement, series: readonly MiniSeries[]): void {
  clear(key);
  if (series.length < 2) return;
  for (const s of series) {
    const stroke = svg("line", { x1: 1, x2: 17, y1: 5, y2: 5, stroke: toCss(s.colour), "stroke-width": 2 });
    if (s.dashed) stroke.setAttribute("stroke-dasharray", "3 2");
    const swatch = svg("svg", { width: 18, height: 10, viewBox: "0 0 18 10", "aria-hidden": "true" }, [stroke]);
    key.appendChild(
      h("span", { className: "fv-mini-key-item", attrs: { "data-series": s.name } }, [
        swatch,
        h("span", { text: s.name }),
      ]),
    );
  }
}

export interface MiniChart {
  readonly el: HTMLElement;
  build(d: MiniChartData | null): void;
  setIndex(i: number): void;
  destroy(): void;
}

/**
 * A small multiple. title is shown above the plot; className / attrs go on
 * the wrapper (e.g. fv-metric + data-metric). onPick gets a checkpoint index.
 */
export function createMiniChart(
  title: string,
  className: string,
  attrs: Record<string, string>,
  onPick: (index: number) => void,
): MiniChart {
  const root = svg("svg", {
    class: "fv-mini-svg",
    viewBox: `0 0 ${MINI_W} ${MINI_H}`,
    width: MINI_W,
    height: MINI_H,
    role: "img",
  });
  const titleEl = svg("title");
  const axesG = svg("g", { class: "fv-mini-axes" });
  const hit = svg("rect", {
    class: "fv-mini-hit",
    x: M.left,
    y: M.top,
    width: MINI_W - M.left - M.right,
    height: MINI_H - M.top - M.bottom,
    fill: "transparent",
  });
  const linesG = svg("g", { class: "fv-mini-lines" });
  const cursor = svg("line", { class: "fv-cursor", y1: M.top, y2: MINI_H - M.bottom });
  const pointsG = svg("g", { class: "fv-mini-points" });
  root.append(titleEl, axesG, hit, linesG, cursor, pointsG);

  const heading = h("div", { className: "fv-mini-title", text: title });
  const readout = h("span", { className: "fv-mini-readout" });
  heading.appendChild(readout);
  const empty = h("div", { className: "fv-mini-empty" });
  const key = h("div", { className: "fv-mini-key" });
  const el = h("div", { className: `fv-mini ${className}`, attrs }, [heading, key]);
  el.appendChild(root);
  el.appendChild(empty);

  let data: MiniChartData | null = null;
  let xMin = 0;
  let xMax = 1;
  let yMin = 0;
  let yMax = 1;
  let dots: Array<Array<SVGCircleElement | null>> = [];
  let shown = -1; // index whose points are enlarged
  const px = (v: number) => M.left + ((v - xMin) / (xMax - xMin)) * (MINI_W - M.left - M.right);
  const py = (v: number) => MINI_H - M.bottom - ((v - yMin) / (yMax - yMin)) * (MINI_H - M.top - M.bottom);

  function build(d: MiniChartData | null): void {
    data = d;
    clear(axesG);
    clear(linesG);
    clear(pointsG);
    dots = [];
    shown = -1;
    const n = d ? d.x.length : 0;
    const vals = d ? d.series.flatMap((s) => s.values.filter((v) => Number.isFinite(v))) : [];
    if (!d || n === 0 || vals.length === 0) {
      buildKey(key, []);
      root.style.display = "none";
      empty.textContent = d ? "no finite values" : "";
      el.dataset.points = "0";
      return;
    }
    root.style.display = "";
    empty.textContent = "";
    el.dataset.points = String(n);
    xMin = d.x[0];
    xMax = d.x[n - 1];
    if (!(xMax > xMin)) {
      xMin -= 0.5;
      xMax += 0.5;
    }
    if (d.yRange) [yMin, yMax] = d.yRange;
    else {
      yMin = Math.min(...vals);
      yMax = Math.max(...vals);
    }
    if (!(yMax > yMin)) {
      const pad = Math.abs(yMin) > 0 ? Math.abs(yMin) * 0.1 : 0.5;
      yMin -= pad;
      yMax += pad;
    }
    const bottom = MINI_H - M.bottom;
    axesG.append(
      svg("line", { class: "fv-axis", x1: M.left, x2: MINI_W - M.right, y1: bottom, y2: bottom }),
      svg("line", { class: "fv-axis", x1: M.left, x2: M.left, y1: M.top, y2: bottom }),
    );
    for (const [v, y] of [
      [yMax, M.top + 4],
      [yMin, bottom],
    ] as const) {
      const t = svg("text", { class: "fv-tick", x: M.left - 3, y, "text-anchor": "end" });
      t.textContent = formatCompact(v);
      axesG.appendChild(t);
    }
    for (const [v, anchor] of [
      [d.x[0], "start"],
      [d.x[n - 1], "end"],
    ] as const) {
      const t = svg("text", { class: "fv-tick", x: px(v), y: bottom + 11, "text-anchor": anchor });
      t.textContent = formatCompact(v);
      axesG.appendChild(t);
    }
    d.series.forEach((s, k) => {
      let path = "";
      let pen = false;
      const colour = toCss(s.colour);
      const row: Array<SVGCircleElement | null> = [];
      for (let i = 0; i < n; i++) {
        const v = s.values[i];
        if (!Number.isFinite(v)) {
          pen = false;
          row.push(null);
          continue;
        }
        const x = px(d.x[i]).toFixed(1);
        const y = py(v).toFixed(1);
        path += `${pen ? "L" : "M"}${x} ${y}`;
        pen = true;
        const dot = svg("circle", {
          class: "fv-point",
          cx: x,
          cy: y,
          r: 2,
          fill: colour,
          "data-index": i,
          "data-series": k,
        });
        const tip = svg("title");
        tip.textContent = `${s.name}: ${formatCompact(v)}`;
        dot.appendChild(tip);
        pointsG.appendChild(dot);
        row.push(dot);
      }
      const line = svg("path", { class: "fv-line", d: path || "M0 0", stroke: colour, "data-series": s.name });
      if (s.dashed) line.setAttribute("stroke-dasharray", "3 2");
      linesG.appendChild(line);
      dots.push(row);
    });
    titleEl.textContent = `${title}: ${d.series.map((s) => s.name).join(", ")} per checkpoint`;
    buildKey(key, d.series);
  }

  function setIndex(i: number): void {
    const d = data;
    if (!d || i < 0 || i >= d.x.length) return;
    const x = px(d.x[i]).toFixed(1);
    cursor.setAttribute("x1", x);
    cursor.setAttribute("x2", x);
    el.dataset.index = String(i);
    // Only the previous and the new current point change size.
    for (const row of dots) {
      if (shown >= 0) row[shown]?.setAttribute("r", "2");
      row[i]?.setAttribute("r", "3.5");
    }
    shown = i;
    readout.textContent = d.series
      .map((s) => (d.series.length > 1 ? `${s.name} ${formatCompact(s.values[i])}` : formatCompact(s.values[i])))
      .join(" · ");
  }

  const onClick = (e: MouseEvent) => {
    const d = data;
    if (!d) return;
    const target = e.target as Element | null;
    const idx = target?.getAttribute?.("data-index");
    if (idx != null) {
      onPick(Number(idx));
      return;
    }
    const rect = root.getBoundingClientRect();
    if (!(rect.width > 0)) return;
    const vx =
      xMin + ((((e.clientX - rect.left) / rect.width) * MINI_W - M.left) / (MINI_W - M.left - M.right)) * (xMax - xMin);
    const i = nearestIndex(d.x, vx);
    if (i >= 0) onPick(i);
  };
  root.addEventListener("click", onClick);

  return {
    el,
    build,
    setIndex,
    destroy() {
      root.removeEventListener("click", onClick);
      el.remove();
    },
  };
}
