// The token x feature heatmap view. Reusable: the heatmap entry point wraps
// it, and composite views (dashboard, ...) can embed it in their own element.

import { type ColourScale, makeScale } from "./colour";
import { h } from "./dom";
import { formatValue } from "./format";
import type { Hit, Layout } from "./grid-layout";
import { type HeatmapData, type HeatmapOptions, readData, readOptions } from "./heatmap-data";
import { makeNormaliser, type Normaliser } from "./heatmap-scale";
import { createHeatmapToolbar } from "./heatmap-toolbar";
import { indexIds } from "./numbers";
import { columnOrder } from "./order";
import { BASE_CSS } from "./styles";
import { readTheme, type Theme } from "./theme";
import {
  CELL_H,
  CELL_W,
  createTokenGrid,
  type GridPaint,
  tokenRows as placeRows,
  type Range,
  type TokenGrid,
  valueText,
} from "./token-grid";
import { cleanLabel, tokenLabel } from "./tokens";
import type { TooltipRow } from "./tooltip";
import { type AnyModel, setTrait } from "./traits";
import { createScope, type Scope } from "./view";

const TOKEN_LABEL_W = 120;
const FEATURE_LABEL_W = 130;
const FEATURE_HEADER_H = 56;
/** Header height when some feature has a label: room for "1387 joy-ish" rotated. */
const LABELLED_HEADER_H = 104;
const TOKEN_HEADER_H = 84;
const GROUP_NAME_W = 64;
const GROUP_NAME_H = 13;
const GROUP_STRIP = 8;

const DATA_TRAITS = [
  "matrix",
  "tokens",
  "prompt_lengths",
  "prompt_groups",
  "feature_ids",
  "feature_labels",
  "column_stats",
  "always_on",
  "vmin",
  "vmax",
];
const ORDER_TRAITS = ["sort_by", "hide_always_on", "transpose"];
const KEY_STEPS: Record<string, number> = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };

const now = (): number => (typeof performance !== "undefined" && performance.now ? performance.now() : Date.now());

export interface HeatmapView {
  root: HTMLElement;
  /** Process pending changes and draw now (normally done on animation frames). */
  flush(): void;
  destroy(): void;
}

/** Which feature lane a hit names: a cell's, a feature header's (or gutter row's, transposed); -1: none. */
function featureLane(hit: Hit, transpose: boolean): number {
  if (hit.region === "cell") return transpose ? hit.row : hit.col;
  if (hit.region === "header" && !transpose) return hit.col;
  if (hit.region === "gutter" && transpose) return hit.row;
  return -1;
}

function featureRows(d: HeatmapData, c: number): TooltipRow[] {
  const label = d.featureLabels[c];
  return [["feature", `#${d.featureIds[c]}${label ? ` ${cleanLabel(label, 200)}` : ""}`]];
}

const tokenRows = (d: HeatmapData, t: number) => placeRows(d, t, d.promptGroups[d.rowPrompt[t]]);

/** Tooltip rows for a hit; `order` maps lanes to matrix columns. */
function tooltipRows(d: HeatmapData, order: readonly number[], transpose: boolean, hit: Hit): TooltipRow[] | null {
  if (hit.region === "cell") {
    const tok = transpose ? hit.col : hit.row;
    const col = order[transpose ? hit.row : hit.col];
    // Quantised matrices (dense_u8) are exact to half a step: say so.
    const value = valueText(d.matrix.get(tok, col), d.matrix.step(col) / 2);
    return [...tokenRows(d, tok), ...featureRows(d, col), ["value", value]];
  }
  const lane = featureLane(hit, transpose);
  if (lane >= 0) {
    const c = order[lane];
    const s = d.stats;
    const rows: TooltipRow[] = [
      ...featureRows(d, c),
      ["max", formatValue(s.max[c])],
      ["mean", formatValue(s.mean[c])],
      ["count", formatValue(s.count[c])],
    ];
    if (d.alwaysOn[c]) rows.push(["", "always-on"]);
    rows.push(["", "click to select"]);
    return rows;
  }
  if (hit.region === "gutter" || hit.region === "header")
    return tokenRows(d, hit.region === "gutter" ? hit.row : hit.col);
  return null;
}

