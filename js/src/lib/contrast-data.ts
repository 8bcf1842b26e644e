// Reading / validation of the ContrastView traits, significance marks and
// row ordering. Pure functions (no DOM); nothing here throws on bad input.

import { decodeMatrix, type Matrix } from "./binary";
import { formatValue } from "./format";
import { cleanLabel } from "./tokens";
import { type AnyModel, labelsOf, numArray, safeGet, strArray } from "./traits";

export const DEFAULT_ALPHA = 0.05;

export interface ContrastData {
  nRows: number;
  nGroups: number;
  groups: string[];
  featureIds: number[];
  featureLabels: string[];
  means: Matrix;
  effects: Matrix;
  qValues: Matrix;
  alpha: number;
  /**
   * What the bars show: the mean over each group's prompts of the per-prompt aggregate the test compared
   * (`prompt_means`), or the token means for tables without it (`barsArePrompt` false).
   */
  bars: Matrix;
  barsArePrompt: boolean;
  /** Largest |bar| over all finite bars (0 if none): the shared bar scale. */
  maxAbsMean: number;
  /** Statistical test named in the legend ("mannwhitney" unless a `test` trait says otherwise). */
  test: string;
  /** Per-prompt aggregate named in the legend ("" = unknown). */
  aggregate: string;
  /** Non-fatal inconsistencies (shown as a small note). */
  warnings: string[];
}

export type ContrastRead = { ok: true; data: ContrastData } | { ok: false; empty: boolean; error: string };

export interface ContrastOptions {
  sortGroup: string;
  selectedFeature: number;
  title: string;
}

function isBlank(v: unknown): boolean {
  return (
    v == null ||
    (typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v) && Object.keys(v as object).length === 0)
  );
}

/** Read and validate the data traits. Never throws. */
export function readContrast(model: AnyModel): ContrastRead {
  try {
    return readUnsafe(model);
  } catch (e) {
    return { ok: false, empty: false, error: `Cannot show contrast: ${e instanceof Error ? e.message : String(e)}.` };
  }
}

function readUnsafe(model: AnyModel): ContrastRead {
  const raw = {
    means: safeGet(model, "means"),
    effects: safeGet(model, "effects"),
    q_values: safeGet(model, "q_values"),
  };
  if (isBlank(raw.means) && isBlank(raw.effects) && isBlank(raw.q_values)) {
    return { ok: false, empty: true, error: "Nothing to show: no contrast data." };
  }
  const decoded: Partial<Record<keyof typeof raw, Matrix>> = {};
  for (const name of ["means", "effects", "q_values"] as const) {
    const res = decodeMatrix(raw[name]);
    if (!res.ok)
      return {
        ok: false,
        empty: false,
        error: `Cannot show contrast: ${name}: ${res.error.replace(/^matrix/, name)}.`,
      };
    decoded[name] = res.matrix;
  }
  const means = decoded.means!;
  const effects = decoded.effects!;
  const qValues = decoded.q_values!;
  const nRows = means.nRows;
  const nGroups = means.nCols;
  for (const [name, m] of [
    ["effects", effects],
    ["q_values", qValues],
  ] as const) {
    if (m.nRows !== nRows || m.nCols !== nGroups) {
      return {
        ok: false,
        empty: false,
        error: `Cannot show contrast: ${name} is ${m.nRows}×${m.nCols} but means is ${nRows}×${nGroups}.`,
      };
    }
  }

  const warnings: string[] = [];
  const groupsRaw = strArray(safeGet(model, "groups"), nGroups, "groups", warnings);
  const groups = groupsRaw.map((g, k) => g || `group ${k + 1}`);
  const featureIds = numArray(safeGet(model, "feature_ids"), nRows, "feature_ids", warnings, (i) => i);
  const featureLabels = labelsOf(safeGet(model, "feature_labels"), featureIds, warnings);
  const { bars, barsArePrompt } = barsOf(safeGet(model, "prompt_means"), means, warnings);

  const alphaRaw = safeGet(model, "alpha");
  let alpha = DEFAULT_ALPHA;
  if (typeof alphaRaw === "number" && alphaRaw > 0 && alphaRaw <= 1) alpha = alphaRaw;
  else if (alphaRaw !== undefined)
    warnings.push(`alpha must be in (0, 1], got ${String(alphaRaw).slice(0, 20)}; using ${DEFAULT_ALPHA}`);

  let maxAbsMean = 0;
  for (let r = 0; r < nRows; r++) {
    bars.forEachInRow(r, (_c, v) => {
      const a = Math.abs(v);
      if (Number.isFinite(a) && a > maxAbsMean) maxAbsMean = a;
    });
  }

  const testRaw = safeGet(model, "test");
  const aggRaw = safeGet(model, "aggregate");
  return {
    ok: true,
    data: {
      nRows,
      nGroups,
      groups,
      featureIds,
      featureLabels,
      means,
      effects,
      qValues,
      bars,
      barsArePrompt,
      alpha,
      maxAbsMean,
      test: typeof testRaw === "string" && testRaw ? testRaw : "mannwhitney",
      aggregate: typeof aggRaw === "string" ? aggRaw : "",
      warnings,
    },
  };
}

