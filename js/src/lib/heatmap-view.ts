// The token x feature heatmap view. Reusable: the heatmap entry point wraps
// it, and composite views (dashboard, ...) can embed it in their own element.

import { type ColourScale, createLegend, makeScale } from "./colour";
import { checkboxControl, selectControl } from "./controls";
import { context2d, h } from "./dom";
import { formatValue } from "./format";
import { type HeatmapData, type HeatmapOptions, readData, readOptions } from "./heatmap-data";
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
} from "./layout";
import { columnOrder } from "./order";
import { paint } from "./paint";
import { BASE_CSS } from "./styles";
import { readTheme, type Theme } from "./theme";
import { cleanLabel, tokenLabel, tokenTooltip } from "./tokens";
import { createTooltip, type TooltipRow } from "./tooltip";
import { type AnyModel, setTrait } from "./traits";
import { createScope } from "./view";

export const CELL_W = 12;
export const CELL_H = 14;
const TOKEN_LABEL_W = 120;
const FEATURE_LABEL_W = 130;
const FEATURE_HEADER_H = 56;
const TOKEN_HEADER_H = 84;
const GROUP_NAME_W = 64;
const GROUP_NAME_H = 13;
const GROUP_STRIP = 8;
const MAX_VIEW_H = 480;
const FALLBACK_VIEW_W = 800;

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

const now = (): number => (typeof performance !== "undefined" && performance.now ? performance.now() : Date.now());

export interface HeatmapView {
  root: HTMLElement;
  /** Process pending changes and draw now (normally done on animation frames). */
  flush(): void;
  destroy(): void;
}

