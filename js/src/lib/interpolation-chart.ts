// The next-token probability chart of the interpolation view: a small SVG
// line chart, one line per token (probability against steering value), a
// vertical cursor at the current value, the unsteered probabilities as hollow
// dots at value 0, and a legend sorted by the probability at the current value
// (colours stay with their tokens). build() runs when the data changes; the
// cheap setIndex() runs on every slider move. Text goes through textContent only.

import { groupColour, toCss } from "./colour";
import { clear, h, svg } from "./dom";
import { formatValue } from "./format";
import { formatProb, type InterpolationData, MAX_LINES, tokenOrder } from "./interpolation-data";
import { nearestIndex } from "./numbers";
import { tokenLabel, tokenTooltip } from "./tokens";

export const CHART_WIDTH = 420;
export const CHART_HEIGHT = 160;
const M = { left: 42, right: 12, top: 10, bottom: 28 };

/** Smallest "nice" number (1, 2, 2.5, 5 × 10^k) >= x, capped at 1 (probabilities). */
export function niceCeil(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const k = Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const v = m * 10 ** k;
    if (v >= x * (1 - 1e-9)) return Math.min(1, v);
  }
  return 1;
}

export interface Chart {
  readonly el: HTMLElement;
  /** Rebuild for new data (lines, axes, legend). */
  build(d: InterpolationData | null): void;
  /** Move the cursor and current-value dots, legend values and legend order. */
  setIndex(i: number): void;
  destroy(): void;
}

interface Scales {
  xMin: number;
  xMax: number;
  yMax: number;
}

const xOf = (sc: Scales, v: number) =>
  M.left + ((v - sc.xMin) / (sc.xMax - sc.xMin)) * (CHART_WIDTH - M.left - M.right);
const yOf = (sc: Scales, p: number) =>
  CHART_HEIGHT - M.bottom - (Math.min(p, sc.yMax) / sc.yMax) * (CHART_HEIGHT - M.top - M.bottom);

/** Steering values on x (padded when they are all one value), probabilities of the first `lines` tokens on y. */
function scalesOf(d: InterpolationData, lines: number): Scales {
  const finite = d.values.filter((v) => Number.isFinite(v));
  let xMin = finite.length ? Math.min(...finite) : 0;
  let xMax = finite.length ? Math.max(...finite) : 1;
  if (!(xMax > xMin)) {
    const pad = Math.abs(xMin) > 0 ? Math.abs(xMin) * 0.5 : 1;
    xMin -= pad;
    xMax += pad;
  }
  let pMax = 0;
  for (let u = 0; u < lines; u++) {
    for (let s = 0; s < d.values.length; s++) if (d.probs[s][u] > pMax) pMax = d.probs[s][u];
    if (d.baselineProbs[u] > pMax) pMax = d.baselineProbs[u];
  }
  return { xMin, xMax, yMax: niceCeil(pMax) };
}

/** Horizontal grid lines and probability ticks, the axes, value ticks (and 0), the x label. */
function drawAxes(gridG: SVGGElement, axesG: SVGGElement, sc: Scales): void {
  const { xMin, xMax, yMax } = sc;
  const bottom = CHART_HEIGHT - M.bottom;
  for (const f of [0, 0.5, 1]) {
    const py = yOf(sc, yMax * f);
    gridG.appendChild(
      svg("line", { class: f === 0 ? "fv-axis" : "fv-grid", x1: M.left, x2: CHART_WIDTH - M.right, y1: py, y2: py }),
    );
    const t = svg("text", { class: "fv-tick", x: M.left - 4, y: py + 3, "text-anchor": "end" });
    t.textContent = formatProb(yMax * f);
    axesG.appendChild(t);
  }
  axesG.appendChild(svg("line", { class: "fv-axis", x1: M.left, x2: M.left, y1: M.top, y2: bottom }));
  const xTicks = [xMin, xMax];
  if (xMin < 0 && xMax > 0) xTicks.push(0);
  for (const v of xTicks) {
    const px = xOf(sc, v);
    axesG.appendChild(svg("line", { class: "fv-axis", x1: px, x2: px, y1: bottom, y2: bottom + 3 }));
    const anchor = v === xMin ? "start" : v === xMax ? "end" : "middle";
    const t = svg("text", { class: "fv-tick", x: px, y: bottom + 13, "text-anchor": anchor });
    t.textContent = formatValue(v);
    axesG.appendChild(t);
  }
  if (xMin < 0 && xMax > 0) {
    gridG.appendChild(svg("line", { class: "fv-zero", x1: xOf(sc, 0), x2: xOf(sc, 0), y1: M.top, y2: bottom }));
  }
  const xl = svg("text", {
    class: "fv-tick fv-axis-label",
    x: (M.left + CHART_WIDTH - M.right) / 2,
    y: bottom + 24,
    "text-anchor": "middle",
  });
  xl.textContent = "steering value";
  axesG.appendChild(xl);
}

