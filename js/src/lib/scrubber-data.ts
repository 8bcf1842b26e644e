// Validation and one-time decoding of the checkpoint scrubber's traits.
//
// `frames` is a matrix [C * T, F]: frame c is rows c*T .. (c+1)*T - 1. It is
// decoded ONCE into a dense Float32Array (zero-copy for an aligned dense
// buffer; CSR is expanded unless it would be huge), so switching checkpoints
// only moves an offset into that array. Per-checkpoint column statistics (the
// selected feature's trajectory) are computed in the same pass.
// Nothing here throws: readScrubber returns {ok: false, error} instead.

import { decodeMatrix, denseValues, type Matrix } from "./binary";
import { promptLayout } from "./heatmap-data";
import { type AnyModel, numArray, safeGet, strArray } from "./traits";

/** Above this many values (C*T*F) CSR frames are read in place, not expanded. */
export const MAX_DENSE_VALUES = 1 << 25; // 32 Mi values = 128 MiB of float32

export interface ScrubberData {
  /** Number of checkpoints, tokens (rows of one frame) and features (columns). */
  nCheckpoints: number;
  nTokens: number;
  nFeatures: number;
  labels: string[];
  /** x per checkpoint: x_values when finite and increasing, else the index. */
  x: number[];
  xLabel: string;
  /** Whether x is the checkpoint index (x_values unusable). */
  xIsIndex: boolean;
  tokens: string[];
  featureIds: number[];
  /** Dense values, C*T*F (null when CSR frames were too large to expand). */
  dense: Float32Array | null;
  /** The decoded matrix (for the sparse fallback). */
  matrix: Matrix;
  /** Per checkpoint x feature: max / mean activation over the tokens of that frame. */
  colMax: Float32Array;
  colMean: Float32Array;
  /** Match cosine, C*F (NaN where unknown). */
  cosine: Float32Array;
  hasCosine: boolean;
  metrics: Array<{ name: string; values: number[] }>;
  promptStarts: number[];
  promptLengths: number[];
  rowPrompt: Int32Array;
  rowPos: Int32Array;
  vmin: number;
  vmax: number;
  warnings: string[];
}

export type ScrubberRead = { ok: true; data: ScrubberData } | { ok: false; error: string };

function arr(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<unknown>);
  return null;
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Read, validate and decode all data traits. Never throws. */
export function readScrubber(model: AnyModel): ScrubberRead {
  try {
    return readUnsafe(model);
  } catch (e) {
    return { ok: false, error: `Cannot show checkpoints: ${e instanceof Error ? e.message : String(e)}.` };
  }
}

