// Small numeric helpers shared by the views.

/** Index of the value nearest to v (-1 when there is none). */
export function nearestIndex(values: ArrayLike<number>, v: number): number {
  let best = -1;
  let bestDist = Infinity;
  for (let i = 0; i < values.length; i++) {
    const d = Math.abs(values[i] - v);
    if (d < bestDist) {
      bestDist = d;
      best = i;
    }
  }
  return best;
}

/** id -> index of its first occurrence in ids. */
export function indexIds(ids: readonly number[]): Map<number, number> {
  const m = new Map<number, number>();
  ids.forEach((id, i) => {
    if (!m.has(id)) m.set(id, i);
  });
  return m;
}
