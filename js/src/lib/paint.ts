// Canvas painting of a virtualised heatmap grid: only the visible cells,
// plus the sticky gutter (row labels), header (column labels) and corner.
// Text goes through fillText, which cannot inject markup.

import { type ColourScale, groupColour, toCss } from "./colour";
import { columnX, type Layout, rowY, type Viewport, visibleRange } from "./grid-layout";
import type { Theme } from "./theme";

/** Bands along the token axis: prompt boundaries and their groups. */
export interface TokenBands {
  /** First token index of each prompt. */
  promptStarts: number[];
  promptLengths: number[];
  /** Colour slot per prompt, -1 for none. */
  promptGroupSlot: number[];
  promptGroups: string[];
  /** Whether to draw group strips / names. */
  show: boolean;
}

export interface PaintParams {
  layout: Layout;
  vp: Viewport;
  theme: Theme;
  scale: ColourScale;
  /** Which visual axis holds tokens. */
  tokenAxis: "rows" | "cols";
  value(row: number, col: number): number;
  rowLabel(row: number): string;
  colLabel(col: number): string;
  bands: TokenBands;
  /** Visual index of the selected feature lane (on the non-token axis), -1 for none. */
  selected: number;
  hover: { row: number; col: number } | null;
  /** Gutter sub-areas (x offsets): group-name column width and strip width (0 when no groups). */
  groupNameSize: number;
  groupStripSize: number;
  /**
   * Optional strip along the top of the column header (tokenAxis "rows" only):
   * `size` px tall, one swatch per column (css() returns null for none).
   */
  colStrip?: { size: number; css(col: number): string | null };
}

const LABEL_FONT_PX = 11;

/** Fit text into maxWidth px (measured), ending with an ellipsis when cut. */
export function fitText(ctx: CanvasRenderingContext2D, text: string, maxWidth: number): string {
  return fitMeasured(canvasMeasure(ctx), text, maxWidth);
}

/** A text's width in px with ctx's font (7 px a character where the canvas cannot measure). */
export function canvasMeasure(ctx: CanvasRenderingContext2D | null): (s: string) => number {
  return (s: string) => {
    const w = ctx?.measureText(s)?.width;
    return typeof w === "number" && Number.isFinite(w) && (w > 0 || s === "") ? w : s.length * 7;
  };
}

/** A measurer for DOM / SVG text in `font` (a CSS font shorthand), from one shared offscreen canvas. */
export function fontMeasure(font: string): (s: string) => number {
  let ctx: CanvasRenderingContext2D | null = null;
  try {
    measureCanvas ??= document.createElement("canvas");
    ctx = measureCanvas.getContext("2d");
    if (ctx) ctx.font = font;
  } catch {
    ctx = null; // no canvas (tests): the per-character estimate
  }
  const measure = canvasMeasure(ctx);
  return (s: string) => {
    if (ctx) ctx.font = font; // another measurer may have changed it
    return measure(s);
  };
}
let measureCanvas: HTMLCanvasElement | null = null;

