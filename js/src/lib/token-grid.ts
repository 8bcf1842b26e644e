// The canvas token grid shared by the heatmap and the checkpoint scrubber: a scroll container whose
// spacer gives the scrollbars their extent (capped at MAX_SCROLL_EXTENT, with scaled scrolling past it),
// a sticky viewport-sized canvas painted with only the visible cells (paint.ts), pointer handling
// (hover, click -> cell / header / gutter) and the tooltip. What a cell means (values, labels, tooltip
// rows, what a click selects) stays with the view.
//
// DOM: div.fv-scroll > div.fv-spacer > canvas.fv-heatmap-canvas, plus .fv-tooltip in the host.

import { context2d, h } from "./dom";
import { formatUncertain } from "./format";
import {
  contentSize,
  type Hit,
  hitTest,
  type Layout,
  scrollToShow,
  spacerExtent,
  toContentScroll,
  toScrollerScroll,
  type Viewport,
  visibleRange,
} from "./grid-layout";
import { type PaintParams, paint } from "./paint";
import { cleanLabel, tokenTooltip } from "./tokens";
import { createTooltip, type TooltipRow } from "./tooltip";
import type { Scope } from "./view";

export const CELL_W = 12;
export const CELL_H = 14;
/** Viewport size while the scroller has no layout yet (hidden, or a headless DOM). */
export const FALLBACK_VIEW_W = 800;
export const MAX_VIEW_H = 480;

export type Hover = { row: number; col: number } | null;
export type Range = { start: number; end: number };

export interface TokenGridOptions {
  /** The view's root: holds the tooltip, which is positioned relative to it. */
  host: HTMLElement;
  scope: Scope;
  /** Ask the view for a redraw (the hover moved, or the grid scrolled). */
  redraw(): void;
  /** Tooltip rows for what is under the pointer (null: no tooltip). */
  tooltip(hit: Hit): TooltipRow[] | null;
  /** A click on the grid (only while it is shown). */
  click(hit: Hit): void;
}

/** What paint() needs beyond the grid's own geometry, viewport and hover. */
export type GridPaint = Omit<PaintParams, "layout" | "vp" | "hover">;

export interface TokenGrid {
  /** The scroll container (append it to the view). */
  readonly el: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly layout: Layout;
  /** The viewport in content coordinates (as of the last measure / scroll). */
  readonly vp: Viewport;
  readonly hover: Hover;
  readonly shown: boolean;
  /** Set the geometry; the spacer takes the content size, capped at MAX_SCROLL_EXTENT. */
  setLayout(layout: Layout): void;
  /** Show or hide the grid (hiding drops the tooltip). */
  show(on: boolean): void;
  /** Read the scroller's size and scroll; first scroll `reveal.index` into view along its axis. */
  measure(reveal?: { axis: "rows" | "cols"; index: number } | null): void;
  /** Size the canvas to the viewport and paint the visible cells; returns the visible ranges. */
  draw(params: GridPaint | null): { rows: Range; cols: Range };
  /** Recompute the tooltip at the last pointer position (the content under it changed). */
  refreshTooltip(): void;
  /** Drop the hover and the tooltip (the content changed). */
  clearHover(): void;
  /**
   * Make the viewport vertically resizable (CSS resize), at most `px` tall by default: the grid's height
   * follows the content up to px; once the user drags the handle, their height stays until px changes.
   */
  setViewHeight(px: number): void;
}

/** The hover cell for a hit: a cell, a whole column (header), a whole row (gutter), or nothing. */
export function hoverOf(hit: Hit): Hover {
  if (hit.region === "cell") return { row: hit.row, col: hit.col };
  if (hit.region === "header") return { row: -1, col: hit.col };
  if (hit.region === "gutter") return { row: hit.row, col: -1 };
  return null;
}

/** The visible index ranges of the grid along both axes. */
export function visibleCells(l: Layout, vp: Viewport): { rows: Range; cols: Range } {
  return {
    rows: visibleRange(vp.scrollTop, vp.height, l.headerH, l.cellH, l.nRows),
    cols: visibleRange(vp.scrollLeft, vp.width, l.gutterW, l.cellW, l.nCols),
  };
}

/** Where a token sits, for tooltips. */
export interface TokenPlaces {
  tokens: readonly string[];
  rowPrompt: ArrayLike<number>;
  rowPos: ArrayLike<number>;
  promptLengths: readonly number[];
}

/** Tooltip rows for token t: the token, its prompt (and the prompt's group), its position. */
export function tokenRows(d: TokenPlaces, t: number, group = ""): TooltipRow[] {
  const p = d.rowPrompt[t];
  return [
    ["token", tokenTooltip(d.tokens[t])],
    ["prompt", `${p}${group ? ` · ${cleanLabel(group, 80)}` : ""}`],
    ["position", `${d.rowPos[t]} of ${d.promptLengths[p] ?? 0}`],
  ];
}

/** A value for a tooltip, with its quantisation error when there is one (formatUncertain's digits). */
export function valueText(value: number, halfStep = 0): string {
  return formatUncertain(value, halfStep);
}

