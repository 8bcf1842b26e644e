// The body of the feature dashboard: the left column (stats, activation histogram with its log toggle,
// logit effects, nearest features) and the right column (top contexts, collapsible activation
// intervals), with the hover tooltips over tokens, histogram bins and logits. Nearest-feature chips
// are plain buttons (data-feature); the view handles their clicks.

import { createLegend } from "./colour";
import {
  type DashboardPage,
  type Example,
  formatCount,
  formatDensity,
  intervalLabel,
  oneInN,
  scaleMax,
} from "./dashboard-data";
import { decoderNormsSection } from "./dashboard-decoder-norms";
import {
  contextRow,
  type HistogramPart,
  histogram,
  logitTable,
  logitTooltipRows,
  nearestChip,
  type Palette,
  tokenTooltipRows,
} from "./dashboard-parts";
import { clear, closestIn, h } from "./dom";
import { formatValue } from "./format";
import { hoverTooltips, type Tooltip, type TooltipRow } from "./tooltip";
import type { Scope } from "./view";

export interface DashboardBody {
  readonly el: HTMLElement;
  /** Show a page; `available(id)` says whether a nearest feature can be navigated to. */
  update(page: DashboardPage, palette: Palette, available: (id: number) => boolean): void;
  /** Empty both columns (no page). */
  clear(): void;
}

function section(name: string, heading: string, extra: Node[] = []): HTMLElement {
  return h("section", { className: `fv-dash-section fv-dash-${name}` }, [
    h("div", { className: "fv-dash-h" }, [h("span", { text: heading }), ...extra]),
  ]);
}

function stat(label: string, value: string, sub = "", block = false): Node[] {
  const v = h("span", { className: "fv-dash-stat-value", text: value });
  if (sub)
    v.appendChild(h(block ? "div" : "span", { className: `fv-dash-stat-sub${block ? " fv-block" : ""}`, text: sub }));
  return [h("span", { className: "fv-dash-stat-label", text: label }), v];
}

function statsSection(p: DashboardPage): HTMLElement {
  const stats = section("stats", "Feature");
  const grid = h("div", { className: "fv-dash-stats" });
  const active = p.density * p.nTokens;
  grid.append(
    ...stat("density", formatDensity(p.density), oneInN(p.density, p.nTokens), true),
    ...stat("max act", Number.isNaN(p.max) ? "–" : formatValue(p.max)),
  );
  if (Number.isFinite(p.nTokens)) {
    grid.append(
      ...(Number.isFinite(active)
        ? stat("active", formatCount(active), `of ${formatCount(p.nTokens)} tokens`)
        : stat("tokens", formatCount(p.nTokens))),
    );
  }
  stats.appendChild(grid);
  return stats;
}

function logitsSection(p: DashboardPage, palette: Palette): HTMLElement {
  const logits = section("logits", "Logit effect");
  let scaleAbs = 0;
  for (const e of [...p.logitsTop, ...p.logitsBottom]) scaleAbs = Math.max(scaleAbs, Math.abs(e.value));
  logits.appendChild(
    h("div", { className: "fv-dash-logit-cols" }, [
      logitTable(p.logitsTop, "promotes", "pos", scaleAbs, palette),
      logitTable(p.logitsBottom, "suppresses", "neg", scaleAbs, palette),
    ]),
  );
  return logits;
}

function nearestSection(p: DashboardPage, available: (id: number) => boolean): HTMLElement {
  const nearest = section("nearest", "Nearest features (cosine)");
  const chips = h("div", { className: "fv-dash-chips" });
  for (const n of p.nearest) chips.appendChild(nearestChip(n, available(n.feature)));
  if (p.nearest.length === 0) chips.appendChild(h("div", { className: "fv-dash-none", text: "–" }));
  nearest.appendChild(chips);
  return nearest;
}

function topSection(p: DashboardPage, palette: Palette): HTMLElement {
  const legend = createLegend();
  legend.update(palette.scale);
  const top = section("top", "Top activations", [legend.el]);
  if (p.top.length === 0) {
    const never = p.density === 0 ? "This feature never fired on the tokens seen." : "No top contexts.";
    top.appendChild(h("div", { className: "fv-dash-none", text: never }));
  }
  p.top.forEach((ex, i) => {
    top.appendChild(contextRow(ex, palette, "top", i));
  });
  return top;
}