/** Fit text into maxWidth px by `measure`, ending with an ellipsis when cut. */
export function fitMeasured(measure: (s: string) => number, text: string, maxWidth: number): string {
  if (maxWidth <= 0) return "";
  if (measure(text) <= maxWidth) return text;
  const cps = Array.from(text);
  let lo = 0;
  let hi = cps.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (measure(`${cps.slice(0, mid).join("")}…`) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo > 0 ? `${cps.slice(0, lo).join("")}…` : "…";
}
const HEADER_FONT_PX = 10;

function firstPromptAtOrAfter(starts: number[], i: number): number {
  // Binary search: first prompt index p with starts[p] >= i.
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid] < i) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function paint(
  ctx: CanvasRenderingContext2D,
  p: PaintParams,
): { rows: [number, number]; cols: [number, number] } {
  const { layout: l, vp, theme, scale } = p;
  const { cellW, cellH, gutterW, headerH } = l;
  const W = vp.width;
  const H = vp.height;
  const rows = visibleRange(vp.scrollTop, H, headerH, cellH, l.nRows);
  const cols = visibleRange(vp.scrollLeft, W, gutterW, cellW, l.nCols);
  const cellsBottom = Math.min(H, rowY(l, vp, l.nRows));
  const cellsRight = Math.min(W, columnX(l, vp, l.nCols));

  ctx.fillStyle = toCss(theme.background);
  ctx.fillRect(0, 0, W, H);

  // Cells.
  for (let r = rows.start; r < rows.end; r++) {
    const y = rowY(l, vp, r);
    for (let c = cols.start; c < cols.end; c++) {
      const v = p.value(r, c);
      if (scale.isBackground(v)) continue;
      ctx.fillStyle = scale.css(v);
      ctx.fillRect(columnX(l, vp, c), y, cellW, cellH);
    }
  }

  // Prompt separators along the token axis (drawn through cells and labels).
  const bands = p.bands;
  ctx.fillStyle = toCss(theme.separator);
  const tokRange = p.tokenAxis === "rows" ? rows : cols;
  for (
    let k = firstPromptAtOrAfter(bands.promptStarts, Math.max(1, tokRange.start));
    k < bands.promptStarts.length;
    k++
  ) {
    const s = bands.promptStarts[k];
    if (s > tokRange.end) break;
    if (s <= 0) continue;
    if (p.tokenAxis === "rows") ctx.fillRect(0, rowY(l, vp, s) - 0.5, cellsRight, 1);
    else ctx.fillRect(columnX(l, vp, s) - 0.5, 0, 1, cellsBottom);
  }

  // Hover outline.
  const hover = p.hover;
  if (hover && hover.row >= rows.start && hover.row < rows.end && hover.col >= cols.start && hover.col < cols.end) {
    ctx.strokeStyle = toCss(theme.hover);
    ctx.lineWidth = 1;
    ctx.strokeRect(columnX(l, vp, hover.col) + 0.5, rowY(l, vp, hover.row) + 0.5, cellW - 1, cellH - 1);
  }

  // Selected feature lane outline.
  const sel = p.selected;
  const selCss = toCss(theme.selection);
  if (sel >= 0) {
    ctx.strokeStyle = selCss;
    ctx.lineWidth = 2;
    if (p.tokenAxis === "rows" && sel >= cols.start && sel < cols.end) {
      ctx.strokeRect(columnX(l, vp, sel) + 1, headerH + 1, cellW - 2, Math.max(0, cellsBottom - headerH - 2));
    } else if (p.tokenAxis === "cols" && sel >= rows.start && sel < rows.end) {
      ctx.strokeRect(gutterW + 1, rowY(l, vp, sel) + 1, Math.max(0, cellsRight - gutterW - 2), cellH - 2);
    }
  }

  // Gutter (row labels).
  const panel = toCss(theme.panel);
  const text = toCss(theme.text);
  const muted = toCss(theme.textMuted);
  ctx.fillStyle = panel;
  ctx.fillRect(0, headerH, gutterW, Math.max(0, H - headerH));
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, headerH, gutterW, Math.max(0, H - headerH));
  ctx.clip();
  const labelX = p.tokenAxis === "rows" ? p.groupNameSize + p.groupStripSize + 4 : 4;
  ctx.font = `${LABEL_FONT_PX}px ${p.tokenAxis === "rows" ? theme.fontCode : theme.fontUi}`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  for (let r = rows.start; r < rows.end; r++) {
    const y = rowY(l, vp, r);
    const isSel = p.tokenAxis === "cols" && r === sel;
    const isHover = hover !== null && hover.row === r;
    if (isSel || isHover) {
      ctx.fillStyle = isSel ? selCss : toCss(theme.border);
      ctx.globalAlpha = isSel ? 0.25 : 0.5;
      ctx.fillRect(labelX - 4, y, gutterW - labelX + 4, cellH);
      ctx.globalAlpha = 1;
    }
    ctx.fillStyle = text;
    ctx.fillText(fitText(ctx, p.rowLabel(r), gutterW - labelX - 4), labelX, y + cellH / 2);
  }
  if (p.tokenAxis === "rows") {
    paintGroupBands(ctx, p, rows, "rows", headerH, H);
    ctx.fillStyle = toCss(theme.separator);
    for (
      let k = firstPromptAtOrAfter(bands.promptStarts, Math.max(1, rows.start));
      k < bands.promptStarts.length;
      k++
    ) {
      const s = bands.promptStarts[k];
      if (s > rows.end) break;
      if (s > 0) ctx.fillRect(0, rowY(l, vp, s) - 0.5, gutterW, 1);
    }
  }
  ctx.restore();
  ctx.fillStyle = toCss(theme.border);
  ctx.fillRect(gutterW - 1, headerH, 1, Math.max(0, cellsBottom - headerH));

  // Header (column labels, rotated).
  ctx.fillStyle = panel;
  ctx.fillRect(gutterW, 0, Math.max(0, W - gutterW), headerH);
  ctx.save();
  ctx.beginPath();
  ctx.rect(gutterW, 0, Math.max(0, W - gutterW), headerH);
  ctx.clip();
  const strip = p.tokenAxis === "rows" ? p.colStrip : undefined;
  const bandH = p.tokenAxis === "cols" ? p.groupNameSize + p.groupStripSize : strip ? strip.size : 0;
  if (p.tokenAxis === "cols") paintGroupBands(ctx, p, cols, "cols", gutterW, W);
  if (strip && strip.size > 0) {
    for (let c = cols.start; c < cols.end; c++) {
      const css = strip.css(c);
      if (!css) continue;
      ctx.fillStyle = css;
      ctx.fillRect(columnX(l, vp, c), 0, cellW - 1, strip.size - 2);
    }
  }
  ctx.font = `${HEADER_FONT_PX}px ${p.tokenAxis === "cols" ? theme.fontCode : theme.fontUi}`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  for (let c = cols.start; c < cols.end; c++) {
    const x = columnX(l, vp, c);
    const isSel = p.tokenAxis === "rows" && c === sel;
    const isHover = hover !== null && hover.col === c;
    if (isSel || isHover) {
      // The selected header is solid, its label in the background colour: readable in both themes.
      ctx.fillStyle = isSel ? selCss : toCss(theme.border);
      ctx.globalAlpha = isSel ? 1 : 0.5;
      ctx.fillRect(x, bandH, cellW, headerH - bandH);
      ctx.globalAlpha = 1;
    }
    ctx.save();
    ctx.translate(x + cellW / 2, headerH - 3);
    ctx.rotate(-Math.PI / 2);
    ctx.fillStyle = isSel ? toCss(theme.background) : text;
    ctx.fillText(fitText(ctx, p.colLabel(c), headerH - bandH - 6), 0, 0);
    ctx.restore();
  }
  if (p.tokenAxis === "cols") {
    ctx.fillStyle = toCss(theme.separator);
    for (
      let k = firstPromptAtOrAfter(bands.promptStarts, Math.max(1, cols.start));
      k < bands.promptStarts.length;
      k++
    ) {
      const s = bands.promptStarts[k];
      if (s > cols.end) break;
      if (s > 0) ctx.fillRect(columnX(l, vp, s) - 0.5, 0, 1, headerH);
    }
  }
  ctx.restore();
  ctx.fillStyle = toCss(theme.border);
  ctx.fillRect(gutterW, headerH - 1, Math.max(0, cellsRight - gutterW), 1);

  // Corner.
  ctx.fillStyle = panel;
  ctx.fillRect(0, 0, gutterW, headerH);
  ctx.fillStyle = muted;
  ctx.font = `${HEADER_FONT_PX}px ${theme.fontUi}`;
  ctx.textAlign = "right";
  ctx.textBaseline = "bottom";
  const [down, right] = p.tokenAxis === "rows" ? ["tokens ↓", "features →"] : ["features ↓", "tokens →"];
  ctx.fillText(right, gutterW - 6, headerH - 16);
  ctx.fillText(down, gutterW - 6, headerH - 4);
  ctx.textAlign = "left";

  return { rows: [rows.start, rows.end], cols: [cols.start, cols.end] };
}

