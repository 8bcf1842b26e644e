// DOM builders for the dashboard's pieces: token contexts, the activation
// histogram (SVG), logit tables and nearest-feature chips. Untrusted text
// (tokens) only ever goes through textContent / setAttribute.

import {
  ACCENT_DARK,
  ACCENT_LIGHT,
  type ColourScale,
  luminance,
  makeScale,
  mix,
  NEG_DARK,
  NEG_LIGHT,
  POS_DARK,
  POS_LIGHT,
  type RGB,
  toCss,
} from "./colour";
import type { CoactiveEntry, Example, Histogram, LogitEntry, NearestEntry } from "./dashboard-data";
import { formatCount } from "./dashboard-data";
import { h, svg } from "./dom";
import { formatValue } from "./format";
import type { Theme } from "./theme";
import { TOOLTIP_MAX_CHARS, tokenLabel, tokenTooltip, truncate, visibleWhitespace } from "./tokens";
import type { TooltipRow } from "./tooltip";

const TOKEN_MAX_CHARS = 32;

export interface Palette {
  theme: Theme;
  scale: ColourScale;
  accent: RGB;
  pos: RGB;
  neg: RGB;
  /** Readable text colour on a given background. */
  textOn(bg: RGB): string;
}

export function makePalette(theme: Theme, vmin: number, vmax: number): Palette {
  const light: RGB = [245, 245, 245];
  const darkText: RGB = [20, 20, 20];
  return {
    theme,
    scale: makeScale({ vmin, vmax, background: theme.background, dark: theme.dark }),
    accent: theme.dark ? ACCENT_DARK : ACCENT_LIGHT,
    pos: theme.dark ? POS_DARK : POS_LIGHT,
    neg: theme.dark ? NEG_DARK : NEG_LIGHT,
    textOn(bg) {
      // Near the page background keep the theme's own text colour.
      const near = Math.abs(luminance(bg) - luminance(theme.background)) < 0.08;
      if (near) return toCss(theme.text);
      return toCss(luminance(bg) > 0.3 ? darkText : light);
    },
  };
}

// ---- Token contexts ------------------------------------------------------

/** Text shown inside a token chip: spaces stay spaces, other whitespace is made visible. */
export function tokenDisplay(token: string): string {
  const v = visibleWhitespace(token, TOKEN_MAX_CHARS * 4 + 8, true);
  return v === "" ? "∅" : truncate(v, TOKEN_MAX_CHARS);
}

/** One context: its max value, then its tokens shaded by activation. */
export function contextRow(ex: Example, pal: Palette, source: string, index: number): HTMLElement {
  const line = h("span", { className: "fv-context-tokens" });
  for (let i = 0; i < ex.tokens.length; i++) {
    const a = ex.acts[i];
    const span = h("span", {
      className: i === ex.center ? "fv-token fv-token-max" : "fv-token",
      text: tokenDisplay(ex.tokens[i]),
      attrs: { "data-act": Number.isNaN(a) ? "NaN" : String(a), "data-index": String(i) },
    });
    if (ex.tokens[i] === "") span.classList.add("fv-token-empty");
    if (!pal.scale.isBackground(a)) {
      const bg = pal.scale.rgb(a);
      span.style.background = toCss(bg);
      span.style.color = pal.textOn(bg);
    }
    line.appendChild(span);
  }
  return h(
    "div",
    {
      className: "fv-context",
      attrs: { "data-source": source, "data-example": String(index), "data-value": String(ex.value) },
    },
    [h("span", { className: "fv-context-value", text: formatValue(ex.value) }), line],
  );
}

export function tokenTooltipRows(ex: Example, i: number, max: number): TooltipRow[] {
  const a = ex.acts[i];
  const rows: TooltipRow[] = [
    ["token", tokenTooltip(ex.tokens[i])],
    ["activation", Number.isNaN(a) ? "–" : formatValue(a)],
  ];
  if (max > 0 && Number.isFinite(a)) rows.push(["of max", `${formatValue((a / max) * 100)}%`]);
  if (i === ex.center) rows.push(["", "the context's max token"]);
  return rows;
}

// ---- Histogram -------------------------------------------------------------

const HIST_W = 300;
const HIST_H = 72;

export interface HistogramPart {
  el: HTMLElement;
  tooltipFor(bin: number): TooltipRow[] | null;
}

