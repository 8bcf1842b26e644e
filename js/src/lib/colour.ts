// Colour parsing, colour scales and the legend (colour bar).

import { h } from "./dom";
import { formatValue } from "./format";

export type RGB = [number, number, number];

const NAMED: Record<string, RGB> = {
  white: [255, 255, 255],
  black: [0, 0, 0],
  transparent: [255, 255, 255],
};

/** Parse #rgb, #rgba, #rrggbb, #rrggbbaa, rgb()/rgba() and a few names. */
export function parseColour(input: string | null | undefined): RGB | null {
  if (!input) return null;
  const s = input.trim().toLowerCase();
  if (s in NAMED) return [...NAMED[s]] as RGB;
  let m = /^#([0-9a-f]{3,8})$/.exec(s);
  if (m) {
    const hex = m[1];
    if (hex.length === 3 || hex.length === 4) {
      return [0, 1, 2].map((i) => parseInt(hex[i] + hex[i], 16)) as RGB;
    }
    if (hex.length === 6 || hex.length === 8) {
      return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as RGB;
    }
    return null;
  }
  m = /^rgba?\(\s*([^)]*)\)$/.exec(s);
  if (m) {
    const parts = m[1]
      .split(/[\s,/]+/)
      .filter(Boolean)
      .slice(0, 3);
    if (parts.length < 3) return null;
    const rgb = parts.map((p) => (p.endsWith("%") ? (parseFloat(p) * 255) / 100 : parseFloat(p)));
    if (rgb.some((v) => !Number.isFinite(v))) return null;
    return rgb.map((v) => clamp(Math.round(v), 0, 255)) as RGB;
  }
  return null;
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : Math.min(v, hi);
}

export function mix(a: RGB, b: RGB, t: number): RGB {
  const u = clamp(t, 0, 1);
  return [
    Math.round(a[0] + (b[0] - a[0]) * u),
    Math.round(a[1] + (b[1] - a[1]) * u),
    Math.round(a[2] + (b[2] - a[2]) * u),
  ];
}