/** Grid geometry: tokens x feature lanes, or lanes x tokens when transposed; room for group names. */
function layoutOf(d: HeatmapData | null, lanes: number, transpose: boolean): Layout {
  const groups = !!d && d.hasGroups;
  const labelled = !!d && d.featureLabels.some((l) => l !== "");
  const nTokens = d ? d.nRows : 0;
  return transpose
    ? {
        cellW: CELL_W,
        cellH: CELL_H,
        gutterW: FEATURE_LABEL_W,
        headerH: TOKEN_HEADER_H + (groups ? GROUP_NAME_H + GROUP_STRIP : 0),
        nRows: lanes,
        nCols: nTokens,
      }
    : {
        cellW: CELL_W,
        cellH: CELL_H,
        gutterW: TOKEN_LABEL_W + (groups ? GROUP_NAME_W + GROUP_STRIP : 0),
        headerH: labelled ? LABELLED_HEADER_H : FEATURE_HEADER_H,
        nRows: nTokens,
        nCols: lanes,
      };
}

/** Matrix column -> its lane in `order` (-1: hidden). */
function lanesOf(order: readonly number[], nCols: number): Int32Array<ArrayBuffer> {
  const laneOf = new Int32Array(nCols).fill(-1);
  order.forEach((c, i) => {
    laneOf[c] = i;
  });
  return laneOf;
}

/** Why the grid is not shown ("" when it is). */
function emptyMessage(d: HeatmapData | null, error: string, lanes: number): string {
  if (!d) return error || "Cannot show heatmap: no data.";
  if (d.nRows === 0 || d.nCols === 0) return `Nothing to show: the matrix has ${d.nRows} tokens × ${d.nCols} features.`;
  if (lanes === 0) return `All ${d.nCols} features are always-on and hidden. Untick “hide always-on” to show them.`;
  return "";
}

interface PaintLook {
  theme: Theme;
  scale: ColourScale;
  /** Cell value -> [-1, 1] per matrix column (the colour normalisation). */
  norm: Normaliser;
  /** Lanes (drawn order) -> matrix columns. */
  order: readonly number[];
  transpose: boolean;
  /** Lane of the selected feature, -1 for none. */
  selected: number;
  tokenLabel(t: number): string;
}

/** What the grid paints: tokens x feature lanes (or transposed), prompt bands and group names. */
function paintOf(d: HeatmapData, look: PaintLook): GridPaint {
  const { order, transpose: t } = look;
  const m = d.matrix;
  const norm = look.norm.norm;
  const headerLabel = (c: number) => {
    const label = cleanLabel(d.featureLabels[c], 24);
    return label ? `${d.featureIds[c]} ${label}` : String(d.featureIds[c]);
  };
  const gutterFeature = (c: number) => {
    const label = d.featureLabels[c];
    return `#${d.featureIds[c]}${label ? ` ${cleanLabel(label, 40)}` : ""}`;
  };
  return {
    theme: look.theme,
    scale: look.scale,
    tokenAxis: t ? "cols" : "rows",
    value: t ? (r, c) => norm(m.get(c, order[r]), order[r]) : (r, c) => norm(m.get(r, order[c]), order[c]),
    rowLabel: t ? (r) => gutterFeature(order[r]) : look.tokenLabel,
    colLabel: t ? look.tokenLabel : (c) => headerLabel(order[c]),
    bands: {
      promptStarts: d.promptStarts,
      promptLengths: d.promptLengths,
      promptGroupSlot: d.promptGroupSlot,
      promptGroups: d.promptGroups.map((g) => cleanLabel(g, 24)),
      show: d.hasGroups,
    },
    selected: look.selected,
    groupNameSize: d.hasGroups ? (t ? GROUP_NAME_H : GROUP_NAME_W) : 0,
    groupStripSize: d.hasGroups ? GROUP_STRIP : 0,
  };
}

/** DOM hooks for end-to-end tests and benchmarks: geometry, selection, the feature ids in view. */
function writeHooks(ds: DOMStringMap, grid: TokenGrid, opts: HeatmapOptions, lane: number, lanes: Range, ids: string) {
  const { layout, vp } = grid;
  ds.cellWidth = String(layout.cellW);
  ds.cellHeight = String(layout.cellH);
  ds.gutterWidth = String(layout.gutterW);
  ds.headerHeight = String(layout.headerH);
  ds.transpose = String(opts.transpose);
  ds.selectedFeature = String(opts.selectedFeature);
  ds.selectedLane = String(lane);
  ds.visibleColumns = ids;
  ds.firstVisibleOffset = String(
    opts.transpose
      ? layout.headerH + lanes.start * layout.cellH - vp.scrollTop
      : layout.gutterW + lanes.start * layout.cellW - vp.scrollLeft,
  );
}

