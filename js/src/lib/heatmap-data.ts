// Validation of the heatmap traits.
// Everything coming from the model is treated as untrusted `unknown`.

import { decodeMatrix, type Matrix } from "./binary";
import { type ColorScaleMode, isColorScaleMode } from "./heatmap-scale";
import { type ColumnStats, computeColumnStats, isSortBy, type SortBy } from "./order";
import { type AnyModel, arrayOf, labelsOf, numArray, safeGet, strArray } from "./traits";

export interface HeatmapData {
  matrix: Matrix;
  nRows: number;
  nCols: number;
  tokens: string[];
  featureIds: number[];
  featureLabels: string[];
  stats: ColumnStats;
  /** Per-column minimum (for the colour normalisation). */
  colMin: ArrayLike<number>;
  alwaysOn: boolean[];
  anyAlwaysOn: boolean;
  /** Prompt index of each row and position of the row within its prompt. */
  rowPrompt: Int32Array;
  rowPos: Int32Array;
  promptStarts: number[];
  promptLengths: number[];
  /** Group name per prompt ("" = ungrouped) and its colour slot (-1 = none). */
  promptGroups: string[];
  promptGroupSlot: number[];
  groupNames: string[];
  hasGroups: boolean;
  vmin: number;
  vmax: number;
  /** Non-fatal inconsistencies (shown as a small note). */
  warnings: string[];
}

export interface HeatmapOptions {
  sortBy: SortBy;
  hideAlwaysOn: boolean;
  transpose: boolean;
  selectedFeature: number;
  title: string;
  colorScale: ColorScaleMode;
  /** Viewport height in px (the user may drag it taller or shorter). */
  height: number;
}

export type ReadResult = { ok: true; data: HeatmapData } | { ok: false; error: string };