export function createTokenGrid(o: TokenGridOptions): TokenGrid {
  const canvas = h("canvas", { className: "fv-heatmap-canvas" });
  const spacer = h("div", { className: "fv-spacer" }, [canvas]);
  const scroller = h("div", { className: "fv-scroll" }, [spacer]);
  const tooltip = createTooltip(o.host);
  const ctx = context2d(canvas);
  let layout: Layout = { cellW: CELL_W, cellH: CELL_H, gutterW: 0, headerH: 0, nRows: 0, nCols: 0 };
  const vp: Viewport = { scrollLeft: 0, scrollTop: 0, width: 0, height: 0 };
  let content = { width: 0, height: 0 };
  let extent = { width: 0, height: 0 };
  let hover: Hover = null;
  let shown = true;
  let pointer: { hit: Hit; x: number; y: number } | null = null;
  let viewHeight = 0; // 0: the CSS max-height decides
  let heightSet = ""; // the inline height this grid last wrote (another one: the user dragged the handle)

  const fitHeight = () => {
    if (!viewHeight) return;
    const dragged = scroller.style.height !== "" && scroller.style.height !== heightSet;
    if (dragged) return;
    // Room for a horizontal scrollbar when the content is wider than the viewport (offset - client - borders).
    const bar = scroller.scrollWidth > scroller.clientWidth ? scroller.offsetHeight - scroller.clientHeight - 2 : 0;
    const px = `${Math.round(Math.min(viewHeight, content.height + 2 + Math.max(0, bar)))}px`;
    scroller.style.height = px;
    heightSet = px;
  };

  /** Scroller offsets -> content offsets (they differ only past MAX_SCROLL_EXTENT). */
  const syncScroll = () => {
    vp.scrollLeft = toContentScroll(scroller.scrollLeft || 0, content.width, extent.width, vp.width);
    vp.scrollTop = toContentScroll(scroller.scrollTop || 0, content.height, extent.height, vp.height);
  };

  const locate = (e: MouseEvent) => {
    const rect = canvas.getBoundingClientRect();
    const hostRect = o.host.getBoundingClientRect();
    const hit = hitTest(layout, vp, e.clientX - rect.left, e.clientY - rect.top);
    return { hit, x: e.clientX - hostRect.left, y: e.clientY - hostRect.top };
  };

  const setHover = (next: Hover) => {
    if (next?.row === hover?.row && next?.col === hover?.col) return;
    hover = next;
    o.redraw();
  };

  const grid: TokenGrid = {
    el: scroller,
    canvas,
    get layout() {
      return layout;
    },
    vp,
    get hover() {
      return hover;
    },
    get shown() {
      return shown;
    },
    setLayout(l) {
      layout = l;
      content = contentSize(l);
      extent = { width: spacerExtent(content.width), height: spacerExtent(content.height) };
      spacer.style.width = `${extent.width}px`;
      spacer.style.height = `${extent.height}px`;
      fitHeight();
    },
    show(on) {
      shown = on;
      scroller.style.display = on ? "" : "none";
      if (!on) tooltip.hide();
    },
    measure(reveal) {
      const cw = scroller.clientWidth;
      const ch = scroller.clientHeight;
      vp.width = Math.max(0, Math.min(content.width, cw > 0 ? cw : FALLBACK_VIEW_W));
      vp.height = Math.max(0, Math.min(content.height, ch > 0 ? ch : MAX_VIEW_H));
      syncScroll();
      if (reveal && reveal.index >= 0) {
        const l = layout;
        if (reveal.axis === "rows") {
          const top = scrollToShow(reveal.index, l.cellH, vp.scrollTop, vp.height, l.headerH, l.nRows);
          if (top !== vp.scrollTop)
            scroller.scrollTop = toScrollerScroll(top, content.height, extent.height, vp.height);
        } else {
          const left = scrollToShow(reveal.index, l.cellW, vp.scrollLeft, vp.width, l.gutterW, l.nCols);
          if (left !== vp.scrollLeft)
            scroller.scrollLeft = toScrollerScroll(left, content.width, extent.width, vp.width);
        }
        syncScroll();
      }
    },
    draw(params) {
      const dpr = typeof window !== "undefined" && window.devicePixelRatio > 0 ? window.devicePixelRatio : 1;
      const pw = Math.round(vp.width * dpr);
      const ph = Math.round(vp.height * dpr);
      if (canvas.width !== pw) canvas.width = pw;
      if (canvas.height !== ph) canvas.height = ph;
      const w = `${vp.width}px`;
      const hh = `${vp.height}px`;
      if (canvas.style.width !== w) canvas.style.width = w;
      if (canvas.style.height !== hh) canvas.style.height = hh;
      if (!params || !ctx) return visibleCells(layout, vp);
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const res = paint(ctx, { ...params, layout, vp, hover });
      return { rows: { start: res.rows[0], end: res.rows[1] }, cols: { start: res.cols[0], end: res.cols[1] } };
    },
    refreshTooltip() {
      const rows = pointer && shown ? o.tooltip(pointer.hit) : null;
      if (rows && pointer) tooltip.show(rows, pointer.x, pointer.y);
      else tooltip.hide();
    },
    clearHover() {
      pointer = null;
      hover = null;
      tooltip.hide();
    },
    setViewHeight(px) {
      if (px === viewHeight) return;
      viewHeight = px;
      scroller.classList.add("fv-resizable");
      heightSet = "";
      scroller.style.height = "";
      fitHeight();
    },
  };

  o.scope.on<MouseEvent>(canvas, "mousemove", (e) => {
    if (!shown) return;
    pointer = locate(e);
    setHover(hoverOf(pointer.hit));
    grid.refreshTooltip();
  });
  o.scope.on(canvas, "mouseleave", () => {
    pointer = null;
    tooltip.hide();
    setHover(null);
  });
  o.scope.on<MouseEvent>(canvas, "click", (e) => {
    if (shown) o.click(locate(e).hit);
  });
  o.scope.on(
    scroller,
    "scroll",
    () => {
      // The content moved under the pointer: drop the stale tooltip / hover.
      grid.clearHover();
      syncScroll();
      o.redraw();
    },
    { passive: true },
  );
  o.scope.defer(() => tooltip.destroy());
  return grid;
}
