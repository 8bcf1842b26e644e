// Column (feature) ordering, hiding and per-column statistics.

import type { Matrix } from "./binary";

export type SortBy = "index" | "max" | "mean" | "count";
export const SORT_KEYS: readonly SortBy[] = ["index", "max", "mean", "count"];

export interface ColumnStats {
  /** Minimum per column (colour normalisation); computed from the matrix when Python sends none. */
  min?: ArrayLike<number>;
  max: ArrayLike<number>;
  mean: ArrayLike<number>;
  count: ArrayLike<number>;
}

export function isSortBy(v: unknown): v is SortBy {
  return typeof v === "string" && (SORT_KEYS as readonly string[]).includes(v);
}

/**
 * Order of columns to draw (indices into the matrix columns).
 * - "index": ascending feature id (ties: original position).
 * - "max" / "mean" / "count": descending statistic, NaN last, ties by feature id.
 * Columns flagged always-on are dropped when hideAlwaysOn is set.
 */
export function columnOrder(
  nCols: number,
  featureIds: ArrayLike<number>,
  stats: ColumnStats | null,
  sortBy: SortBy,
  hideAlwaysOn: boolean,
  alwaysOn: ArrayLike<boolean> | null,
): number[] {
  const cols: number[] = [];
  for (let c = 0; c < nCols; c++) {
    if (hideAlwaysOn && alwaysOn && alwaysOn[c] === true) continue;
    cols.push(c);
  }
  const id = (c: number) => {
    const v = featureIds[c];
    return typeof v === "number" && Number.isFinite(v) ? v : c;
  };
  const byId = (a: number, b: number) => id(a) - id(b) || a - b;
  if (sortBy === "index" || !stats) {
    cols.sort(byId);
    return cols;
  }
  const key = stats[sortBy];
  const val = (c: number) => {
    const v = key[c];
    return typeof v === "number" && !Number.isNaN(v) ? v : -Infinity;
  };
  cols.sort((a, b) => {
    const va = val(a);
    const vb = val(b);
    if (va !== vb) return vb > va ? 1 : -1;
    return byId(a, b);
  });
  return cols;
}

/** Per-column min / max / mean / count of non-zero values (fallback when Python sends none). */
export function computeColumnStats(m: Matrix): ColumnStats & { min: Float64Array } {
  const min = new Float64Array(m.nCols).fill(Infinity);
  const max = new Float64Array(m.nCols).fill(-Infinity);
  const sum = new Float64Array(m.nCols);
  const count = new Float64Array(m.nCols);
  const stored = new Float64Array(m.nCols);
  for (let r = 0; r < m.nRows; r++) {
    m.forEachInRow(r, (c, v) => {
      stored[c] += 1;
      if (Number.isNaN(v)) return;
      if (v > max[c]) max[c] = v;
      if (v < min[c]) min[c] = v;
      sum[c] += v;
      if (v !== 0) count[c] += 1;
    });
  }
  const mean = new Float64Array(m.nCols);
  for (let c = 0; c < m.nCols; c++) {
    mean[c] = m.nRows > 0 ? sum[c] / m.nRows : 0;
    // Sparse matrices hold implicit zeros wherever a column stores fewer than nRows values.
    if (stored[c] < m.nRows && max[c] < 0) max[c] = 0;
    if (stored[c] < m.nRows && min[c] > 0) min[c] = 0;
    if (max[c] === -Infinity) max[c] = NaN;
    if (min[c] === Infinity) min[c] = NaN;
  }
  return { min, max, mean, count };
}