function statsFrom(v: unknown, n: number): ColumnStats | null {
  if (!v || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  const pick = (k: string): number[] | null => {
    const a = arrayOf(o[k]);
    if (!a || a.length !== n) return null;
    return a.map((x) => (typeof x === "number" ? x : NaN));
  };
  const max = pick("max");
  const mean = pick("mean");
  const count = pick("count");
  const min = pick("min") ?? undefined;
  return max && mean && count ? { min, max, mean, count } : null;
}

/** Read and validate all data traits. Never throws. */
export function readData(model: AnyModel): ReadResult {
  let decoded: ReturnType<typeof decodeMatrix>;
  try {
    decoded = decodeMatrix(model.get("matrix"));
  } catch (e) {
    decoded = { ok: false as const, error: String(e) };
  }
  if (!decoded.ok) return { ok: false, error: `Cannot show heatmap: ${decoded.error}.` };
  const matrix = decoded.matrix;
  const { nRows, nCols } = matrix;
  const warnings: string[] = [];
  const get = (k: string): unknown => safeGet(model, k);

  const tokens = strArray(get("tokens"), nRows, "tokens", warnings);
  const featureIds = numArray(get("feature_ids"), nCols, "feature_ids", warnings, (i) => i);
  const featureLabels = labelsOf(get("feature_labels"), featureIds, warnings);

  let stats = statsFrom(get("column_stats"), nCols);
  if (!stats) stats = computeColumnStats(matrix);
  const colMin = stats.min ?? computeColumnStats(matrix).min;

  const aoRaw = arrayOf(get("always_on"));
  if (aoRaw && aoRaw.length !== nCols) warnings.push(`always_on has ${aoRaw.length} entries, expected ${nCols}`);
  const alwaysOn: boolean[] = new Array(nCols);
  let anyAlwaysOn = false;
  for (let c = 0; c < nCols; c++) {
    alwaysOn[c] = !!(aoRaw && aoRaw[c] === true);
    if (alwaysOn[c]) anyAlwaysOn = true;
  }

  // Prompts: lengths must be non-negative integers summing to nRows.
  const { promptLengths, rowPrompt, rowPos, promptStarts } = promptLayout(
    arrayOf(get("prompt_lengths")),
    nRows,
    warnings,
  );

  const pgRaw = arrayOf(get("prompt_groups"));
  const promptGroups: string[] = promptLengths.map((_, p) => {
    const g = pgRaw ? pgRaw[p] : "";
    return typeof g === "string" ? g : "";
  });
  if (pgRaw && pgRaw.length > 0 && pgRaw.length !== promptLengths.length) {
    warnings.push(`prompt_groups has ${pgRaw.length} entries, expected ${promptLengths.length}`);
  }
  const groupNames: string[] = [];
  const promptGroupSlot = promptGroups.map((g) => {
    if (!g) return -1;
    let i = groupNames.indexOf(g);
    if (i < 0) {
      groupNames.push(g);
      i = groupNames.length - 1;
    }
    return i;
  });

  const vminRaw = get("vmin");
  const vmaxRaw = get("vmax");
  let vmin = typeof vminRaw === "number" && Number.isFinite(vminRaw) ? vminRaw : NaN;
  let vmax = typeof vmaxRaw === "number" && Number.isFinite(vmaxRaw) ? vmaxRaw : NaN;
  if (Number.isNaN(vmin) || Number.isNaN(vmax) || vmax <= vmin) {
    // Fall back to the data range (0-anchored).
    let lo = 0;
    let hi = 0;
    for (let row = 0; row < nRows; row++) {
      matrix.forEachInRow(row, (_c, v) => {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      });
    }
    if (Number.isNaN(vmin)) vmin = lo;
    if (Number.isNaN(vmax) || vmax <= vmin) vmax = hi > vmin ? hi : vmin + 1;
  }

  return {
    ok: true,
    data: {
      matrix,
      nRows,
      nCols,
      tokens,
      featureIds,
      featureLabels,
      stats,
      colMin,
      alwaysOn,
      anyAlwaysOn,
      rowPrompt,
      rowPos,
      promptStarts,
      promptLengths,
      promptGroups,
      promptGroupSlot,
      groupNames,
      hasGroups: groupNames.length > 0,
      vmin,
      vmax,
      warnings,
    },
  };
}

export function readOptions(model: AnyModel): HeatmapOptions {
  const get = (k: string): unknown => safeGet(model, k);
  const sortBy = get("sort_by");
  const sel = get("selected_feature");
  const title = get("title");
  const colorScale = get("color_scale");
  const height = get("height");
  return {
    sortBy: isSortBy(sortBy) ? sortBy : "index",
    hideAlwaysOn: get("hide_always_on") === true,
    transpose: get("transpose") === true,
    selectedFeature: typeof sel === "number" && Number.isFinite(sel) ? sel : -1,
    title: typeof title === "string" ? title : "",
    colorScale: isColorScaleMode(colorScale) ? colorScale : "global",
    height: typeof height === "number" && height >= 80 && Number.isFinite(height) ? height : 600,
  };
}

/** Display name of column c: its label, or "#<id>". */
export function featureName(d: HeatmapData, c: number): string {
  const label = d.featureLabels[c];
  return label ? label : `#${d.featureIds[c]}`;
}

export interface PromptLayout {
  promptLengths: number[];
  promptStarts: number[];
  /** Prompt index of each row and position of the row within its prompt. */
  rowPrompt: Int32Array;
  rowPos: Int32Array;
}

/** Rows grouped into prompts from untrusted `prompt_lengths`; lengths that do not sum to nRows mean one prompt. */
export function promptLayout(raw: unknown[] | null, nRows: number, warnings: string[]): PromptLayout {
  let promptLengths: number[] = [];
  if (raw?.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0)) {
    promptLengths = raw as number[];
  }
  const total = promptLengths.reduce((a, b) => a + b, 0);
  if (total !== nRows) {
    if (raw && raw.length > 0) {
      warnings.push(`prompt_lengths sum to ${total}, expected ${nRows}; treating all rows as one prompt`);
    }
    promptLengths = nRows > 0 ? [nRows] : [];
  }
  const rowPrompt = new Int32Array(nRows);
  const rowPos = new Int32Array(nRows);
  const promptStarts: number[] = [];
  let r = 0;
  promptLengths.forEach((len, p) => {
    promptStarts.push(r);
    for (let i = 0; i < len; i++, r++) {
      rowPrompt[r] = p;
      rowPos[r] = i;
    }
  });
  return { promptLengths, promptStarts, rowPrompt, rowPos };
}