export function toCss(c: RGB): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** WCAG relative luminance in [0, 1]. */
export function luminance(c: RGB): number {
  const lin = (v: number) => {
    const x = v / 255;
    return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

export interface ScaleOptions {
  vmin: number;
  vmax: number;
  background: RGB;
  dark: boolean;
  /**
   * "accent" (default): background -> one accent colour, mixed in sRGB (token backgrounds under text).
   * "perceptual": a magma-like ramp from the background, interpolated in OKLab with stops spaced by their
   * OKLab distance, so equal value steps look like equal colour steps (heatmaps).
   */
  ramp?: "accent" | "perceptual";
}

export interface ColourScale {
  readonly vmin: number;
  readonly vmax: number;
  readonly diverging: boolean;
  /** RGB for a value (NaN maps to the background). */
  rgb(v: number): RGB;
  /** CSS colour string for a value, from a lookup table (fast path for drawing). */
  css(v: number): string;
  /** True when the value renders as the background (can be skipped when drawing). */
  isBackground(v: number): boolean;
}

// Strong accents that read on both themes.
export const ACCENT_LIGHT: RGB = [214, 62, 10]; // deep orange
export const ACCENT_DARK: RGB = [255, 138, 61]; // bright orange
export const NEG_LIGHT: RGB = [33, 102, 172]; // blue
export const NEG_DARK: RGB = [92, 163, 255];
export const POS_LIGHT: RGB = [178, 24, 43]; // red
export const POS_DARK: RGB = [255, 99, 99];

// ---- OKLab (Björn Ottosson, 2020): a space where Euclidean distance tracks perceived difference ----------

export type Lab = [number, number, number];

const toLinear = (v: number) => {
  const x = v / 255;
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
};
const fromLinear = (x: number) => {
  const v = x <= 0.0031308 ? 12.92 * x : 1.055 * x ** (1 / 2.4) - 0.055;
  return clamp(Math.round(v * 255), 0, 255);
};

export function toOklab(c: RGB): Lab {
  const [r, g, b] = c.map(toLinear);
  const l = Math.cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
  const m = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const s = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

export function fromOklab(lab: Lab): RGB {
  const [L, A, B] = lab;
  const l = (L + 0.3963377774 * A + 0.2158037573 * B) ** 3;
  const m = (L - 0.1055613458 * A - 0.0638541728 * B) ** 3;
  const s = (L - 0.0894841775 * A - 1.291485548 * B) ** 3;
  return [
    fromLinear(4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s),
    fromLinear(-1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s),
    fromLinear(-0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s),
  ];
}

/** Colour at t in [0, 1] along stops interpolated in OKLab, the stops spaced by their OKLab distance. */
export function oklabRamp(stops: readonly RGB[]): (t: number) => RGB {
  const labs = stops.map(toOklab);
  const at = [0];
  for (let i = 1; i < labs.length; i++) at.push(at[i - 1] + Math.hypot(...labs[i].map((v, k) => v - labs[i - 1][k])));
  const total = at[at.length - 1] || 1;
  return (t) => {
    const x = clamp(t, 0, 1) * total;
    let i = 1;
    while (i < at.length - 1 && at[i] < x) i++;
    const span = at[i] - at[i - 1] || 1;
    const u = clamp((x - at[i - 1]) / span, 0, 1);
    const a = labs[i - 1];
    const b = labs[i];
    return fromOklab([a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u]);
  };
}

// Magma / inferno-like stops (matplotlib's, by eye): darkening from pale yellow on light themes, brightening
// from deep purple on dark ones, so a stronger value always moves away from the page background.
const RAMP_LIGHT: RGB[] = [
  [253, 231, 143],
  [252, 165, 10],
  [221, 81, 58],
  [147, 38, 103],
  [66, 10, 104],
];
const RAMP_DARK: RGB[] = [
  [66, 10, 104],
  [147, 38, 103],
  [221, 81, 58],
  [252, 165, 10],
  [252, 255, 164],
];

/** The heatmap ramp for a theme: from its background out to the far end of the magma-like stops. */
export function perceptualRamp(background: RGB, dark: boolean): (t: number) => RGB {
  return oklabRamp([background, ...(dark ? RAMP_DARK : RAMP_LIGHT)]);
}

const LUT_SIZE = 256;

/**
 * Build a colour scale.
 * - vmin >= 0: sequential, background -> accent, so values <= vmin (zeros)
 *   disappear into the background.
 * - vmin < 0: diverging, blue (vmin) -> background (0) -> red (vmax).
 */
export function makeScale(opts: ScaleOptions): ColourScale {
  let { vmin, vmax } = opts;
  if (!Number.isFinite(vmin)) vmin = 0;
  if (!Number.isFinite(vmax)) vmax = vmin + 1;
  if (vmax <= vmin) vmax = vmin + (Math.abs(vmin) || 1);
  const bg = opts.background;
  const diverging = vmin < 0;

  const perceptual = opts.ramp === "perceptual";
  if (!diverging) {
    const accent = opts.dark ? ACCENT_DARK : ACCENT_LIGHT;
    const along = perceptual ? perceptualRamp(bg, opts.dark) : (u: number) => mix(bg, accent, u);
    const lut: string[] = [];
    for (let i = 0; i < LUT_SIZE; i++) lut.push(toCss(along(i / (LUT_SIZE - 1))));
    const t = (v: number) => clamp((v - vmin) / (vmax - vmin), 0, 1);
    return {
      vmin,
      vmax,
      diverging,
      rgb: (v) => (Number.isNaN(v) ? ([...bg] as RGB) : along(t(v))),
      css: (v) => (Number.isNaN(v) ? lut[0] : lut[Math.round(t(v) * (LUT_SIZE - 1))]),
      isBackground: (v) => Number.isNaN(v) || Math.round(t(v) * (LUT_SIZE - 1)) === 0,
    };
  }

  const neg = opts.dark ? NEG_DARK : NEG_LIGHT;
  const pos = opts.dark ? POS_DARK : POS_LIGHT;
  const negAlong = perceptual ? oklabRamp([bg, neg]) : (u: number) => mix(bg, neg, u);
  const posAlong = perceptual ? oklabRamp([bg, pos]) : (u: number) => mix(bg, pos, u);
  const half = LUT_SIZE / 2;
  const negLut: string[] = [];
  const posLut: string[] = [];
  for (let i = 0; i < half; i++) {
    negLut.push(toCss(negAlong(i / (half - 1))));
    posLut.push(toCss(posAlong(i / (half - 1))));
  }
  // Signed position in [-1, 1]; 0 is the background.
  const s = (v: number): number => {
    if (v < 0) return -clamp(v / vmin, 0, 1);
    if (v > 0) return vmax > 0 ? clamp(v / vmax, 0, 1) : 1;
    return 0;
  };
  const idx = (x: number) => Math.round(Math.abs(x) * (half - 1));
  return {
    vmin,
    vmax,
    diverging,
    rgb: (v) => {
      if (Number.isNaN(v)) return [...bg] as RGB;
      const x = s(v);
      return x < 0 ? negAlong(-x) : posAlong(x);
    },
    css: (v) => {
      if (Number.isNaN(v)) return negLut[0];
      const x = s(v);
      return x < 0 ? negLut[idx(x)] : posLut[idx(x)];
    },
    isBackground: (v) => Number.isNaN(v) || idx(s(v)) === 0,
  };
}

/** CSS linear-gradient describing the scale from vmin to vmax. */
export function gradientCss(scale: ColourScale, stops = 16): string {
  const parts: string[] = [];
  for (let i = 0; i < stops; i++) {
    const t = i / (stops - 1);
    parts.push(`${toCss(scale.rgb(scale.vmin + (scale.vmax - scale.vmin) * t))} ${(t * 100).toFixed(1)}%`);
  }
  return `linear-gradient(to right, ${parts.join(", ")})`;
}

export interface LegendText {
  min?: string;
  max?: string;
  title?: string;
}

/** Legend: colour bar with min and max labels (`text` overrides them, e.g. "0" … "column max"). */
export function createLegend(): { el: HTMLElement; update(scale: ColourScale, text?: LegendText): void } {
  const minLabel = h("span", { className: "fv-legend-min" });
  const bar = h("span", { className: "fv-legend-bar" });
  const maxLabel = h("span", { className: "fv-legend-max" });
  const el = h("span", { className: "fv-legend" }, [minLabel, bar, maxLabel]);
  return {
    el,
    update(scale, text = {}) {
      minLabel.textContent = text.min ?? formatValue(scale.vmin);
      maxLabel.textContent = text.max ?? formatValue(scale.vmax);
      bar.style.background = gradientCss(scale);
      bar.title =
        text.title ??
        (scale.diverging
          ? `diverging: ${formatValue(scale.vmin)} (blue) … 0 … ${formatValue(scale.vmax)} (red)`
          : `${formatValue(scale.vmin)} … ${formatValue(scale.vmax)}`);
    },
  };
}

/** Categorical colours (prompt groups, chart series, clusters). */
export const GROUP_PALETTE: RGB[] = [
  [78, 121, 167],
  [242, 142, 43],
  [225, 87, 89],
  [118, 183, 178],
  [89, 161, 79],
  [237, 201, 72],
  [176, 122, 161],
  [255, 157, 167],
  [156, 117, 95],
  [186, 176, 172],
];

export function groupColour(slot: number): RGB {
  return GROUP_PALETTE[((slot % GROUP_PALETTE.length) + GROUP_PALETTE.length) % GROUP_PALETTE.length];
}
