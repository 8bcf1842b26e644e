// The checkpoint scrubber's grid: the token grid (token-grid.ts) painting one checkpoint's frame, with
// the match-cosine strip above each column, in the notebook's theme. A checkpoint switch repaints the
// visible cells without reading the DOM (sizes are measured only when they may have changed) and
// records how long it took in data-frame-ms.

import { type ColourScale, makeScale, mix, toCss } from "./colour";
import type { Hit, Layout } from "./grid-layout";
import { frameValue, frameView, type ScrubberData } from "./scrubber-data";
import { readTheme, setAccent, type Theme } from "./theme";
import { CELL_H, CELL_W, createTokenGrid, type GridPaint, type TokenGrid } from "./token-grid";
import { tokenLabel } from "./tokens";
import type { TooltipRow } from "./tooltip";
import type { Scope } from "./view";

const TOKEN_LABEL_W = 120;
const FEATURE_HEADER_H = 56;
/** Match-cosine strip along the top of the column header. */
const COSINE_STRIP = 8;

const now = (): number => (typeof performance !== "undefined" && performance.now ? performance.now() : Date.now());

/** Match-cosine colours, 0 … 1 in 21 steps from the panel colour to the accent. */
function cosineColours(theme: Theme): string[] {
  return Array.from({ length: 21 }, (_, i) => toCss(mix(theme.panel, theme.selection, i / 20)));
}

function cosineCss(lut: readonly string[], v: number): string | null {
  if (!Number.isFinite(v)) return null;
  const t = v < 0 ? 0 : Math.min(v, 1);
  return lut[Math.round(t * 20)] ?? null;
}

function layoutOf(d: ScrubberData | null): Layout {
  return {
    cellW: CELL_W,
    cellH: CELL_H,
    gutterW: TOKEN_LABEL_W,
    headerH: FEATURE_HEADER_H + (d?.hasCosine ? COSINE_STRIP : 0),
    nRows: d ? d.nTokens : 0,
    nCols: d ? d.nFeatures : 0,
  };
}

interface FrameLook {
  theme: Theme;
  scale: ColourScale;
  cosine: readonly string[];
  tokenLabels: readonly string[];
  headerLabels: readonly string[];
  /** Matrix column of the selected feature, -1 for none. */
  selected: number;
}

/** What the grid paints for checkpoint c0. */
function framePaint(d: ScrubberData, c0: number, look: FrameLook): GridPaint {
  const F = d.nFeatures;
  const fr = frameView(d, c0);
  const cosBase = c0 * F;
  return {
    theme: look.theme,
    scale: look.scale,
    tokenAxis: "rows",
    value: fr ? (r, c) => fr[r * F + c] : (r, c) => frameValue(d, c0, r, c),
    rowLabel: (r) => look.tokenLabels[r],
    colLabel: (c) => look.headerLabels[c],
    bands: {
      promptStarts: d.promptStarts,
      promptLengths: d.promptLengths,
      promptGroupSlot: [],
      promptGroups: [],
      show: false,
    },
    selected: look.selected,
    groupNameSize: 0,
    groupStripSize: 0,
    colStrip: d.hasCosine
      ? { size: COSINE_STRIP, css: (c) => cosineCss(look.cosine, d.cosine[cosBase + c]) }
      : undefined,
  };
}

export interface FrameGridOptions {
  scope: Scope;
  /** The view's root: holds the tooltip; gets the accent, data-theme and data-frame-ms. */
  host: HTMLElement;
  redraw(): void;
  tooltip(hit: Hit): TooltipRow[] | null;
  click(hit: Hit): void;
  /** The theme changed: the colour scale (for the legend) and the cosine colours (for the strip key). */
  onColours(scale: ColourScale | null, cosine: readonly string[]): void;
}

export interface FrameGrid {
  readonly grid: TokenGrid;
  /** Re-read the notebook theme. */
  applyTheme(): void;
  /** New data (null: none). */
  setData(d: ScrubberData | null): void;
  /** Sizes may have changed; `reveal`: scroll the selected column into view on the next paint. */
  invalidate(reveal?: boolean): void;
  /** Measure (always) and paint checkpoint `index`, the column `selected` (-1: none) outlined. */
  paint(index: number, selected: number): void;
  /** Paint a checkpoint switch (measuring only if needed) and record how long it took. */
  paintFrame(index: number, selected: number): void;
}

export function createFrameGrid(o: FrameGridOptions): FrameGrid {
  const grid = createTokenGrid({ host: o.host, scope: o.scope, redraw: o.redraw, tooltip: o.tooltip, click: o.click });
  let data: ScrubberData | null = null;
  let theme: Theme = readTheme(o.host);
  let scale: ColourScale | null = null;
  let cosine: string[] = [];
  let tokenLabels: string[] = [];
  let headerLabels: string[] = [];
  let sizeDirty = true;
  let reveal = true;

  function measure(selected: number): void {
    grid.measure(reveal && selected >= 0 ? { axis: "cols", index: selected } : null);
    reveal = false;
    sizeDirty = false;
  }

  function draw(index: number, selected: number): void {
    const d = data;
    if (!d || !grid.shown) return;
    if (!scale) {
      scale = makeScale({
        vmin: d.vmin,
        vmax: d.vmax,
        background: theme.background,
        dark: theme.dark,
        ramp: "perceptual",
      });
      o.onColours(scale, cosine);
    }
    grid.draw(framePaint(d, index, { theme, scale, cosine, tokenLabels, headerLabels, selected }));
  }

  return {
    grid,
    applyTheme() {
      theme = readTheme(o.host);
      setAccent(o.host, theme.selection);
      o.host.dataset.theme = theme.dark ? "dark" : "light";
      cosine = cosineColours(theme);
      scale = null;
      o.onColours(scale, cosine);
    },
    setData(d) {
      data = d;
      tokenLabels = d ? d.tokens.map((t) => tokenLabel(t)) : [];
      headerLabels = d ? d.featureIds.map((id) => String(id)) : [];
      scale = null;
      grid.setLayout(layoutOf(d));
      sizeDirty = true;
      reveal = true;
    },
    invalidate(scrollToSelected = false) {
      sizeDirty = true;
      if (scrollToSelected) reveal = true;
    },
    paint(index, selected) {
      if (!grid.shown) return;
      measure(selected);
      draw(index, selected);
    },
    paintFrame(index, selected) {
      if (!grid.shown) return;
      if (sizeDirty) measure(selected);
      const t0 = now();
      draw(index, selected);
      o.host.dataset.frameMs = (now() - t0).toFixed(2);
    },
  };
}