/** Activation-interval groups; `open[k]` keeps which are open across pages (by position). */
function intervalsSection(p: DashboardPage, palette: Palette, open: boolean[]): HTMLElement {
  const ivs = section("intervals", "Activation intervals (sampled)");
  const max = scaleMax(p);
  p.intervals.forEach((iv, k) => {
    const fraction = Number.isNaN(iv.fraction) ? "" : `${formatValue(iv.fraction * 100)}% of sample`;
    const abs =
      Number.isFinite(iv.low) && Number.isFinite(iv.high) ? `${formatValue(iv.low)}–${formatValue(iv.high)}` : "";
    const meta = [abs, fraction, `${iv.examples.length} shown`].filter(Boolean).join(" · ");
    const summary = h("summary", {}, [
      h("span", { className: "fv-interval-range", text: intervalLabel(iv, max) }),
      h("span", { className: "fv-interval-meta", text: meta }),
    ]);
    const list = h("div", { className: "fv-interval-examples" });
    iv.examples.forEach((ex, i) => {
      list.appendChild(contextRow(ex, palette, `interval-${k}`, i));
    });
    if (iv.examples.length === 0) list.appendChild(h("div", { className: "fv-dash-none", text: "no examples" }));
    const details = h("details", { className: "fv-interval", attrs: { "data-interval": String(k) } }, [summary, list]);
    details.open = open[k] === true;
    details.addEventListener("toggle", () => {
      open[k] = details.open;
    });
    ivs.appendChild(details);
  });
  return ivs;
}

/** The example a .fv-context element shows (data-source "top" or "interval-K", data-example i). */
function exampleFor(page: DashboardPage, ctx: Element): Example | null {
  const src = ctx.getAttribute("data-source") ?? "";
  const i = Number(ctx.getAttribute("data-example"));
  if (src === "top") return page.top[i] ?? null;
  const m = /^interval-(\d+)$/.exec(src);
  if (m) return page.intervals[Number(m[1])]?.examples[i] ?? null;
  return null;
}

export function createDashboardBody(scope: Scope, host: HTMLElement, tooltip: Tooltip): DashboardBody {
  const left = h("div", { className: "fv-dash-left" });
  const right = h("div", { className: "fv-dash-right" });
  const el = h("div", { className: "fv-dash-body" }, [left, right]);
  let page: DashboardPage | null = null;
  let pal: Palette | null = null;
  let logY = false;
  let hist: HistogramPart | null = null;
  let histHolder: HTMLElement | null = null;
  /** Which interval groups are open, by position (the highest is open by default). */
  const openIntervals: boolean[] = [true];
  const closest = (target: EventTarget | null, selector: string) => closestIn(el, target, selector);

  function renderHistogram(): void {
    if (!histHolder || !page || !pal) return;
    clear(histHolder);
    hist = histogram(page.histogram, pal, logY, page.max);
    histHolder.appendChild(hist.el);
  }

  function renderLeft(p: DashboardPage, palette: Palette, available: (id: number) => boolean): void {
    clear(left);
    left.appendChild(statsSection(p));
    const norms = decoderNormsSection(p.decoderNorms);
    if (norms) left.appendChild(norms);
    const logBtn = h("button", {
      className: "fv-dash-logy",
      text: "log",
      attrs: { type: "button", "aria-pressed": String(logY) },
    });
    logBtn.title = "log-scale the counts";
    const histSec = section("histogram", "Activations > 0", [logBtn]);
    histHolder = h("div");
    histSec.appendChild(histHolder);
    left.appendChild(histSec);
    renderHistogram();
    left.append(logitsSection(p, palette), nearestSection(p, available));
  }

  function tooltipRowsFor(target: EventTarget | null): TooltipRow[] | null {
    if (!page) return null;
    const tok = closest(target, ".fv-token");
    if (tok) {
      const ctx = closest(tok, ".fv-context");
      const ex = ctx ? exampleFor(page, ctx) : null;
      const i = Number(tok.getAttribute("data-index"));
      return ex && i >= 0 && i < ex.tokens.length ? tokenTooltipRows(ex, i, scaleMax(page)) : null;
    }
    const bin = closest(target, ".fv-hist-hit, .fv-hist-bar");
    if (bin && hist) return hist.tooltipFor(Number(bin.getAttribute("data-bin")));
    const logit = closest(target, ".fv-logit");
    if (logit) {
      const kind = logit.getAttribute("data-kind") === "neg" ? "neg" : "pos";
      const entry = (kind === "pos" ? page.logitsTop : page.logitsBottom)[Number(logit.getAttribute("data-index"))];
      return entry ? logitTooltipRows(entry, kind) : null;
    }
    return null;
  }

  hoverTooltips({
    scope,
    within: el,
    host,
    tooltip,
    selector: ".fv-token, .fv-hist-hit, .fv-hist-bar, .fv-logit",
    rows: tooltipRowsFor,
  });
  scope.on<MouseEvent>(el, "click", (e) => {
    const btn = closest(e.target, ".fv-dash-logy");
    if (!btn) return;
    logY = !logY;
    btn.setAttribute("aria-pressed", String(logY));
    tooltip.hide();
    renderHistogram();
  });

  return {
    el,
    update(p, palette, available) {
      page = p;
      pal = palette;
      renderLeft(p, palette, available);
      clear(right);
      right.appendChild(topSection(p, palette));
      if (p.intervals.length) right.appendChild(intervalsSection(p, palette, openIntervals));
    },
    clear() {
      page = null;
      pal = null;
      hist = null;
      histHolder = null;
      clear(left);
      clear(right);
    },
  };
}