export interface HistogramOptions {
  /** What the values are ("activation", "logit effect"). */
  xName: string;
  /** What a bin's share is a share of ("non-zero", "vocabulary"). */
  shareOf: string;
  /** Shown when there is nothing to draw. */
  empty: string;
  /** A bar's colour from its bin's midpoint. */
  colour(mid: number): RGB;
}

/** Activations: the accent ramp up to the max, the negative colour ramp below zero (neurons). */
export function activationHistogramOptions(pal: Palette, hist: Histogram, featureMax: number): HistogramOptions {
  const lo = hist.edges.length ? hist.edges[0] : 0;
  return {
    xName: "activation",
    shareOf: "non-zero",
    empty: "no non-zero activations",
    colour(mid) {
      if (mid < 0) return mix(pal.theme.background, pal.neg, 0.35 + 0.65 * Math.min(1, lo < 0 ? mid / lo : 1));
      const t = featureMax > 0 ? Math.min(1, Math.max(0, mid / featureMax)) : 1;
      return mix(pal.theme.background, pal.accent, 0.35 + 0.65 * t);
    },
  };
}

/** Logit effects over the vocabulary: promoted tokens in the positive colour, suppressed in the negative. */
export function logitHistogramOptions(pal: Palette): HistogramOptions {
  return {
    xName: "logit effect",
    shareOf: "vocabulary",
    empty: "no logit effects",
    colour: (mid) => mix(pal.theme.background, mid < 0 ? pal.neg : pal.pos, 0.8),
  };
}

export function histogram(
  hist: Histogram,
  pal: Palette,
  logY: boolean,
  featureMax: number,
  options: HistogramOptions = activationHistogramOptions(pal, hist, featureMax),
): HistogramPart {
  const { counts, edges } = hist;
  const n = counts.length;
  const total = counts.reduce((a, b) => a + b, 0);
  const el = h("div", { className: "fv-hist" });
  if (n === 0 || total === 0) {
    el.appendChild(h("div", { className: "fv-dash-none", text: options.empty }));
    return { el, tooltipFor: () => null };
  }
  const yOf = (c: number) => (logY ? Math.log10(1 + c) : c);
  let top = 0;
  for (const c of counts) if (yOf(c) > top) top = yOf(c);
  const lo = edges[0];
  const hi = edges[n];
  const span = hi - lo || 1;
  const plot = svg("svg", {
    class: "fv-hist-svg",
    viewBox: `0 0 ${HIST_W} ${HIST_H}`,
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": `histogram of ${options.xName}s, ${n} bins from ${formatValue(lo)} to ${formatValue(hi)}`,
  });
  const baseline = svg("line", { x1: 0, x2: HIST_W, y1: HIST_H - 0.5, y2: HIST_H - 0.5, class: "fv-hist-axis" });
  for (let i = 0; i < n; i++) {
    const x0 = ((edges[i] - lo) / span) * HIST_W;
    const x1 = ((edges[i + 1] - lo) / span) * HIST_W;
    const w = Math.max(0.5, x1 - x0 - (x1 - x0 > 3 ? 0.6 : 0));
    const bh = top > 0 ? (yOf(counts[i]) / top) * (HIST_H - 2) : 0;
    const mid = (edges[i] + edges[i + 1]) / 2;
    if (counts[i] > 0) {
      plot.appendChild(
        svg("rect", {
          class: "fv-hist-bar",
          x: x0.toFixed(2),
          y: (HIST_H - Math.max(bh, 1)).toFixed(2),
          width: w.toFixed(2),
          height: Math.max(bh, 1).toFixed(2),
          fill: toCss(options.colour(mid)),
          "data-bin": i,
        }),
      );
    }
    // Full-height transparent hit area for hovering short bars.
    plot.appendChild(
      svg("rect", {
        class: "fv-hist-hit",
        x: x0.toFixed(2),
        y: 0,
        width: Math.max(0.5, x1 - x0).toFixed(2),
        height: HIST_H,
        fill: "transparent",
        "data-bin": i,
        "data-count": counts[i],
      }),
    );
  }
  plot.appendChild(baseline);
  if (lo < 0 && hi > 0) {
    const x = (((0 - lo) / span) * HIST_W).toFixed(2);
    plot.appendChild(svg("line", { x1: x, x2: x, y1: 0, y2: HIST_H, class: "fv-hist-zero" }));
  }
  const peak = Math.max(...counts);
  el.appendChild(h("div", { className: "fv-hist-ylabel", text: `${formatCount(peak)}${logY ? " (log scale)" : ""}` }));
  el.appendChild(plot);
  el.appendChild(
    h("div", { className: "fv-hist-xlabels" }, [
      h("span", { text: formatValue(lo) }),
      h("span", { className: "fv-hist-xname", text: lo < 0 && hi > 0 ? `${options.xName} (| = 0)` : options.xName }),
      h("span", { text: formatValue(hi) }),
    ]),
  );
  return {
    el,
    tooltipFor(bin) {
      if (!(bin >= 0 && bin < n)) return null;
      const rows: TooltipRow[] = [
        ["range", `${formatValue(edges[bin])} – ${formatValue(edges[bin + 1])}`],
        ["count", formatCount(counts[bin])],
      ];
      if (total > 0) rows.push(["share", `${formatValue((counts[bin] / total) * 100)}% of ${options.shareOf}`]);
      return rows;
    },
  };
}