/** Token u's line (gaps where a value or probability is not finite). */
function seriesOf(d: InterpolationData, sc: Scales, u: number, colour: string): SVGGElement {
  let path = "";
  let pen = false;
  for (let s = 0; s < d.values.length; s++) {
    const v = d.values[s];
    const p = d.probs[s][u];
    if (!Number.isFinite(v) || !Number.isFinite(p)) {
      pen = false;
      continue;
    }
    path += `${pen ? "L" : "M"}${xOf(sc, v).toFixed(1)} ${yOf(sc, p).toFixed(1)}`;
    pen = true;
  }
  const g = svg("g", { class: "fv-series", "data-token": u });
  g.appendChild(
    svg("path", { class: "fv-line", d: path || "M0 0", stroke: colour, ...(path ? {} : { visibility: "hidden" }) }),
  );
  return g;
}

/** Token u's legend entry; `prob` shows its probability at the current value. */
function legendItem(d: InterpolationData, u: number, colour: string, prob: HTMLElement): HTMLElement {
  const item = h(
    "div",
    {
      className: "fv-chart-item",
      title: `${tokenTooltip(d.tokenStrings[u])}\nunsteered: ${formatProb(d.baselineProbs[u])}`,
      attrs: { "data-token": String(u) },
    },
    [
      h("span", { className: "fv-chart-swatch" }),
      h("span", { className: "fv-chart-token", text: tokenLabel(d.tokenStrings[u], 16) }),
      prob,
    ],
  );
  (item.firstChild as HTMLElement).style.background = colour;
  return item;
}