interface LaneKeys {
  /** Number of feature lanes (0: nothing to move through). */
  lanes(): number;
  selected(): number;
  transpose(): boolean;
  select(lane: number): void;
  describe(lane: number): string;
}

/**
 * Keyboard path to a feature: the canvas takes focus; arrows move the selected feature (Left / Right, or
 * Up / Down when transposed; Home / End to the ends); Enter / Space select the first lane when none is.
 */
function bindLaneKeys(scope: Scope, canvas: HTMLCanvasElement, k: LaneKeys): void {
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "listbox");
  canvas.setAttribute("aria-label", "features: arrow keys move the selection, Enter selects");
  // JupyterLab and Notebook 7 bind the arrow keys to notebook commands outside text fields (docs/DESIGN.md).
  canvas.setAttribute("data-lm-suppress-shortcuts", "true");
  scope.on<KeyboardEvent>(canvas, "keydown", (e) => {
    const n = k.lanes();
    if (n === 0 || e.altKey || e.ctrlKey || e.metaKey) return;
    const lane = k.selected();
    const along = k.transpose() ? ["ArrowUp", "ArrowDown"] : ["ArrowLeft", "ArrowRight"];
    let next = -1;
    if (along.includes(e.key)) next = lane < 0 ? 0 : Math.min(n - 1, Math.max(0, lane + KEY_STEPS[e.key]));
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = n - 1;
    else if (e.key === "Enter" || e.key === " ") next = Math.max(0, lane);
    if (next < 0) return;
    e.preventDefault();
    e.stopPropagation();
    k.select(next);
    canvas.setAttribute("aria-label", k.describe(next));
  });
}

