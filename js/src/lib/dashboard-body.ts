// The body of the feature dashboard: the left column (stats, activation histogram with its log toggle,
// logit effects, nearest features) and the right column (top contexts, collapsible activation
// intervals), with the hover tooltips over tokens, histogram bins and logits. Nearest-feature chips
// are plain buttons (data-feature); the view handles their clicks.

import { createLegend, toCss } from "./colour";
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
  type AblationResult,
  effectColour,
  effectScale,
  formatEffect,
  type LiveControls,
  probeExample,
} from "./dashboard-live";
import {
  coactiveChip,
  contextRow,
  type HistogramPart,
  histogram,
  logitHistogramOptions,
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
  /** Redraw what the live controls hold (the text box's result, the ablation underlines). */
  updateLive(): void;
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

function logitsSection(p: DashboardPage, palette: Palette, logitHist: (part: HistogramPart) => void): HTMLElement {
  const logits = section("logits", "Logit effect");
  if (p.logitHistogram.counts.length) {
    const part = histogram(p.logitHistogram, palette, false, Number.NaN, logitHistogramOptions(palette));
    part.el.dataset.kind = "logit";
    part.el.classList.add("fv-logit-hist");
    logitHist(part);
    logits.appendChild(part.el);
  }
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

/** Features firing on the same tokens (Jaccard index of their active tokens), or why there are none. */
function coactiveSection(p: DashboardPage, available: (id: number) => boolean): HTMLElement {
  const sec = section("coactive", "Fire together (Jaccard)");
  const chips = h("div", { className: "fv-dash-chips" });
  for (const c of p.coactive ?? []) chips.appendChild(coactiveChip(c, available(c.feature)));
  if (!p.coactive)
    chips.appendChild(h("div", { className: "fv-dash-none", text: "not counted for this feature (coactivation=)" }));
  else if (p.coactive.length === 0) chips.appendChild(h("div", { className: "fv-dash-none", text: "–" }));
  sec.appendChild(chips);
  return sec;
}

function topSection(p: DashboardPage, palette: Palette, tools: HTMLElement | null): HTMLElement {
  const legend = createLegend();
  legend.update(palette.scale);
  const top = section("top", "Top activations", tools ? [tools, legend.el] : [legend.el]);
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
function exampleFor(page: DashboardPage, ctx: Element, probe: ReturnType<LiveControls["probe"]>): Example | null {
  const src = ctx.getAttribute("data-source") ?? "";
  const i = Number(ctx.getAttribute("data-example"));
  if (src === "top") return page.top[i] ?? null;
  if (src === "probe") return probe?.tokens.length ? probeExample(probe) : null;
  const m = /^interval-(\d+)$/.exec(src);
  if (m) return page.intervals[Number(m[1])]?.examples[i] ?? null;
  return null;
}

/** Underline each top-context token by its ablation effect (data-effect holds it for the tooltip). */
function decorateEffects(right: HTMLElement, ablation: AblationResult | null, palette: Palette): void {
  const scale = ablation ? effectScale(ablation.effects) : 0;
  for (const ctx of right.querySelectorAll<HTMLElement>('.fv-context[data-source="top"]')) {
    const effects = ablation?.effects[Number(ctx.getAttribute("data-example"))] ?? null;
    for (const tok of ctx.querySelectorAll<HTMLElement>(".fv-token")) {
      const e = effects?.[Number(tok.getAttribute("data-index"))];
      if (e === undefined || e === null) {
        tok.removeAttribute("data-effect");
        tok.style.borderBottomColor = "";
      } else {
        tok.setAttribute("data-effect", String(e));
        tok.style.borderBottomColor = e === 0 ? "transparent" : toCss(effectColour(e, scale, palette));
      }
    }
  }
}

export function createDashboardBody(
  scope: Scope,
  host: HTMLElement,
  tooltip: Tooltip,
  live: LiveControls | null = null,
): DashboardBody {
  const left = h("div", { className: "fv-dash-left" });
  const right = h("div", { className: "fv-dash-right" });
  const probeSection = live ? section("probe", "Test a text") : null;
  const probeResult = h("div", { className: "fv-probe-result" });
  if (probeSection && live) probeSection.append(live.probeEl, probeResult);
  const el = h("div", { className: "fv-dash-body" }, [left, right]);
  let page: DashboardPage | null = null;
  let pal: Palette | null = null;
  let logY = false;
  let hist: HistogramPart | null = null;
  let logitHist: HistogramPart | null = null;
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
    const negative = p.histogram.edges.length > 0 && p.histogram.edges[0] < 0;
    const histSec = section("histogram", negative ? "Activations ≠ 0" : "Activations > 0", [logBtn]);
    histHolder = h("div");
    histSec.appendChild(histHolder);
    left.appendChild(histSec);
    renderHistogram();
    logitHist = null;
    left.append(
      logitsSection(p, palette, (part) => {
        logitHist = part;
      }),
      nearestSection(p, available),
      coactiveSection(p, available),
    );
  }

  function tooltipRowsFor(target: EventTarget | null): TooltipRow[] | null {
    if (!page) return null;
    const tok = closest(target, ".fv-token");
    if (tok) {
      const ctx = closest(tok, ".fv-context");
      const ex = ctx ? exampleFor(page, ctx, live?.probe() ?? null) : null;
      const i = Number(tok.getAttribute("data-index"));
      if (!ex || !(i >= 0 && i < ex.tokens.length)) return null;
      const rows = tokenTooltipRows(ex, i, scaleMax(page));
      const effect = tok.getAttribute("data-effect");
      if (effect !== null) rows.push(["zeroed here", `next-token loss ${formatEffect(Number(effect))}`]);
      return rows;
    }
    const bin = closest(target, ".fv-hist-hit, .fv-hist-bar");
    const part = bin && closest(bin, ".fv-hist")?.getAttribute("data-kind") === "logit" ? logitHist : hist;
    if (bin && part) return part.tooltipFor(Number(bin.getAttribute("data-bin")));
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

  function updateLive(): void {
    if (!live || !page || !pal) return;
    clear(probeResult);
    const probe = live.probe();
    if (probe && !probe.error && probe.tokens.length) {
      probeResult.appendChild(contextRow(probeExample(probe), pal, "probe", 0));
    }
    decorateEffects(right, live.ablation(), pal);
  }

  return {
    el,
    update(p, palette, available) {
      page = p;
      pal = palette;
      renderLeft(p, palette, available);
      clear(right);
      if (probeSection) right.appendChild(probeSection);
      right.appendChild(topSection(p, palette, live?.ablationEl ?? null));
      if (p.intervals.length) right.appendChild(intervalsSection(p, palette, openIntervals));
      updateLive();
    },
    updateLive,
    clear() {
      page = null;
      pal = null;
      hist = null;
      logitHist = null;
      histHolder = null;
      clear(left);
      clear(right);
    },
  };
}
