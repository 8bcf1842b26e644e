// The canvas token grid shared by the heatmap and the scrubber: pointer -> cell, the capped scroll
// spacer with scaled scrolling, and painting only the visible window.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeScale } from "../src/lib/colour";
import { type Hit, type Layout, MAX_SCROLL_EXTENT, toContentScroll } from "../src/lib/grid-layout";
import { readTheme } from "../src/lib/theme";
import {
  CELL_H,
  CELL_W,
  createTokenGrid,
  FALLBACK_VIEW_W,
  type GridPaint,
  MAX_VIEW_H,
  type TokenGrid,
  tokenRows,
  valueText,
} from "../src/lib/token-grid";
import { createScope, type Scope } from "../src/lib/view";
import { FakeModel, mouse, stubCanvas } from "./helpers";

const GUTTER = 100;
const HEADER = 50;
const layoutOf = (nRows: number, nCols: number): Layout => ({
  cellW: CELL_W,
  cellH: CELL_H,
  gutterW: GUTTER,
  headerH: HEADER,
  nRows,
  nCols,
});

let canvasStub: ReturnType<typeof stubCanvas>;
let host: HTMLElement;
let scope: Scope;
let hits: Hit[];
let clicks: Hit[];
let redraws: number;

function mount(nRows: number, nCols: number): TokenGrid {
  const grid = createTokenGrid({
    host,
    scope,
    redraw: () => redraws++,
    tooltip: (hit) => {
      hits.push(hit);
      return hit.region === "cell" ? [["cell", `${hit.row},${hit.col}`]] : null;
    },
    click: (hit) => clicks.push(hit),
  });
  host.appendChild(grid.el);
  grid.setLayout(layoutOf(nRows, nCols));
  grid.measure();
  return grid;
}

function scrollTo(grid: TokenGrid, top: number, left = 0) {
  grid.el.scrollTop = top;
  grid.el.scrollLeft = left;
  grid.el.dispatchEvent(new Event("scroll"));
}

const spacer = (grid: TokenGrid) => grid.el.querySelector<HTMLElement>(".fv-spacer")!;
const tooltip = () => host.querySelector<HTMLElement>(".fv-tooltip")!;
const cellX = (c: number) => GUTTER + c * CELL_W + CELL_W / 2;
const cellY = (r: number) => HEADER + r * CELL_H + CELL_H / 2;

function paintParams(): GridPaint {
  const theme = readTheme(null);
  return {
    theme,
    scale: makeScale({ vmin: 0, vmax: 1, background: theme.background, dark: theme.dark }),
    tokenAxis: "rows",
    value: () => 0.5,
    rowLabel: (r) => `t${r}`,
    colLabel: (c) => `f${c}`,
    bands: { promptStarts: [0], promptLengths: [1], promptGroupSlot: [], promptGroups: [], show: false },
    selected: -1,
    groupNameSize: 0,
    groupStripSize: 0,
  };
}

const cellRects = () =>
  canvasStub.calls.filter((c) => c.name === "fillRect" && c.args[2] === CELL_W && c.args[3] === CELL_H);

beforeEach(() => {
  canvasStub = stubCanvas();
  host = document.createElement("div");
  document.body.appendChild(host);
  scope = createScope(new FakeModel({}), () => undefined);
  hits = [];
  clicks = [];
  redraws = 0;
});

afterEach(() => {
  scope.dispose();
  host.remove();
  canvasStub.restore();
});

describe("token grid pointer", () => {
  it("maps the pointer to cells, header columns and gutter rows", () => {
    const grid = mount(20, 10);
    mouse(grid.canvas, "mousemove", cellX(3), cellY(7));
    expect(hits.at(-1)).toEqual({ region: "cell", row: 7, col: 3 });
    expect(grid.hover).toEqual({ row: 7, col: 3 });
    expect(tooltip().style.display).toBe("block");
    expect(tooltip().textContent).toContain("7,3");
    expect(redraws).toBe(1);
    // The same cell again: no redraw.
    mouse(grid.canvas, "mousemove", cellX(3) + 2, cellY(7) + 2);
    expect(redraws).toBe(1);
    mouse(grid.canvas, "mousemove", cellX(4), 10);
    expect(hits.at(-1)).toEqual({ region: "header", col: 4 });
    expect(grid.hover).toEqual({ row: -1, col: 4 });
    expect(tooltip().style.display).toBe("none");
    mouse(grid.canvas, "mousemove", 10, cellY(2));
    expect(grid.hover).toEqual({ row: 2, col: -1 });
    mouse(grid.canvas, "mousemove", 10, 10);
    expect(hits.at(-1)).toEqual({ region: "corner" });
    expect(grid.hover).toBeNull();
    // Past the last column: nothing.
    mouse(grid.canvas, "mousemove", cellX(10), cellY(1));
    expect(hits.at(-1)).toEqual({ region: "none" });
  });

  it("clicks report the hit; leave and scroll drop hover and tooltip; a hidden grid ignores the pointer", () => {
    const grid = mount(20, 10);
    mouse(grid.canvas, "click", cellX(1), cellY(2));
    expect(clicks).toEqual([{ region: "cell", row: 2, col: 1 }]);
    mouse(grid.canvas, "mousemove", cellX(1), cellY(2));
    mouse(grid.canvas, "mouseleave", 0, 0);
    expect(grid.hover).toBeNull();
    expect(tooltip().style.display).toBe("none");
    mouse(grid.canvas, "mousemove", cellX(1), cellY(2));
    scrollTo(grid, CELL_H);
    expect(grid.hover).toBeNull();
    expect(tooltip().style.display).toBe("none");
    expect(grid.vp.scrollTop).toBe(CELL_H);
    // One row scrolled: the same pixel is the next row.
    mouse(grid.canvas, "mousemove", cellX(1), cellY(2));
    expect(hits.at(-1)).toEqual({ region: "cell", row: 3, col: 1 });
    grid.show(false);
    expect(grid.el.style.display).toBe("none");
    expect(tooltip().style.display).toBe("none");
    const n = hits.length;
    mouse(grid.canvas, "mousemove", cellX(1), cellY(2));
    mouse(grid.canvas, "click", cellX(1), cellY(2));
    expect(hits.length).toBe(n);
    expect(clicks.length).toBe(1);
  });

  it("refreshTooltip recomputes the rows at the last pointer position", () => {
    const grid = mount(20, 10);
    mouse(grid.canvas, "mousemove", cellX(0), cellY(0));
    const n = hits.length;
    grid.refreshTooltip();
    expect(hits.length).toBe(n + 1);
    grid.clearHover();
    grid.refreshTooltip();
    expect(hits.length).toBe(n + 1);
    expect(tooltip().style.display).toBe("none");
  });
});