function readUnsafe(model: AnyModel): ScrubberRead {
  const get = (k: string): unknown => safeGet(model, k);
  const decoded = decodeMatrix(get("frames"));
  if (!decoded.ok) return { ok: false, error: `Cannot show checkpoints: frames: ${decoded.error}.` };
  const matrix = decoded.matrix;
  const warnings: string[] = [];

  // Sizes: C from labels (or x_values), T from tokens (or prompt_lengths), F from the matrix.
  const labelsRaw = arr(get("labels"));
  const xRaw = arr(get("x_values"));
  const tokensRaw = arr(get("tokens"));
  const plRaw = arr(get("prompt_lengths"));
  const nFeatures = matrix.nCols;
  let nTokens = tokensRaw ? tokensRaw.length : -1;
  if (nTokens < 0 && plRaw && plRaw.every((v) => Number.isInteger(v) && (v as number) >= 0)) {
    nTokens = (plRaw as number[]).reduce((a, b) => a + b, 0);
  }
  let nCheckpoints = labelsRaw ? labelsRaw.length : xRaw ? xRaw.length : -1;
  if (nTokens < 0 && nCheckpoints > 0 && matrix.nRows % nCheckpoints === 0) nTokens = matrix.nRows / nCheckpoints;
  if (nCheckpoints < 0 && nTokens > 0 && matrix.nRows % nTokens === 0) nCheckpoints = matrix.nRows / nTokens;
  if (nTokens < 0 || nCheckpoints < 0) {
    return { ok: false, error: "Cannot show checkpoints: labels and tokens are missing, so frames cannot be split." };
  }
  if (matrix.nRows !== nCheckpoints * nTokens) {
    return {
      ok: false,
      error:
        `Cannot show checkpoints: frames has ${matrix.nRows} rows, but ${nCheckpoints} checkpoints × ` +
        `${nTokens} tokens need ${nCheckpoints * nTokens}.`,
    };
  }
  const fidRaw = arr(get("feature_ids"));
  if (fidRaw && fidRaw.length !== nFeatures) {
    return {
      ok: false,
      error: `Cannot show checkpoints: frames has ${nFeatures} columns but feature_ids has ${fidRaw.length}.`,
    };
  }
  const featureIds = numArray(fidRaw, nFeatures, "feature_ids", warnings, (i) => i);
  const labels = strArray(labelsRaw, nCheckpoints, "labels", warnings).map((s, i) => s || `checkpoint ${i}`);
  const tokens = strArray(tokensRaw, nTokens, "tokens", warnings);

  const xv = numArray(xRaw, nCheckpoints, "x_values", warnings, () => NaN);
  let increasing = xv.length > 0 && xv.every(finite);
  for (let i = 1; increasing && i < xv.length; i++) if (!(xv[i] > xv[i - 1])) increasing = false;
  const xIsIndex = !increasing;
  const x = xIsIndex ? xv.map((_, i) => i) : xv;
  const xl = get("x_label");
  const xLabel = xIsIndex ? "checkpoint" : typeof xl === "string" && xl ? xl : "x";

  // Prompts.
  const { promptLengths, rowPrompt, rowPos, promptStarts } = promptLayout(plRaw, nTokens, warnings);

  // Frames: dense values once, plus per-(checkpoint, feature) max / mean.
  const total3 = nCheckpoints * nTokens * nFeatures;
  let dense: Float32Array | null = null;
  if (matrix.format === "dense") {
    dense = denseOf(matrix, total3);
  } else if (total3 <= MAX_DENSE_VALUES) {
    dense = new Float32Array(total3);
    for (let row = 0; row < matrix.nRows; row++) {
      const base = row * nFeatures;
      matrix.forEachInRow(row, (c, v) => (dense![base + c] += v));
    }
  } else {
    warnings.push("frames too large to expand; drawing from the sparse matrix");
  }
  const CF = nCheckpoints * nFeatures;
  const colMax = new Float32Array(CF).fill(NaN);
  const colMean = new Float32Array(CF);
  let lo = Infinity;
  let hi = -Infinity;
  if (nTokens > 0) {
    const sums = new Float64Array(nFeatures);
    const stored = new Int32Array(nFeatures); // sparse: values stored per column
    for (let c = 0; c < nCheckpoints; c++) {
      sums.fill(0);
      stored.fill(0);
      const mx = colMax.subarray(c * nFeatures, (c + 1) * nFeatures);
      const visit = (f: number, v: number) => {
        stored[f]++;
        if (!Number.isFinite(v)) return;
        sums[f] += v;
        if (!(v <= mx[f])) mx[f] = v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      };
      if (dense) {
        // Hot loop (C*T*F values), kept free of calls.
        const start = c * nTokens * nFeatures;
        for (let t = 0; t < nTokens; t++) {
          const base = start + t * nFeatures;
          for (let f = 0; f < nFeatures; f++) {
            const v = dense[base + f];
            // biome-ignore lint/suspicious/noSelfCompare: v !== v is NaN without a call in the hot loop
            if (v !== v || v === Infinity || v === -Infinity) continue;
            sums[f] += v;
            if (!(v <= mx[f])) mx[f] = v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
        }
        stored.fill(nTokens);
      } else {
        for (let t = 0; t < nTokens; t++) matrix.forEachInRow(c * nTokens + t, visit);
      }
      for (let f = 0; f < nFeatures; f++) {
        colMean[c * nFeatures + f] = sums[f] / nTokens;
        // Entries a sparse matrix does not store are zeros.
        if (stored[f] < nTokens && !(mx[f] >= 0)) mx[f] = 0;
      }
    }
  }

  // Match cosine [C, F].
  const cosine = new Float32Array(CF).fill(NaN);
  let hasCosine = false;
  const mcRaw = get("match_cosine");
  if (mcRaw != null) {
    const mc = decodeMatrix(mcRaw);
    if (!mc.ok) warnings.push(`match_cosine ignored: ${mc.error}`);
    else if (mc.matrix.nRows !== nCheckpoints || mc.matrix.nCols !== nFeatures) {
      warnings.push(
        `match_cosine is ${mc.matrix.nRows}×${mc.matrix.nCols}, expected ${nCheckpoints}×${nFeatures}; ignored`,
      );
    } else {
      hasCosine = true;
      for (let c = 0; c < nCheckpoints; c++) {
        for (let f = 0; f < nFeatures; f++) cosine[c * nFeatures + f] = mc.matrix.get(c, f);
      }
    }
  }

  // Metrics {name: number[C]}.
  const metrics: Array<{ name: string; values: number[] }> = [];
  const mRaw = get("metrics");
  if (mRaw && typeof mRaw === "object" && !Array.isArray(mRaw)) {
    for (const [name, vals] of Object.entries(mRaw as Record<string, unknown>)) {
      const a = arr(vals);
      if (!a) continue;
      if (a.length !== nCheckpoints) {
        warnings.push(`metric ${name} has ${a.length} values, expected ${nCheckpoints}`);
      }
      const values = numArray(a, nCheckpoints, name, [], () => NaN).map((v) => (Number.isFinite(v) ? v : NaN));
      metrics.push({ name, values });
    }
  }

  // Shared colour range.
  const vminRaw = get("vmin");
  const vmaxRaw = get("vmax");
  let vmin = finite(vminRaw) ? vminRaw : NaN;
  let vmax = finite(vmaxRaw) ? vmaxRaw : NaN;
  if (Number.isNaN(vmin)) vmin = Math.min(0, Number.isFinite(lo) ? lo : 0);
  if (Number.isNaN(vmax) || vmax <= vmin) vmax = Number.isFinite(hi) && hi > vmin ? hi : vmin + 1;

  return {
    ok: true,
    data: {
      nCheckpoints,
      nTokens,
      nFeatures,
      labels,
      x,
      xLabel,
      xIsIndex,
      tokens,
      featureIds,
      dense,
      matrix,
      colMax,
      colMean,
      cosine,
      hasCosine,
      metrics,
      promptStarts,
      promptLengths,
      rowPrompt,
      rowPos,
      vmin,
      vmax,
      warnings,
    },
  };
}

/** The dense float32 values of a dense matrix, without copying. */
function denseOf(m: Matrix, n: number): Float32Array {
  const v = denseValues(m);
  if (v && v.length === n) return v;
  const out = new Float32Array(n);
  const cols = m.nCols;
  for (let row = 0; row < m.nRows; row++) m.forEachInRow(row, (c, x) => (out[row * cols + c] = x));
  return out;
}

/** Value of (token t, feature f) in checkpoint c. */
export function frameValue(d: ScrubberData, c: number, t: number, f: number): number {
  if (d.dense) return d.dense[(c * d.nTokens + t) * d.nFeatures + f];
  return d.matrix.get(c * d.nTokens + t, f);
}

/** The decoded values of frame c (T*F, row-major), a view into the one decoded array. */
export function frameView(d: ScrubberData, c: number): Float32Array | null {
  if (!d.dense || c < 0 || c >= d.nCheckpoints) return null;
  const size = d.nTokens * d.nFeatures;
  return d.dense.subarray(c * size, (c + 1) * size);
}

/** Clamp any value to a valid checkpoint index (0 when there are none). */
export function clampIndex(v: unknown, n: number): number {
  if (n <= 0) return 0;
  const i = typeof v === "number" && Number.isFinite(v) ? Math.round(v) : n - 1;
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}