export function createHeatmapView(model: AnyModel, el: HTMLElement, startTime = now()): HeatmapView {
  // ---- DOM -------------------------------------------------------------
  const style = h("style", { text: BASE_CSS });
  const toolbar = createHeatmapToolbar(model);
  const message = h("div", { className: "fv-message", attrs: { role: "status" } });
  const root = h("div", { className: "fv-root fv-heatmap" }, [style, toolbar.el, message]);

  // ---- State -----------------------------------------------------------
  let data: HeatmapData | null = null;
  let error = "";
  let opts: HeatmapOptions = readOptions(model);
  let theme: Theme = readTheme(root);
  let scale: ColourScale | null = null;
  let normaliser: Normaliser | null = null;
  let order: number[] = []; // matrix column indices, in drawn order
  let laneOf = new Int32Array(0); // matrix column -> index in order (-1 hidden)
  let colOfFeature = new Map<number, number>();
  let tokenLabels: Array<string | undefined> = []; // filled lazily: only drawn rows need a label
  let showingGrid = false;
  let painted = false;

  let dataDirty = true;
  let orderDirty = true;
  let themeDirty = false;
  let pendingScroll = true;

  // ---- Scheduling ------------------------------------------------------
  /** A rendering bug must never escape into the notebook: show it instead. */
  const scope = createScope(model, (text) => {
    message.textContent = `Cannot show heatmap: ${text}`;
    message.style.display = "";
    root.dataset.state = "error";
  });
  const frames = scope.frames(update);
  const schedule = frames.schedule;
  const grid = createTokenGrid({ host: root, scope, redraw: schedule, tooltip: tooltipFor, click });
  root.appendChild(grid.el);
  el.appendChild(root);

  // ---- Model listeners -------------------------------------------------
  const listen = (traits: string | readonly string[], fn: () => void) =>
    scope.listen(traits, () => {
      fn();
      schedule();
    });
  listen(DATA_TRAITS, () => (dataDirty = true));
  listen(ORDER_TRAITS, () => (orderDirty = true));
  listen("selected_feature", () => (pendingScroll = true));
  listen("title", () => undefined);
  listen("color_scale", () => (scale = null));
  listen("height", () => undefined);

  // ---- Derived state ---------------------------------------------------
  function rebuild(): void {
    if (themeDirty) {
      theme = readTheme(root);
      themeDirty = false;
      scale = null;
    }
    if (dataDirty) {
      dataDirty = false;
      orderDirty = true;
      scale = null;
      grid.clearHover();
      const res = readData(model);
      if (res.ok) {
        data = res.data;
        error = "";
        tokenLabels = new Array(data.nRows);
        colOfFeature = indexIds(data.featureIds);
      } else {
        data = null;
        error = res.error;
        tokenLabels = [];
        colOfFeature = new Map();
      }
    }
    opts = readOptions(model);
    if (orderDirty) {
      orderDirty = false;
      grid.clearHover();
      if (data) {
        order = columnOrder(
          data.nCols,
          data.featureIds,
          data.stats,
          opts.sortBy,
          opts.hideAlwaysOn && data.anyAlwaysOn,
          data.alwaysOn,
        );
        laneOf = lanesOf(order, data.nCols);
        scale = null; // hiding or showing columns rescales "global" and "log"
      } else {
        order = [];
        laneOf = new Int32Array(0);
      }
    }
    if (data && !scale) {
      normaliser = makeNormaliser(opts.colorScale, data.colMin, data.stats.max, order);
      const vmin = normaliser.diverging ? -1 : 0;
      scale = makeScale({ vmin, vmax: 1, background: theme.background, dark: theme.dark, ramp: "perceptual" });
      toolbar.setScale(scale, normaliser.legend());
    }
    grid.setViewHeight(opts.height);

    toolbar.update(opts, data, order.length);
    const layout = layoutOf(data, order.length, opts.transpose);

    // Message vs grid.
    const msg = emptyMessage(data, error, order.length);
    message.textContent = msg;
    message.style.display = msg ? "" : "none";
    showingGrid = !msg;
    grid.show(showingGrid);
    root.dataset.state = !data ? "error" : showingGrid ? "ready" : "empty";
    grid.setLayout(layout);
  }

  function labelOfToken(t: number): string {
    let label = tokenLabels[t];
    if (label === undefined && data) label = tokenLabels[t] = tokenLabel(data.tokens[t]);
    return label ?? "";
  }

  function selectedLane(): number {
    const col = colOfFeature.get(opts.selectedFeature);
    return col === undefined || opts.selectedFeature < 0 ? -1 : (laneOf[col] ?? -1);
  }

  // ---- Drawing ---------------------------------------------------------
  function draw(): void {
    const lane = selectedLane();
    grid.measure(pendingScroll ? { axis: opts.transpose ? "rows" : "cols", index: lane } : null);
    pendingScroll = false;
    const d = data;
    const t = opts.transpose;
    const look = { order, transpose: t, selected: lane, tokenLabel: labelOfToken };
    const visible = grid.draw(
      d && scale && normaliser ? paintOf(d, { ...look, theme, scale, norm: normaliser }) : null,
    );
    const lanes = t ? visible.rows : visible.cols;
    const ids =
      showingGrid && d
        ? order
            .slice(lanes.start, lanes.end)
            .map((c) => d.featureIds[c])
            .join(",")
        : "";
    writeHooks(root.dataset, grid, opts, lane, lanes, ids);

    if (!painted && showingGrid && d) {
      painted = true;
      const ms = now() - startTime;
      el.dataset.firstPaintMs = ms.toFixed(1);
      try {
        performance.mark("featureviz:heatmap:first-paint");
      } catch {
        /* performance.mark unavailable */
      }
    }
  }

  function update(): void {
    rebuild();
    if (showingGrid) draw();
    else {
      root.dataset.visibleColumns = "";
      root.dataset.selectedFeature = String(opts.selectedFeature);
    }
  }

  // ---- Interaction -----------------------------------------------------
  function tooltipFor(hit: Hit): TooltipRow[] | null {
    return data ? tooltipRows(data, order, opts.transpose, hit) : null;
  }

  function click(hit: Hit): void {
    selectLane(featureLane(hit, opts.transpose));
  }

  function selectLane(lane: number): void {
    if (!data || lane < 0 || lane >= order.length) return;
    const id = data.featureIds[order[lane]];
    // Selecting the selected feature again keeps it selected.
    if (model.get("selected_feature") === id) return;
    setTrait(model, "selected_feature", id);
  }

  bindLaneKeys(scope, grid.canvas, {
    lanes: () => (data && showingGrid ? order.length : 0),
    selected: selectedLane,
    transpose: () => opts.transpose,
    select: selectLane,
    describe: (lane) => (data ? `feature #${data.featureIds[order[lane]]} ${data.featureLabels[order[lane]]}` : ""),
  });

  scope.onResize(grid.el, schedule);
  scope.onTheme(() => {
    themeDirty = true;
    schedule();
  });
  scope.defer(() => root.remove());

  // First draw synchronously (measured by the benchmark), then again on the
  // next frame once the element is laid out.
  update();
  schedule();

  return {
    root,
    flush: frames.flush,
    destroy: scope.dispose,
  };
}