export function createHeatmapView(model: AnyModel, el: HTMLElement, startTime = now()): HeatmapView {
  // ---- DOM -------------------------------------------------------------
  const style = h("style", { text: BASE_CSS });
  const title = h("span", { className: "fv-title" });
  const sort = selectControl(model, "sort_by", "sort", [
    ["index", "feature id"],
    ["max", "max"],
    ["mean", "mean"],
    ["count", "count"],
  ]);
  const hide = checkboxControl(model, "hide_always_on", "hide always-on");
  const transpose = checkboxControl(model, "transpose", "transpose");
  const legend = createLegend();
  const info = h("span", { className: "fv-info" });
  const note = h("div", { className: "fv-note" });
  const toolbar = h("div", { className: "fv-toolbar" }, [title, sort.el, hide.el, transpose.el, legend.el, info, note]);
  const message = h("div", { className: "fv-message", attrs: { role: "status" } });
  const canvas = h("canvas", { className: "fv-heatmap-canvas" });
  const spacer = h("div", { className: "fv-spacer" }, [canvas]);
  const scroller = h("div", { className: "fv-scroll" }, [spacer]);
  const root = h("div", { className: "fv-root fv-heatmap" }, [style, toolbar, message, scroller]);
  const tooltip = createTooltip(root);
  el.appendChild(root);

  const ctx = context2d(canvas);

  // ---- State -----------------------------------------------------------
  let data: HeatmapData | null = null;
  let error = "";
  let opts: HeatmapOptions = readOptions(model);
  let theme: Theme = readTheme(root);
  let scale: ColourScale | null = null;
  let order: number[] = []; // matrix column indices, in drawn order
  let laneOf = new Int32Array(0); // matrix column -> index in order (-1 hidden)
  let colOfFeature = new Map<number, number>();
  let tokenLabels: Array<string | undefined> = []; // filled lazily: only drawn rows need a label
  let layout: Layout = { cellW: CELL_W, cellH: CELL_H, gutterW: 0, headerH: 0, nRows: 0, nCols: 0 };
  let vp: Viewport = { scrollLeft: 0, scrollTop: 0, width: 0, height: 0 };
  let hover: { row: number; col: number } | null = null;
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
      hover = null;
      const res = readData(model);
      if (res.ok) {
        data = res.data;
        error = "";
        tokenLabels = new Array(data.nRows);
        colOfFeature = new Map();
        data.featureIds.forEach((id, c) => {
          if (!colOfFeature.has(id)) colOfFeature.set(id, c);
        });
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
      hover = null;
      if (data) {
        order = columnOrder(
          data.nCols,
          data.featureIds,
          data.stats,
          opts.sortBy,
          opts.hideAlwaysOn && data.anyAlwaysOn,
          data.alwaysOn,
        );
        laneOf = new Int32Array(data.nCols).fill(-1);
        order.forEach((c, i) => {
          laneOf[c] = i;
        });
      } else {
        order = [];
        laneOf = new Int32Array(0);
      }
    }
    if (data && !scale) {
      scale = makeScale({ vmin: data.vmin, vmax: data.vmax, background: theme.background, dark: theme.dark });
      legend.update(scale);
    }

    // Toolbar.
    title.textContent = opts.title;
    title.style.display = opts.title ? "" : "none";
    sort.update(opts.sortBy);
    const canHide = !!data && data.anyAlwaysOn;
    hide.update(
      opts.hideAlwaysOn,
      !canHide,
      canHide ? "hide features that fire on (almost) every token" : "no always-on features",
    );
    transpose.update(opts.transpose);
    legend.el.style.display = data ? "" : "none";
    if (data) {
      const hidden = data.nCols - order.length;
      info.textContent = `${data.nRows} tokens × ${data.nCols} features${hidden ? ` (${hidden} hidden)` : ""}`;
      note.textContent = data.warnings.length ? `⚠ ${data.warnings.join("; ")}` : "";
    } else {
      info.textContent = "";
      note.textContent = "";
    }

    // Layout.
    const groups = !!data && data.hasGroups;
    const nTokens = data ? data.nRows : 0;
    layout = opts.transpose
      ? {
          cellW: CELL_W,
          cellH: CELL_H,
          gutterW: FEATURE_LABEL_W,
          headerH: TOKEN_HEADER_H + (groups ? GROUP_NAME_H + GROUP_STRIP : 0),
          nRows: order.length,
          nCols: nTokens,
        }
      : {
          cellW: CELL_W,
          cellH: CELL_H,
          gutterW: TOKEN_LABEL_W + (groups ? GROUP_NAME_W + GROUP_STRIP : 0),
          headerH: FEATURE_HEADER_H,
          nRows: nTokens,
          nCols: order.length,
        };

    // Message vs grid.
    let msg = "";
    if (!data) msg = error || "Cannot show heatmap: no data.";
    else if (data.nRows === 0 || data.nCols === 0)
      msg = `Nothing to show: the matrix has ${data.nRows} tokens × ${data.nCols} features.`;
    else if (order.length === 0)
      msg = `All ${data.nCols} features are always-on and hidden. Untick “hide always-on” to show them.`;
    message.textContent = msg;
    message.style.display = msg ? "" : "none";
    showingGrid = !msg;
    scroller.style.display = showingGrid ? "" : "none";
    root.dataset.state = !data ? "error" : showingGrid ? "ready" : "empty";
    if (!showingGrid) tooltip.hide();
    // Only the viewport is painted (the canvas is sticky); the spacer gives the
    // scrollbars their extent, capped so huge matrices stay scrollable.
    const size = contentSize(layout);
    spacer.style.width = `${spacerExtent(size.width)}px`;
    spacer.style.height = `${spacerExtent(size.height)}px`;
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
    const size = contentSize(layout);
    const cw = scroller.clientWidth;
    const ch = scroller.clientHeight;
    const width = Math.max(0, Math.min(size.width, cw > 0 ? cw : FALLBACK_VIEW_W));
    const height = Math.max(0, Math.min(size.height, ch > 0 ? ch : MAX_VIEW_H));

    // Scroller offsets <-> content offsets (different only past MAX_SCROLL_EXTENT).
    const spacerW = spacerExtent(size.width);
    const spacerH = spacerExtent(size.height);
    const contentLeft = () => toContentScroll(scroller.scrollLeft || 0, size.width, spacerW, width);
    const contentTop = () => toContentScroll(scroller.scrollTop || 0, size.height, spacerH, height);
    const lane = selectedLane();
    if (pendingScroll && lane >= 0) {
      if (opts.transpose) {
        const top = scrollToShow(lane, layout.cellH, contentTop(), height, layout.headerH, layout.nRows);
        if (top !== contentTop()) scroller.scrollTop = toScrollerScroll(top, size.height, spacerH, height);
      } else {
        const left = scrollToShow(lane, layout.cellW, contentLeft(), width, layout.gutterW, layout.nCols);
        if (left !== contentLeft()) scroller.scrollLeft = toScrollerScroll(left, size.width, spacerW, width);
      }
    }
    pendingScroll = false;
    vp = { scrollLeft: contentLeft(), scrollTop: contentTop(), width, height };

    const dpr = typeof window !== "undefined" && window.devicePixelRatio > 0 ? window.devicePixelRatio : 1;
    const pw = Math.round(width * dpr);
    const ph = Math.round(height * dpr);
    if (canvas.width !== pw) canvas.width = pw;
    if (canvas.height !== ph) canvas.height = ph;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;

    const d = data;
    const sc = scale;
    let lanes: [number, number] = [0, 0];
    if (d && sc && ctx) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const m = d.matrix;
      const t = opts.transpose;
      const bands = {
        promptStarts: d.promptStarts,
        promptLengths: d.promptLengths,
        promptGroupSlot: d.promptGroupSlot,
        promptGroups: d.promptGroups.map((g) => cleanLabel(g, 24)),
        show: d.hasGroups,
      };
      const headerLabel = (c: number) => cleanLabel(d.featureLabels[c], 10) || String(d.featureIds[c]);
      const gutterFeature = (c: number) => {
        const label = d.featureLabels[c];
        return `#${d.featureIds[c]}${label ? ` ${cleanLabel(label, 40)}` : ""}`;
      };
      const res = paint(ctx, {
        layout,
        vp,
        theme,
        scale: sc,
        tokenAxis: t ? "cols" : "rows",
        value: t ? (r, c) => m.get(c, order[r]) : (r, c) => m.get(r, order[c]),
        rowLabel: t ? (r) => gutterFeature(order[r]) : labelOfToken,
        colLabel: t ? labelOfToken : (c) => headerLabel(order[c]),
        bands,
        selected: lane,
        hover,
        groupNameSize: d.hasGroups ? (t ? GROUP_NAME_H : GROUP_NAME_W) : 0,
        groupStripSize: d.hasGroups ? GROUP_STRIP : 0,
      });
      lanes = t ? res.rows : res.cols;
    } else if (d && sc) {
      // No 2D context (e.g. a headless DOM): still report the geometry.
      const t = opts.transpose;
      const n = t ? layout.nRows : layout.nCols;
      const cell = t ? layout.cellH : layout.cellW;
      const start = Math.min(n, Math.floor((t ? vp.scrollTop : vp.scrollLeft) / cell));
      const avail = (t ? height - layout.headerH : width - layout.gutterW) + (t ? vp.scrollTop : vp.scrollLeft);
      lanes = [start, Math.min(n, Math.ceil(avail / cell))];
    }

    // Hooks for end-to-end tests / benchmarks.
    const ds = root.dataset;
    ds.cellWidth = String(layout.cellW);
    ds.cellHeight = String(layout.cellH);
    ds.gutterWidth = String(layout.gutterW);
    ds.headerHeight = String(layout.headerH);
    ds.transpose = String(opts.transpose);
    ds.selectedFeature = String(opts.selectedFeature);
    ds.selectedLane = String(lane);
    ds.visibleColumns =
      showingGrid && d
        ? order
            .slice(lanes[0], lanes[1])
            .map((c) => d.featureIds[c])
            .join(",")
        : "";
    ds.firstVisibleOffset = String(
      opts.transpose
        ? layout.headerH + lanes[0] * layout.cellH - vp.scrollTop
        : layout.gutterW + lanes[0] * layout.cellW - vp.scrollLeft,
    );

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
  function featureLaneOf(hit: Hit): number {
    if (hit.region === "cell") return opts.transpose ? hit.row : hit.col;
    if (hit.region === "header" && !opts.transpose) return hit.col;
    if (hit.region === "gutter" && opts.transpose) return hit.row;
    return -1;
  }

  function tokenRows(t: number): TooltipRow[] {
    if (!data) return [];
    const p = data.rowPrompt[t];
    const group = data.promptGroups[p];
    return [
      ["token", tokenTooltip(data.tokens[t])],
      ["prompt", `${p}${group ? ` · ${cleanLabel(group, 80)}` : ""}`],
      ["position", `${data.rowPos[t]} of ${data.promptLengths[p] ?? 0}`],
    ];
  }

  function featureRows(c: number): TooltipRow[] {
    if (!data) return [];
    const label = data.featureLabels[c];
    return [["feature", `#${data.featureIds[c]}${label ? ` ${cleanLabel(label, 200)}` : ""}`]];
  }

  function tooltipFor(hit: Hit): TooltipRow[] | null {
    if (!data) return null;
    const t = opts.transpose;
    if (hit.region === "cell") {
      const tok = t ? hit.col : hit.row;
      const col = order[t ? hit.row : hit.col];
      // Quantised matrices (dense_u8) are exact to half a step: say so.
      const halfStep = data.matrix.step(col) / 2;
      const value = formatValue(data.matrix.get(tok, col));
      return [
        ...tokenRows(tok),
        ...featureRows(col),
        ["value", halfStep > 0 ? `${value} ± ${formatValue(halfStep)}` : value],
      ];
    }
    const lane = featureLaneOf(hit);
    if (lane >= 0) {
      const c = order[lane];
      const s = data.stats;
      const rows: TooltipRow[] = [
        ...featureRows(c),
        ["max", formatValue(s.max[c])],
        ["mean", formatValue(s.mean[c])],
        ["count", formatValue(s.count[c])],
      ];
      if (data.alwaysOn[c]) rows.push(["", "always-on"]);
      rows.push(["", "click to select"]);
      return rows;
    }
    if (hit.region === "gutter" || hit.region === "header")
      return tokenRows(hit.region === "gutter" ? hit.row : hit.col);
    return null;
  }

  function pointer(e: MouseEvent): { hit: Hit; tx: number; ty: number } {
    const rect = canvas.getBoundingClientRect();
    const rootRect = root.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    return { hit: hitTest(layout, vp, x, y), tx: e.clientX - rootRect.left, ty: e.clientY - rootRect.top };
  }

  const onMove = (e: MouseEvent) => {
    if (!showingGrid) return;
    const { hit, tx, ty } = pointer(e);
    const next =
      hit.region === "cell"
        ? { row: hit.row, col: hit.col }
        : hit.region === "header"
          ? { row: -1, col: hit.col }
          : hit.region === "gutter"
            ? { row: hit.row, col: -1 }
            : null;
    if (next?.row !== hover?.row || next?.col !== hover?.col) {
      hover = next;
      schedule();
    }
    const rows = tooltipFor(hit);
    if (rows) tooltip.show(rows, tx, ty);
    else tooltip.hide();
  };
  const onLeave = () => {
    tooltip.hide();
    if (hover) {
      hover = null;
      schedule();
    }
  };
  const onClick = (e: MouseEvent) => {
    if (!showingGrid || !data) return;
    const lane = featureLaneOf(pointer(e).hit);
    if (lane < 0 || lane >= order.length) return;
    const id = data.featureIds[order[lane]];
    // Clicking the selected feature again keeps it selected.
    if (model.get("selected_feature") === id) return;
    setTrait(model, "selected_feature", id);
  };
  const onScroll = () => {
    // The content moved under the pointer: drop the stale tooltip / hover.
    tooltip.hide();
    hover = null;
    schedule();
  };

  scope.on(canvas, "mousemove", onMove);
  scope.on(canvas, "mouseleave", onLeave);
  scope.on(canvas, "click", onClick);
  scope.on(scroller, "scroll", onScroll, { passive: true });
  scope.onResize(scroller, schedule);
  scope.onTheme(() => {
    themeDirty = true;
    schedule();
  });
  scope.defer(() => {
    tooltip.destroy();
    root.remove();
  });

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