describe("token grid scrolling", () => {
  it("caps the spacer at MAX_SCROLL_EXTENT and scales scrolling so the last row is reachable", () => {
    const n = 3_000_000;
    const grid = mount(n, 2);
    const contentH = HEADER + n * CELL_H;
    expect(spacer(grid).style.height).toBe(`${MAX_SCROLL_EXTENT}px`);
    expect(spacer(grid).style.width).toBe(`${GUTTER + 2 * CELL_W}px`);
    expect(grid.vp.height).toBe(MAX_VIEW_H);
    scrollTo(grid, MAX_SCROLL_EXTENT - MAX_VIEW_H);
    expect(grid.vp.scrollTop).toBe(contentH - MAX_VIEW_H);
    mouse(grid.canvas, "mousemove", cellX(0), MAX_VIEW_H - CELL_H / 2);
    expect(hits.at(-1)).toEqual({ region: "cell", row: n - 1, col: 0 });
    // Middle: proportional.
    const mid = Math.round((MAX_SCROLL_EXTENT - MAX_VIEW_H) / 2);
    scrollTo(grid, mid);
    expect(grid.vp.scrollTop).toBe(toContentScroll(mid, contentH, MAX_SCROLL_EXTENT, MAX_VIEW_H));
  });

  it("small grids scroll 1:1 and are not capped", () => {
    const grid = mount(100, 200);
    expect(spacer(grid).style.height).toBe(`${HEADER + 100 * CELL_H}px`);
    expect(grid.vp.width).toBe(FALLBACK_VIEW_W);
    scrollTo(grid, 70, 120);
    expect(grid.vp.scrollTop).toBe(70);
    expect(grid.vp.scrollLeft).toBe(120);
  });

  it("measure() reveals a row or column, through the scaled mapping past the cap", () => {
    const n = 3_000_000;
    const grid = mount(n, 2);
    const row = 2_000_000;
    grid.measure({ axis: "rows", index: row });
    expect(grid.el.scrollTop).toBeGreaterThan(0);
    expect(grid.el.scrollTop).toBeLessThanOrEqual(MAX_SCROLL_EXTENT);
    const rows = grid.draw(null).rows;
    expect(rows.start).toBeLessThanOrEqual(row);
    expect(rows.end).toBeGreaterThan(row);
    const wide = mount(2, 1000);
    wide.measure({ axis: "cols", index: 900 });
    expect(wide.draw(null).cols.end).toBeGreaterThan(900);
    // Already visible: no scroll.
    const before = wide.el.scrollLeft;
    wide.measure({ axis: "cols", index: wide.draw(null).cols.start + 1 });
    expect(wide.el.scrollLeft).toBe(before);
  });
});

describe("token grid drawing", () => {
  it("paints only the visible window into a viewport-sized canvas", () => {
    const grid = mount(100_000, 2_000);
    const visible = grid.draw(paintParams());
    const nRows = Math.ceil((MAX_VIEW_H - HEADER) / CELL_H);
    const nCols = Math.ceil((FALLBACK_VIEW_W - GUTTER) / CELL_W);
    expect(visible).toEqual({ rows: { start: 0, end: nRows }, cols: { start: 0, end: nCols } });
    expect(cellRects().length).toBe(nRows * nCols);
    expect(grid.canvas.style.width).toBe(`${FALLBACK_VIEW_W}px`);
    expect(grid.canvas.style.height).toBe(`${MAX_VIEW_H}px`);
    scrollTo(grid, 1000 * CELL_H, 500 * CELL_W);
    canvasStub.calls.length = 0;
    const moved = grid.draw(paintParams());
    expect(moved.rows.start).toBe(1000);
    expect(moved.cols.start).toBe(500);
    expect(cellRects().length).toBe(nRows * nCols);
    // Without paint parameters (no data yet) the ranges still come back, nothing is painted.
    canvasStub.calls.length = 0;
    expect(grid.draw(null)).toEqual(moved);
    expect(cellRects().length).toBe(0);
  });
});

describe("token tooltip rows", () => {
  it("name the token, its prompt (and group) and position; values carry their quantisation error", () => {
    const places = { tokens: ["a", "\n"], rowPrompt: [0, 1], rowPos: [0, 0], promptLengths: [1, 1] };
    expect(tokenRows(places, 1, "happy")).toEqual([
      ["token", "↵"],
      ["prompt", "1 · happy"],
      ["position", "0 of 1"],
    ]);
    expect(tokenRows(places, 0)[1]).toEqual(["prompt", "0"]);
    expect(valueText(0.5)).toBe("0.5");
    expect(valueText(0.5, 0.01)).toBe("0.5 ± 0.01");
  });
});
