import { describe, expect, it } from "vitest";
import { decodeMatrix } from "../src/lib/binary";
import { contentSize, hitTest, type Layout, scrollToShow, visibleRange } from "../src/lib/grid-layout";
import { columnOrder, computeColumnStats, isSortBy } from "../src/lib/order";
import { csrTrait, denseTrait } from "./helpers";

describe("columnOrder", () => {
  const ids = [30, 10, 20, 40];
  const stats = { max: [1, 5, 3, NaN], mean: [0.5, 0.1, 0.2, 0.3], count: [2, 2, 7, 1] };
  const alwaysOn = [false, true, false, false];

  it("sorts by feature id for 'index'", () => {
    expect(columnOrder(4, ids, stats, "index", false, alwaysOn)).toEqual([1, 2, 0, 3]);
  });
  it("sorts descending by max with NaN last", () => {
    expect(columnOrder(4, ids, stats, "max", false, alwaysOn)).toEqual([1, 2, 0, 3]);
  });
  it("sorts descending by mean", () => {
    expect(columnOrder(4, ids, stats, "mean", false, alwaysOn)).toEqual([0, 3, 2, 1]);
  });
  it("breaks ties by feature id", () => {
    // count: cols 0 (id 30) and 1 (id 10) tie at 2 -> id 10 first.
    expect(columnOrder(4, ids, stats, "count", false, alwaysOn)).toEqual([2, 1, 0, 3]);
  });
  it("hides always-on columns", () => {
    expect(columnOrder(4, ids, stats, "max", true, alwaysOn)).toEqual([2, 0, 3]);
    expect(columnOrder(4, ids, stats, "index", true, null)).toEqual([1, 2, 0, 3]);
    expect(columnOrder(2, [0, 1], stats, "index", true, [true, true])).toEqual([]);
  });
  it("validates sort keys", () => {
    expect(isSortBy("max")).toBe(true);
    expect(isSortBy("bogus")).toBe(false);
  });
});

describe("computeColumnStats", () => {
  const rows = [
    [0, 2, -1],
    [4, 0, -3],
  ];
  it("matches for dense and csr", () => {
    for (const trait of [denseTrait(rows), csrTrait(rows)]) {
      const res = decodeMatrix(trait);
      if (!res.ok) throw new Error(res.error);
      const s = computeColumnStats(res.matrix);
      expect(Array.from(s.max)).toEqual([4, 2, -1]);
      expect(Array.from(s.mean)).toEqual([2, 1, -2]);
      expect(Array.from(s.count)).toEqual([1, 1, 2]);
    }
  });
});

describe("layout", () => {
  const l: Layout = { cellW: 12, cellH: 14, gutterW: 120, headerH: 56, nRows: 100, nCols: 50 };
  const vp = { scrollLeft: 0, scrollTop: 0, width: 400, height: 300 };

  it("computes content size", () => {
    expect(contentSize(l)).toEqual({ width: 120 + 600, height: 56 + 1400 });
  });
  it("finds the cell under a pixel", () => {
    expect(hitTest(l, vp, 120, 56)).toEqual({ region: "cell", row: 0, col: 0 });
    expect(hitTest(l, vp, 131, 69)).toEqual({ region: "cell", row: 0, col: 0 });
    expect(hitTest(l, vp, 132, 70)).toEqual({ region: "cell", row: 1, col: 1 });
    expect(hitTest(l, vp, 10, 10)).toEqual({ region: "corner" });
    expect(hitTest(l, vp, 150, 10)).toEqual({ region: "header", col: 2 });
    expect(hitTest(l, vp, 10, 100)).toEqual({ region: "gutter", row: 3 });
    expect(hitTest(l, vp, -1, 100)).toEqual({ region: "none" });
    expect(hitTest(l, vp, 400, 100)).toEqual({ region: "none" });
  });
  it("accounts for scrolling (gutter and header are sticky)", () => {
    const s = { ...vp, scrollLeft: 24, scrollTop: 28 };
    expect(hitTest(l, s, 120, 56)).toEqual({ region: "cell", row: 2, col: 2 });
    expect(hitTest(l, s, 125, 10)).toEqual({ region: "header", col: 2 });
    expect(hitTest(l, s, 5, 60)).toEqual({ region: "gutter", row: 2 });
  });
  it("returns none beyond the last row/column", () => {
    const small: Layout = { ...l, nRows: 2, nCols: 2 };
    expect(hitTest(small, vp, 150, 60)).toEqual({ region: "none" });
    expect(hitTest(small, vp, 125, 90)).toEqual({ region: "none" });
  });
  it("computes visible ranges", () => {
    expect(visibleRange(0, 400, 120, 12, 50)).toEqual({ start: 0, end: 24 });
    expect(visibleRange(30, 400, 120, 12, 50)).toEqual({ start: 2, end: 26 });
    expect(visibleRange(10_000, 400, 120, 12, 50)).toEqual({ start: 50, end: 50 });
    expect(visibleRange(0, 400, 120, 12, 0)).toEqual({ start: 0, end: 0 });
  });
  it("scrolls a lane into view only when needed", () => {
    expect(scrollToShow(3, 12, 0, 400, 120, 50)).toBe(0);
    const s = scrollToShow(40, 12, 0, 400, 120, 50);
    expect(s).toBeGreaterThan(0);
    const r = visibleRange(s, 400, 120, 12, 50);
    expect(40).toBeGreaterThanOrEqual(r.start);
    expect(40).toBeLessThan(r.end);
    expect(scrollToShow(49, 12, 0, 400, 120, 50)).toBe(50 * 12 - 280);
  });
});
