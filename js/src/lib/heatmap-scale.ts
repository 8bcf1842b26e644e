// Heatmap colour normalisation (issue 18): which range a cell's colour is relative to. "global" spans the
// shown columns (hiding columns rescales it), "column" spans each column on its own (a weak feature's pattern
// stays visible beside an outlier), "log" is a symmetric log over the shown columns (linear below range/256,
// one LUT step, so small activations are not flattened into the background). Values map to [-1, 1] with 0
// at the background; the colour scale is then built once over that range.

import { formatValue } from "./format";

export type ColorScaleMode = "global" | "column" | "log";
export const COLOR_SCALE_MODES: readonly ColorScaleMode[] = ["global", "column", "log"];

export function isColorScaleMode(v: unknown): v is ColorScaleMode {
  return typeof v === "string" && (COLOR_SCALE_MODES as readonly string[]).includes(v);
}

export interface Normaliser {
  readonly mode: ColorScaleMode;
  /** Some shown value is negative: the colour scale is diverging (-1 .. 1). */
  readonly diverging: boolean;
  /** The range in data units (global and log; for "column" the widest column's). */
  readonly lo: number;
  readonly hi: number;
  /** Value of matrix column c -> [-1, 1] (NaN stays NaN). */
  norm(v: number, c: number): number;
  /** Legend labels for this normalisation. */
  legend(): { min: string; max: string; title: string };
}

const finite = (v: number | undefined, fallback: number) =>
  typeof v === "number" && Number.isFinite(v) ? v : fallback;

/** A normaliser over the `shown` matrix columns, from per-column minima and maxima. */
export function makeNormaliser(
  mode: ColorScaleMode,
  colMin: ArrayLike<number>,
  colMax: ArrayLike<number>,
  shown: readonly number[],
): Normaliser {
  let lo = 0;
  let hi = 0;
  for (const c of shown) {
    lo = Math.min(lo, finite(colMin[c], 0));
    hi = Math.max(hi, finite(colMax[c], 0));
  }
  const diverging = lo < 0;
  if (mode === "column") {
    const n = Math.max(colMin.length, colMax.length);
    const neg = new Float64Array(n);
    const pos = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      neg[c] = -Math.min(0, finite(colMin[c], 0));
      pos[c] = Math.max(0, finite(colMax[c], 0));
    }
    return {
      mode,
      diverging,
      lo,
      hi,
      norm: (v, c) => (v > 0 ? Math.min(1, v / (pos[c] || v)) : v < 0 ? -Math.min(1, -v / (neg[c] || -v)) : v),
      legend: () => ({
        min: diverging ? "−col. max" : "0",
        max: "col. max",
        title: "each column scaled to its own range",
      }),
    };
  }
  const negSpan = -lo;
  const posSpan = hi;
  if (mode === "log") {
    const knee = Math.max(negSpan, posSpan) / 256 || 1;
    const f = (x: number) => Math.log1p(x / knee);
    const fNeg = f(negSpan) || 1;
    const fPos = f(posSpan) || 1;
    return {
      mode,
      diverging,
      lo,
      hi,
      norm: (v, _c) => (v > 0 ? Math.min(1, f(v) / fPos) : v < 0 ? -Math.min(1, f(-v) / fNeg) : v),
      legend: () => ({
        min: formatValue(lo),
        max: formatValue(hi),
        title: `log scale over the shown columns (linear below ${formatValue(knee)})`,
      }),
    };
  }
  return {
    mode,
    diverging,
    lo,
    hi,
    norm: (v, _c) => (v > 0 ? Math.min(1, v / (posSpan || v)) : v < 0 ? -Math.min(1, -v / (negSpan || -v)) : v),
    legend: () => ({ min: formatValue(lo), max: formatValue(hi), title: "one range over the shown columns" }),
  };
}