/** Group strips + names along the token axis, inside the gutter (rows) or header (cols). */
function paintGroupBands(
  ctx: CanvasRenderingContext2D,
  p: PaintParams,
  range: { start: number; end: number },
  axis: "rows" | "cols",
  minPos: number,
  maxPos: number,
): void {
  const b = p.bands;
  if (!b.show || range.end <= range.start) return;
  const { layout: l, vp, theme } = p;
  const cell = axis === "rows" ? l.cellH : l.cellW;
  const pos = (i: number) => (axis === "rows" ? rowY(l, vp, i) : columnX(l, vp, i));
  let k = Math.max(0, firstPromptAtOrAfter(b.promptStarts, range.start + 1) - 1);
  ctx.font = `${10}px ${theme.fontUi}`;
  for (; k < b.promptStarts.length; k++) {
    const start = b.promptStarts[k];
    if (start >= range.end) break;
    const len = b.promptLengths[k];
    const slot = b.promptGroupSlot[k];
    if (slot < 0 || len <= 0) continue;
    const a = Math.max(minPos, pos(start));
    const z = Math.min(maxPos, pos(start) + len * cell);
    if (z <= a) continue;
    const colour = toCss(groupColour(slot));
    ctx.fillStyle = colour;
    if (axis === "rows") {
      ctx.fillRect(p.groupNameSize, a, p.groupStripSize - 2, z - a);
    } else {
      ctx.fillRect(a, p.groupNameSize, z - a, p.groupStripSize - 2);
    }
    // Name at the start of the prompt's visible extent, clipped to it.
    const name = b.promptGroups[k];
    if (!name || z - a < 8) continue;
    ctx.save();
    ctx.beginPath();
    if (axis === "rows") ctx.rect(0, a, p.groupNameSize, z - a);
    else ctx.rect(a, 0, z - a, p.groupNameSize);
    ctx.clip();
    ctx.fillStyle = toCss(theme.text);
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    if (axis === "rows") ctx.fillText(fitText(ctx, name, p.groupNameSize - 5), 3, a + Math.min(cell, z - a) / 2);
    else ctx.fillText(fitText(ctx, name, z - a - 4), a + 2, p.groupNameSize / 2);
    ctx.restore();
  }
}
