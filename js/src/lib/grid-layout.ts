// Pure geometry of a virtualised grid with a sticky left gutter and a sticky
// header. "Visual" rows/columns are what is drawn (tokens x features, or
// features x tokens when transposed).
//
// Content coordinates: the scroll container's spacer is contentW x contentH.
// The canvas is the viewport (sticky), so a cell (r, c) is drawn at
//   x = gutterW + c * cellW - scrollLeft,  y = headerH + r * cellH - scrollTop
// and the gutter / header are drawn on top at fixed positions.

export interface Layout {
  cellW: number;
  cellH: number;
  gutterW: number;
  headerH: number;
  nRows: number;
  nCols: number;
}

export interface Viewport {
  scrollLeft: number;
  scrollTop: number;
  width: number;
  height: number;
}

export type Hit =
  | { region: "cell"; row: number; col: number }
  | { region: "header"; col: number }
  | { region: "gutter"; row: number }
  | { region: "corner" }
  | { region: "none" };

export function contentSize(l: Layout): { width: number; height: number } {
  return { width: l.gutterW + l.nCols * l.cellW, height: l.headerH + l.nRows * l.cellH };
}

/** Index range [start, end) of cells visible along one axis. */
export function visibleRange(
  scroll: number,
  viewSize: number,
  offset: number,
  cell: number,
  n: number,
): { start: number; end: number } {
  if (n <= 0 || cell <= 0) return { start: 0, end: 0 };
  const avail = Math.max(0, viewSize - offset);
  const start = clampInt(Math.floor(Math.max(0, scroll) / cell), 0, n);
  const end = clampInt(Math.ceil((Math.max(0, scroll) + avail) / cell), start, n);
  return { start, end };
}

/** What is under viewport pixel (x, y)? */
export function hitTest(l: Layout, vp: Viewport, x: number, y: number): Hit {
  if (!(x >= 0 && y >= 0 && x < vp.width && y < vp.height)) return { region: "none" };
  const inGutter = x < l.gutterW;
  const inHeader = y < l.headerH;
  if (inGutter && inHeader) return { region: "corner" };
  const col = Math.floor((x - l.gutterW + vp.scrollLeft) / l.cellW);
  const row = Math.floor((y - l.headerH + vp.scrollTop) / l.cellH);
  const colOk = col >= 0 && col < l.nCols;
  const rowOk = row >= 0 && row < l.nRows;
  if (inHeader) return colOk ? { region: "header", col } : { region: "none" };
  if (inGutter) return rowOk ? { region: "gutter", row } : { region: "none" };
  return colOk && rowOk ? { region: "cell", row, col } : { region: "none" };
}

/** Viewport x of the left edge of visual column c. */
export function columnX(l: Layout, vp: Viewport, c: number): number {
  return l.gutterW + c * l.cellW - vp.scrollLeft;
}

/** Viewport y of the top edge of visual row r. */
export function rowY(l: Layout, vp: Viewport, r: number): number {
  return l.headerH + r * l.cellH - vp.scrollTop;
}

/**
 * Scroll position that brings cell `index` fully into view along one axis
 * (centred if it has to move); returns `scroll` unchanged when already visible.
 */
export function scrollToShow(
  index: number,
  cell: number,
  scroll: number,
  viewSize: number,
  offset: number,
  n: number,
): number {
  const avail = Math.max(cell, viewSize - offset);
  const lo = index * cell;
  const hi = lo + cell;
  if (lo >= scroll && hi <= scroll + avail) return scroll;
  const maxScroll = Math.max(0, n * cell - avail);
  return clampInt(Math.round(lo - (avail - cell) / 2), 0, maxScroll);
}

function clampInt(v: number, lo: number, hi: number): number {
  return v < lo ? lo : Math.min(v, hi);
}

/**
 * Largest extent (px) a scroll spacer may take along one axis. Browsers cap
 * element sizes and clip silently beyond (Firefox ~17.9M px, Chromium
 * ~33.5M px): past this, the spacer stays at the cap and scrolling is scaled
 * (see toContentScroll), so every row stays reachable.
 */
export const MAX_SCROLL_EXTENT = 8_000_000;

/** Size of the scroll spacer for a content extent. */
export function spacerExtent(content: number, max = MAX_SCROLL_EXTENT): number {
  return Math.max(0, Math.min(content, max));
}

/**
 * Content offset shown at a scroller offset along one axis: the identity while
 * the spacer holds the whole content, else proportional (both ends map to both ends).
 */
export function toContentScroll(scroll: number, content: number, spacer: number, view: number): number {
  if (content <= spacer) return scroll;
  const range = spacer - view;
  if (range <= 0) return 0;
  return Math.round(clampInt(scroll / range, 0, 1) * Math.max(0, content - view));
}

/** The scroller offset that shows a content offset (inverse of toContentScroll). */
export function toScrollerScroll(contentScroll: number, content: number, spacer: number, view: number): number {
  if (content <= spacer) return contentScroll;
  const range = content - view;
  if (range <= 0) return 0;
  return Math.round(clampInt(contentScroll / range, 0, 1) * Math.max(0, spacer - view));
}