/** The bars' matrix: `prompt_means` when it is there and has the means' shape, else the token means. */
function barsOf(raw: unknown, means: Matrix, warnings: string[]): { bars: Matrix; barsArePrompt: boolean } {
  if (isBlank(raw)) return { bars: means, barsArePrompt: false };
  const res = decodeMatrix(raw);
  if (res.ok && res.matrix.nRows === means.nRows && res.matrix.nCols === means.nCols)
    return { bars: res.matrix, barsArePrompt: true };
  warnings.push("prompt_means does not match means: the bars show token means");
  return { bars: means, barsArePrompt: false };
}

export function readContrastOptions(model: AnyModel): ContrastOptions {
  const sort = safeGet(model, "sort_group");
  const sel = safeGet(model, "selected_feature");
  const title = safeGet(model, "title");
  return {
    sortGroup: typeof sort === "string" ? sort : "",
    selectedFeature: typeof sel === "number" && Number.isFinite(sel) ? sel : -1,
    title: typeof title === "string" ? title : "",
  };
}

/**
 * Significance mark for a BH-corrected q-value: nothing unless q < alpha;
 * then '***' for q < 0.001, '**' for q < 0.01, '*' otherwise. (With the
 * default alpha = 0.05 this is the usual *** / ** / * at 0.001 / 0.01 / alpha;
 * with alpha < 0.01 a q that is not significant at alpha never gets a mark.)
 */
export function significanceMark(q: number, alpha: number): string {
  if (typeof q !== "number" || !(q < alpha) || Number.isNaN(q)) return "";
  if (q < 0.001) return "***";
  if (q < 0.01) return "**";
  return "*";
}

/**
 * The mark of one group's cell: its significance mark only where the feature is higher in the group than
 * in the rest (positive rank-biserial effect). A two-sided test is significant for both sides of a
 * two-group contrast; the mark belongs to the side the feature is higher in, never to both.
 */
export function groupMark(q: number, effect: number, alpha: number): string {
  return typeof effect === "number" && effect > 0 ? significanceMark(q, alpha) : "";
}

/** The legend's list of marks for a given alpha, e.g. "*** q < 0.001 · ** q < 0.01 · * q < 0.05". */
export function marksLegend(alpha: number): string {
  const parts = [`*** q < ${formatValue(Math.min(0.001, alpha))}`];
  if (alpha > 0.001) parts.push(`** q < ${formatValue(Math.min(0.01, alpha))}`);
  if (alpha > 0.01) parts.push(`* q < ${formatValue(alpha)}`);
  return parts.join(" · ");
}

/** The legend's sentence about the test. */
export function testLegend(test: string, aggregate: string, barsArePrompt = true): string {
  const name = test === "welch" ? "Welch's t-test" : "Mann-Whitney U test";
  const agg = aggregate === "max" || aggregate === "mean" ? `per-prompt ${aggregate}` : "per-prompt aggregates";
  const bars = barsArePrompt
    ? `Bars and numbers: the group's average ${agg}, what the test compares (shared scale)`
    : "Bars: token mean activation (shared scale)";
  return (
    `${name} on ${agg} (prompts, not tokens), Benjamini-Hochberg corrected (q); ` +
    `marks only where the group is higher. ${bars}; r: rank-biserial effect (−1…1).`
  );
}

/** Signed effect with 2 decimals ("+0.42", "-0.10"); "–" for NaN. */
export function formatEffect(e: number): string {
  if (typeof e !== "number" || Number.isNaN(e)) return "–";
  const s = e.toFixed(2);
  if (s === "-0.00" || s === "0.00") return "0.00";
  return e > 0 ? `+${s}` : s;
}

/** q-value for display (3 significant digits, "n/a" for NaN). */
export function formatQ(q: number): string {
  return typeof q === "number" && !Number.isNaN(q) ? formatValue(q) : "n/a";
}

/** Row indices in display order: by the group's effect, descending (stable; NaN last). */
export function rowOrder(d: Pick<ContrastData, "nRows" | "groups" | "effects">, sortGroup: string): number[] {
  const order = Array.from({ length: d.nRows }, (_, i) => i);
  const g = sortGroup ? d.groups.indexOf(sortGroup) : -1;
  if (g < 0) return order;
  const key = order.map((r) => d.effects.get(r, g));
  return order.sort((a, b) => {
    const ka = key[a];
    const kb = key[b];
    const na = Number.isNaN(ka);
    const nb = Number.isNaN(kb);
    if (na || nb) return na === nb ? a - b : na ? 1 : -1;
    return ka === kb ? a - b : kb > ka ? 1 : -1;
  });
}

/** Display name of a feature: its label (cleaned, truncated) or "#<id>". */
export function featureDisplayName(id: number, label: string, max = 40): string {
  const clean = label ? cleanLabel(label, max) : "";
  return clean || `#${id}`;
}
