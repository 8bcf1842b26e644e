// The token x feature heatmap view. Reusable: the heatmap entry point wraps
// it, and composite views (dashboard, ...) can embed it in their own element.

import { type ColourScale, createLegend, makeScale } from "./colour";
import { checkboxControl, selectControl } from "./controls";
import { h } from "./dom";
import { formatValue } from "./format";
import { type HeatmapData, type HeatmapOptions, readData, readOptions } from "./heatmap-data";
import type { Hit, Layout } from "./layout";
import { columnOrder } from "./order";
import { BASE_CSS } from "./styles";
import { readTheme, type Theme } from "./theme";
import { CELL_H, CELL_W, createTokenGrid, type GridPaint, tokenRows as placeRows, valueText } from "./token-grid";
import { cleanLabel, tokenLabel } from "./tokens";
import type { TooltipRow } from "./tooltip";
import { type AnyModel, setTrait } from "./traits";
import { createScope } from "./view";

const TOKEN_LABEL_W = 120;
const FEATURE_LABEL_W = 130;
const FEATURE_HEADER_H = 56;
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
  const root = h("div", { className: "fv-root fv-heatmap" }, [style, toolbar, message]);

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
    const layout: Layout = opts.transpose
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
    const sc = scale;
    const t = opts.transpose;
    const visible = grid.draw(d && sc ? paintParams(d, sc, lane) : null);
    const lanes = t ? visible.rows : visible.cols;
    const { layout, vp } = grid;

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
            .slice(lanes.start, lanes.end)
            .map((c) => d.featureIds[c])
            .join(",")
        : "";
    ds.firstVisibleOffset = String(
      opts.transpose
        ? layout.headerH + lanes.start * layout.cellH - vp.scrollTop
        : layout.gutterW + lanes.start * layout.cellW - vp.scrollLeft,
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

  function paintParams(d: HeatmapData, sc: ColourScale, lane: number): GridPaint {
    const m = d.matrix;
    const t = opts.transpose;
    const headerLabel = (c: number) => cleanLabel(d.featureLabels[c], 10) || String(d.featureIds[c]);
    const gutterFeature = (c: number) => {
      const label = d.featureLabels[c];
      return `#${d.featureIds[c]}${label ? ` ${cleanLabel(label, 40)}` : ""}`;
    };
    return {
      theme,
      scale: sc,
      tokenAxis: t ? "cols" : "rows",
      value: t ? (r, c) => m.get(c, order[r]) : (r, c) => m.get(r, order[c]),
      rowLabel: t ? (r) => gutterFeature(order[r]) : labelOfToken,
      colLabel: t ? labelOfToken : (c) => headerLabel(order[c]),
      bands: {
        promptStarts: d.promptStarts,
        promptLengths: d.promptLengths,
        promptGroupSlot: d.promptGroupSlot,
        promptGroups: d.promptGroups.map((g) => cleanLabel(g, 24)),
        show: d.hasGroups,
      },
      selected: lane,
      groupNameSize: d.hasGroups ? (t ? GROUP_NAME_H : GROUP_NAME_W) : 0,
      groupStripSize: d.hasGroups ? GROUP_STRIP : 0,
    };
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
    return data ? placeRows(data, t, data.promptGroups[data.rowPrompt[t]]) : [];
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
      const value = valueText(data.matrix.get(tok, col), data.matrix.step(col) / 2);
      return [...tokenRows(tok), ...featureRows(col), ["value", value]];
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

  function click(hit: Hit): void {
    if (!data) return;
    const lane = featureLaneOf(hit);
    if (lane < 0 || lane >= order.length) return;
    const id = data.featureIds[order[lane]];
    // Clicking the selected feature again keeps it selected.
    if (model.get("selected_feature") === id) return;
    setTrait(model, "selected_feature", id);
  }

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