/** onPick: called with the index nearest to a click on the plot. */
export function createChart(onPick: (index: number) => void): Chart {
  const root = svg("svg", {
    class: "fv-chart-svg",
    viewBox: `0 0 ${CHART_WIDTH} ${CHART_HEIGHT}`,
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    role: "img",
  });
  const titleEl = svg("title");
  const gridG = svg("g", { class: "fv-chart-grid" });
  const axesG = svg("g", { class: "fv-chart-axes" });
  const linesG = svg("g", { class: "fv-chart-lines" });
  const baseG = svg("g", { class: "fv-chart-baseline" });
  const cursor = svg("line", { class: "fv-cursor", y1: M.top, y2: CHART_HEIGHT - M.bottom });
  const dotsG = svg("g", { class: "fv-chart-current" });
  const hit = svg("rect", {
    class: "fv-chart-hit",
    x: M.left,
    y: M.top,
    width: CHART_WIDTH - M.left - M.right,
    height: CHART_HEIGHT - M.top - M.bottom,
    fill: "transparent",
  });
  root.append(titleEl, gridG, axesG, linesG, baseG, cursor, dotsG, hit);

  const heading = h("div", { className: "fv-chart-title", text: "next-token probability after the prompt" });
  const legend = h("div", { className: "fv-chart-legend" });
  const more = h("div", { className: "fv-chart-more" });
  const empty = h("div", { className: "fv-chart-empty" });
  const plot = h("div", { className: "fv-chart-plot" }, [heading]);
  plot.appendChild(root);
  const el = h("div", { className: "fv-interp-chart" }, [
    plot,
    h("div", { className: "fv-chart-side" }, [legend, more]),
    empty,
  ]);

  let data: InterpolationData | null = null;
  let lines = 0;
  let sc: Scales = { xMin: 0, xMax: 1, yMax: 1 };
  let series: SVGGElement[] = [];
  let curDots: SVGCircleElement[] = [];
  let legendProbs: HTMLElement[] = [];
  let items: HTMLElement[] = [];

  const x = (v: number) => xOf(sc, v);
  const y = (p: number) => yOf(sc, p);

  function highlight(u: number): void {
    root.classList.toggle("fv-hl-on", u >= 0);
    series.forEach((g, k) => {
      g.classList.toggle("fv-hl", k === u);
    });
    items.forEach((it, k) => {
      it.classList.toggle("fv-hl", k === u);
    });
  }

  function build(d: InterpolationData | null): void {
    data = d;
    for (const g of [gridG, axesG, linesG, baseG, dotsG]) clear(g);
    clear(legend);
    series = [];
    curDots = [];
    legendProbs = [];
    items = [];
    more.textContent = "";
    const S = d ? d.values.length : 0;
    lines = d ? Math.min(d.tokenStrings.length, MAX_LINES) : 0;
    if (!d || S === 0 || lines === 0) {
      plot.style.display = "none";
      empty.textContent = d && S > 0 ? "No next-token probabilities to show." : "";
      empty.style.display = empty.textContent ? "" : "none";
      el.dataset.lines = "0";
      return;
    }
    plot.style.display = "";
    empty.style.display = "none";
    empty.textContent = "";
    el.dataset.lines = String(lines);

    sc = scalesOf(d, lines);
    drawAxes(gridG, axesG, sc);
    const showBaseline = sc.xMin <= 0 && sc.xMax >= 0;
    for (let u = 0; u < lines; u++) {
      const colour = toCss(groupColour(u));
      const g = seriesOf(d, sc, u, colour);
      linesG.appendChild(g);
      series.push(g);
      const bp = d.baselineProbs[u];
      if (showBaseline && Number.isFinite(bp)) {
        baseG.appendChild(
          svg("circle", { class: "fv-base-dot", cx: x(0), cy: y(bp), r: 3.2, stroke: colour, "data-token": u }),
        );
      }
      const dot = svg("circle", { class: "fv-cur-dot", r: 3, fill: colour, "data-token": u });
      dotsG.appendChild(dot);
      curDots.push(dot);

      // Legend entry.
      const prob = h("span", { className: "fv-chart-prob" });
      const item = legendItem(d, u, colour, prob);
      item.addEventListener("mouseenter", () => highlight(u));
      item.addEventListener("mouseleave", () => highlight(-1));
      legend.appendChild(item);
      legendProbs.push(prob);
      items.push(item);
    }
    const hidden = d.tokenStrings.length - lines;
    if (hidden > 0) more.textContent = `+${hidden} more token${hidden === 1 ? "" : "s"} not drawn`;
    if (showBaseline) {
      more.textContent = `${more.textContent ? `${more.textContent} · ` : ""}○ unsteered at 0`;
    }
    titleEl.textContent = `Next-token probabilities of ${lines} tokens against the steering value`;
  }

  function setIndex(i: number): void {
    const d = data;
    if (!d || lines === 0 || i < 0 || i >= d.values.length) return;
    const v = d.values[i];
    const ok = Number.isFinite(v);
    cursor.setAttribute("visibility", ok ? "visible" : "hidden");
    if (ok) {
      const px = x(v).toFixed(1);
      cursor.setAttribute("x1", px);
      cursor.setAttribute("x2", px);
    }
    for (let u = 0; u < lines; u++) {
      const p = d.probs[i][u];
      const dot = curDots[u];
      if (ok && Number.isFinite(p)) {
        dot.setAttribute("cx", x(v).toFixed(1));
        dot.setAttribute("cy", y(p).toFixed(1));
        dot.setAttribute("visibility", "visible");
      } else {
        dot.setAttribute("visibility", "hidden");
      }
      legendProbs[u].textContent = formatProb(p);
    }
    const order = tokenOrder(d.probs[i], lines);
    if (order.some((u, k) => legend.children[k] !== items[u])) legend.append(...order.map((u) => items[u]));
  }

  const onClick = (e: MouseEvent) => {
    const d = data;
    if (!d || lines === 0) return;
    const rect = root.getBoundingClientRect();
    if (!(rect.width > 0)) return;
    const px = ((e.clientX - rect.left) / rect.width) * CHART_WIDTH;
    const v = sc.xMin + ((px - M.left) / (CHART_WIDTH - M.left - M.right)) * (sc.xMax - sc.xMin);
    const i = nearestIndex(d.values, v);
    if (i >= 0) onPick(i);
  };
  hit.addEventListener("click", onClick);

  return {
    el,
    build,
    setIndex,
    destroy() {
      hit.removeEventListener("click", onClick);
      el.remove();
    },
  };
}