// ---- Logit tables ----------------------------------------------------------

export function logitTable(
  entries: LogitEntry[],
  heading: string,
  kind: "pos" | "neg",
  scaleAbs: number,
  pal: Palette,
): HTMLElement {
  const col = h("div", { className: `fv-logits fv-logits-${kind}` }, [
    h("div", { className: "fv-logits-head", text: heading }),
  ]);
  if (entries.length === 0) {
    col.appendChild(h("div", { className: "fv-dash-none", text: "–" }));
    return col;
  }
  const colour = toCss(kind === "pos" ? pal.pos : pal.neg);
  entries.forEach((e, i) => {
    const frac = scaleAbs > 0 ? Math.min(1, Math.abs(e.value) / scaleAbs) : 0;
    const bar = h("span", { className: "fv-logit-bar" });
    bar.style.width = `${(frac * 100).toFixed(1)}%`;
    bar.style.background = colour;
    col.appendChild(
      h(
        "div",
        {
          className: "fv-logit",
          attrs: { "data-kind": kind, "data-index": String(i), "data-value": String(e.value) },
        },
        [
          // One token per row, never wrapped inside itself: cut with an ellipsis where its column is too narrow
          // (TOKEN_CELL_CSS), whole in the row's tooltip (logitTooltipRows).
          h("span", { className: "fv-logit-token fv-token-cell", text: tokenLabel(e.token, TOOLTIP_MAX_CHARS) }),
          h("span", { className: "fv-logit-track" }, [bar]),
          h("span", { className: "fv-logit-value", text: `${e.value > 0 ? "+" : ""}${formatValue(e.value)}` }),
        ],
      ),
    );
  });
  return col;
}

export function logitTooltipRows(e: LogitEntry, kind: "pos" | "neg"): TooltipRow[] {
  return [
    ["token", tokenTooltip(e.token)],
    ["logit", `${e.value > 0 ? "+" : ""}${formatValue(e.value)}`],
    ["", kind === "pos" ? "promoted by the decoder direction" : "suppressed by the decoder direction"],
  ];
}

// ---- Nearest features ------------------------------------------------------

export function nearestChip(n: NearestEntry, available: boolean): HTMLButtonElement {
  const chip = h(
    "button",
    {
      className: available ? "fv-nearest" : "fv-nearest fv-unavailable",
      attrs: { type: "button", "data-feature": String(n.feature) },
    },
    [
      h("span", { className: "fv-nearest-id", text: `#${n.feature}` }),
      h("span", { className: "fv-nearest-cos", text: Number.isNaN(n.cosine) ? "–" : n.cosine.toFixed(2) }),
    ],
  );
  chip.title = available
    ? `show feature ${n.feature} (decoder cosine ${formatValue(n.cosine)})`
    : `feature ${n.feature} is not in this dashboard's data (decoder cosine ${formatValue(n.cosine)})`;
  if (!available) chip.disabled = true;
  return chip;
}

/** A feature that fires on the same tokens: a chip like the nearest ones (the view navigates on click). */
export function coactiveChip(c: CoactiveEntry, available: boolean): HTMLButtonElement {
  const chip = nearestChip({ feature: c.feature, cosine: c.jaccard }, available);
  chip.classList.add("fv-coactive");
  const what = `fire together on ${formatCount(c.count)} tokens (Jaccard ${formatValue(c.jaccard)})`;
  chip.title = available
    ? `show feature ${c.feature}: ${what}`
    : `feature ${c.feature} is not in this dashboard's data: ${what}`;
  return chip;
}
