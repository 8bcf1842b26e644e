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

  if (!diverging) {
    const accent = opts.dark ? ACCENT_DARK : ACCENT_LIGHT;
    const lut: string[] = [];
    for (let i = 0; i < LUT_SIZE; i++) lut.push(toCss(mix(bg, accent, i / (LUT_SIZE - 1))));
    const t = (v: number) => clamp((v - vmin) / (vmax - vmin), 0, 1);
    return {
      vmin,
      vmax,
      diverging,
      rgb: (v) => (Number.isNaN(v) ? ([...bg] as RGB) : mix(bg, accent, t(v))),
      css: (v) => (Number.isNaN(v) ? lut[0] : lut[Math.round(t(v) * (LUT_SIZE - 1))]),
      isBackground: (v) => Number.isNaN(v) || Math.round(t(v) * (LUT_SIZE - 1)) === 0,
    };
  }

  const neg = opts.dark ? NEG_DARK : NEG_LIGHT;
  const pos = opts.dark ? POS_DARK : POS_LIGHT;
  const half = LUT_SIZE / 2;
  const negLut: string[] = [];
  const posLut: string[] = [];
  for (let i = 0; i < half; i++) {
    negLut.push(toCss(mix(bg, neg, i / (half - 1))));
    posLut.push(toCss(mix(bg, pos, i / (half - 1))));
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
      return x < 0 ? mix(bg, neg, -x) : mix(bg, pos, x);
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

/** Legend: colour bar with min (and 0 when diverging) and max labels. */
export function createLegend(): { el: HTMLElement; update(scale: ColourScale): void } {
  const minLabel = h("span", { className: "fv-legend-min" });
  const bar = h("span", { className: "fv-legend-bar" });
  const maxLabel = h("span", { className: "fv-legend-max" });
  const el = h("span", { className: "fv-legend" }, [minLabel, bar, maxLabel]);
  return {
    el,
    update(scale) {
      minLabel.textContent = formatValue(scale.vmin);
      maxLabel.textContent = formatValue(scale.vmax);
      bar.style.background = gradientCss(scale);
      bar.title = scale.diverging
        ? `diverging: ${formatValue(scale.vmin)} (blue) … 0 … ${formatValue(scale.vmax)} (red)`
        : `${formatValue(scale.vmin)} … ${formatValue(scale.vmax)}`;
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
