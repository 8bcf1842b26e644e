// The checkpoint scrubber: watch SAE features form across training
// checkpoints. All frames arrive once (binary) and are decoded once
// (scrubber-data.ts); a checkpoint switch only moves an offset and repaints
// the visible cells of the token grid it shares with the heatmap (token-grid.ts).
//
// DOM hooks (tests, benchmarks, docs):
//   .fv-root.fv-scrubber   data-state (ready | error | empty), data-index,
//                          data-frame-ms (ms the last checkpoint switch took to
//                          draw, performance.now around the redraw),
//                          data-playing, data-selected-feature, data-checkpoints
//   input.fv-slider        range over checkpoint indices
//   button.fv-play         play / pause (one checkpoint per PLAY_STEP_MS)
//   .fv-scrub-label        label of the checkpoint shown
//   canvas.fv-heatmap-canvas  the current frame (tokens x features)
//   .fv-metric[data-metric]   one small chart per metric (.fv-point[data-index] clickable)
//   .fv-trajectory         the selected feature: .fv-traj-activation (max, mean)
//                          and .fv-traj-cosine (match cosine)
// Strings reach the page through textContent / fillText only.

import { createCheckpointControls } from "./checkpoint-controls";
import { type ColourScale, createLegend } from "./colour";
import { titleControl } from "./controls";
import { h } from "./dom";
import { formatValue } from "./format";
import type { Hit } from "./grid-layout";
import { indexIds } from "./numbers";
import { clampIndex, frameValue, frameView, readScrubber, type ScrubberData } from "./scrubber-data";
import { createFrameGrid } from "./scrubber-frame";
import { createScrubberPanels } from "./scrubber-panels";
import { BASE_CSS, scopeCss } from "./styles";
import { tokenRows, valueText } from "./token-grid";
import { cleanLabel } from "./tokens";
import type { TooltipRow } from "./tooltip";
import { type AnyModel, safeGet, setTrait } from "./traits";
import { createScope, type Scope } from "./view";

/** Milliseconds per checkpoint while playing. */
export const PLAY_STEP_MS = 600;

export const SCRUBBER_CSS = scopeCss(
  ".fv-scrubber",
  `
.fv-scrubber { min-width: 360px; }
.fv-scrubber .fv-scrub-label { font-family: var(--fv-code); font-variant-numeric: tabular-nums; }
.fv-scrubber .fv-scrub-controls {
  display: flex; align-items: flex-start; gap: 8px; padding: 6px 8px 2px;
  border: 1px solid var(--fv-border); border-bottom: none;
}
.fv-scrubber button {
  font: inherit; color: var(--fv-fg); background: var(--fv-panel); border: 1px solid var(--fv-border);
  border-radius: 3px; padding: 0 8px; height: 22px; cursor: pointer; white-space: nowrap; min-width: 70px;
}
.fv-scrubber button:hover:not(:disabled) { border-color: var(--fv-accent, #06c); }
.fv-scrubber button:focus-visible { outline: 2px solid var(--fv-accent, #06c); outline-offset: 1px; }
.fv-scrubber button:disabled { opacity: 0.45; cursor: default; }
.fv-scrubber .fv-slider-box { flex: 1 1 300px; min-width: 200px; display: flex; flex-direction: column; }
.fv-scrubber .fv-slider { width: 100%; margin: 3px 0 0; accent-color: var(--fv-accent, #06c); }
.fv-scrubber .fv-ticks { position: relative; height: 14px; margin: 0 8px; }
.fv-scrubber .fv-tick-label {
  position: absolute; top: 0; transform: translateX(-50%); white-space: nowrap; cursor: pointer;
  font-size: 10px; color: var(--fv-fg2); font-variant-numeric: tabular-nums;
}
.fv-scrubber .fv-tick-label:first-child { transform: none; }
.fv-scrubber .fv-tick-label:last-child { transform: translateX(-100%); }
.fv-scrubber .fv-tick-label.fv-current { color: var(--fv-fg); font-weight: 600; }
.fv-scrubber .fv-strip-key { display: inline-flex; align-items: center; gap: 4px; color: var(--fv-fg2); }
.fv-scrubber .fv-strip-swatch { display: inline-block; width: 40px; height: 8px; border: 1px solid var(--fv-border); }
.fv-scrubber .fv-scrub-panels {
  display: flex; flex-wrap: wrap; gap: 8px 18px; padding: 6px 8px;
  border: 1px solid var(--fv-border); border-top: none;
}
.fv-scrubber .fv-panel-title { color: var(--fv-fg2); font-size: 11px; margin-bottom: 2px; font-weight: 600; }
.fv-scrubber .fv-panel-title:empty { display: none; }
.fv-scrubber .fv-panel-body { display: flex; flex-wrap: wrap; gap: 4px 10px; }
.fv-scrubber .fv-mini-title { color: var(--fv-fg2); font-size: 11px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 200px; }
.fv-scrubber .fv-mini-readout { margin-left: 6px; color: var(--fv-fg); font-family: var(--fv-code); font-variant-numeric: tabular-nums; }
.fv-scrubber .fv-mini-key { display: flex; gap: 10px; font-size: 10px; color: var(--fv-fg2); }
.fv-scrubber .fv-mini-key:empty { display: none; }
.fv-scrubber .fv-mini-key-item { display: inline-flex; align-items: center; gap: 3px; }
.fv-scrubber .fv-mini-svg { display: block; overflow: visible; cursor: crosshair; }
.fv-scrubber .fv-mini-empty { color: var(--fv-fg2); font-size: 11px; }
.fv-scrubber .fv-mini-empty:empty { display: none; }
.fv-scrubber .fv-axis { stroke: var(--fv-border); stroke-width: 1; shape-rendering: crispEdges; }
.fv-scrubber .fv-tick { fill: var(--fv-fg2); font-size: 9px; font-family: var(--fv-font); }
.fv-scrubber .fv-cursor { stroke: var(--fv-accent, #06c); stroke-width: 1.5; }
.fv-scrubber .fv-line { fill: none; stroke-width: 1.6; stroke-linejoin: round; stroke-linecap: round; }
.fv-scrubber .fv-point { stroke: var(--fv-bg); stroke-width: 0.8; cursor: pointer; }
.fv-scrubber .fv-point:hover { stroke: var(--fv-fg); }
`,
);

export interface ScrubberView {
  root: HTMLElement;
  /** Process pending changes and draw now (normally done on animation frames). */
  flush(): void;
  /** For tests and benchmarks: the decoded data (null on error). */
  data(): ScrubberData | null;
  /** For tests and benchmarks: the decoded values of the frame shown (T*F, row-major). */
  currentFrame(): Float32Array | null;
  destroy(): void;
}

const DATA_TRAITS = [
  "frames",
  "labels",
  "x_values",
  "x_label",
  "tokens",
  "prompt_lengths",
  "feature_ids",
  "match_cosine",
  "metrics",
  "vmin",
  "vmax",
];

/** The toolbar: title, checkpoint label, colour legend, match-strip key, sizes, warnings. */
function createToolbar(model: AnyModel, scope: Scope) {
  const title = titleControl(model, scope);
  const label = h("span", { className: "fv-scrub-label", attrs: { "aria-live": "off" } });
  const legend = createLegend();
  const stripSwatch = h("span", { className: "fv-strip-swatch" });
  const stripKey = h(
    "span",
    {
      className: "fv-strip-key",
      title: "strip above each column: decoder cosine of the matched latent at this checkpoint (0 … 1)",
    },
    [h("span", { text: "match" }), stripSwatch],
  );
  const info = h("span", { className: "fv-info" });
  const note = h("div", { className: "fv-note" });
  const el = h("div", { className: "fv-toolbar" }, [title.el, label, legend.el, stripKey, info, note]);
  title.update();
  return {
    el,
    label,
    legend,
    setColours(scale: ColourScale | null, lut: readonly string[]) {
      if (scale) legend.update(scale);
      stripSwatch.style.background = `linear-gradient(to right, ${lut[0]}, ${lut[20]})`;
    },
    update(d: ScrubberData | null) {
      note.textContent = d?.warnings.length ? `⚠ ${d.warnings.join("; ")}` : "";
      info.textContent = d ? `${d.nCheckpoints} checkpoints · ${d.nTokens} tokens × ${d.nFeatures} features` : "";
      stripKey.style.display = d?.hasCosine ? "" : "none";
      legend.el.style.display = d ? "" : "none";
    },
  };
}

/** Tooltip rows over the grid at checkpoint `index`. */
function tooltipRows(d: ScrubberData, index: number, hit: Hit): TooltipRow[] | null {
  const F = d.nFeatures;
  const featureRows = (c: number): TooltipRow[] => {
    const rows: TooltipRow[] = [
      ["feature", `#${d.featureIds[c]}`],
      ["checkpoint", cleanLabel(d.labels[index], 80)],
    ];
    if (d.hasCosine) rows.push(["match cos", formatValue(d.cosine[index * F + c])]);
    return rows;
  };
  if (hit.region === "cell")
    return [
      ...tokenRows(d, hit.row),
      ...featureRows(hit.col),
      ["value", valueText(frameValue(d, index, hit.row, hit.col))],
    ];
  if (hit.region === "header") {
    const c = hit.col;
    return [
      ...featureRows(c),
      ["max", formatValue(d.colMax[index * F + c])],
      ["mean", formatValue(d.colMean[index * F + c])],
      ["", "click to plot its trajectory"],
    ];
  }
  if (hit.region === "gutter") return tokenRows(d, hit.row);
  return null;
}

/** The decoded data and what is derived from it once per data change. */
interface Loaded {
  data: ScrubberData | null;
  /** Why the grid is not shown ("" when it is). */
  message: string;
  /** Feature id -> matrix column (the first, for repeated ids). */
  colOf: Map<number, number>;
}

function load(model: AnyModel): Loaded {
  const res = readScrubber(model);
  const d = res.ok ? res.data : null;
  const colOf = indexIds(d ? d.featureIds : []);
  let message = "";
  if (!d) message = (!res.ok && res.error) || "Cannot show checkpoints: no data.";
  else if (d.nCheckpoints === 0 || d.nTokens === 0 || d.nFeatures === 0)
    message = `Nothing to show: ${d.nCheckpoints} checkpoints × ${d.nTokens} tokens × ${d.nFeatures} features.`;
  return { data: d, message, colOf };
}

export function createScrubberView(model: AnyModel, el: HTMLElement): ScrubberView {
  // ---- DOM -------------------------------------------------------------
  const style = h("style", { text: BASE_CSS + SCRUBBER_CSS });
  const message = h("div", { className: "fv-message", attrs: { role: "status" } });

  /** A rendering bug must never escape into the notebook: show it instead. */
  const scope = createScope(model, (text) => {
    player.stop();
    message.style.display = "";
    message.textContent = `Cannot show checkpoints: ${text}`;
    root.dataset.state = "error";
  });
  const safely = scope.safely;
  const toolbar = createToolbar(model, scope);
  const root = h("div", { className: "fv-root fv-scrubber" }, [style, toolbar.el]);

  // ---- State -----------------------------------------------------------
  let data: ScrubberData | null = null;
  let index = 0;
  let selected = -1; // feature id
  let colOf = new Map<number, number>();
  let showingGrid = false;
  let dataDirty = true;
  let themeDirty = false;

  const get = (k: string): unknown => safeGet(model, k);
  const count = () => (data ? data.nCheckpoints : 0);
  const controls = createCheckpointControls({
    scope,
    root,
    intervalMs: PLAY_STEP_MS,
    count,
    index: () => index,
    go: (i) => select(i),
  });
  const player = controls.player;
  const panels = createScrubberPanels(controls.pick);

  // ---- Scheduling ------------------------------------------------------
  const frames = scope.frames(update);
  const schedule = frames.schedule;
  const frame = createFrameGrid({
    scope,
    host: root,
    redraw: schedule,
    tooltip: (hit) => (data ? tooltipRows(data, index, hit) : null),
    click,
    onColours: toolbar.setColours,
  });
  const grid = frame.grid;
  root.append(controls.el, message, grid.el, panels.el);
  el.appendChild(root);

  // ---- Derived state ---------------------------------------------------
  function rebuildData(): void {
    dataDirty = false;
    player.stop();
    grid.clearHover();
    const loaded = load(model);
    const d = loaded.data;
    const msg = loaded.message;
    ({ data, colOf } = loaded);
    const C = count();
    controls.build(d ? d.labels : [], C);
    panels.build(d);
    toolbar.update(d);
    frame.setData(d);
    message.textContent = msg;
    message.style.display = msg ? "" : "none";
    showingGrid = !msg;
    grid.show(showingGrid);
    controls.el.style.display = d && d.nCheckpoints > 0 ? "" : "none";
    panels.el.style.display = showingGrid ? "" : "none";
    root.dataset.state = !d ? "error" : showingGrid ? "ready" : "empty";
    root.dataset.checkpoints = String(C);
    index = clampIndex(get("index"), C);
    selected = readSelected();
    buildTrajectory();
  }

  function readSelected(): number {
    const s = get("selected_feature");
    return typeof s === "number" && Number.isFinite(s) ? s : -1;
  }

  function buildTrajectory(): void {
    const col = colOf.get(selected);
    root.dataset.selectedFeature = String(selected);
    panels.trajectory(data, selected < 0 ? undefined : col, index);
  }

  /** Everything that depends on the checkpoint index, except the canvas. */
  function renderIndexChrome(): void {
    const d = data;
    const C = count();
    if (!d || C === 0) {
      toolbar.label.textContent = "";
      root.dataset.index = "";
      return;
    }
    const text = cleanLabel(d.labels[index], 60);
    toolbar.label.textContent = `${text}  (${index + 1}/${C})`;
    root.dataset.index = String(index);
    panels.setIndex(index);
    controls.update(index, text);
  }

  function update(): void {
    if (themeDirty) {
      themeDirty = false;
      frame.applyTheme();
    }
    if (dataDirty) rebuildData();
    renderIndexChrome();
    frame.paint(index, colOf.get(selected) ?? -1);
  }

  // ---- Selection and playback -----------------------------------------
  function showIndex(i: number): void {
    const next = clampIndex(i, count());
    if (next === index && root.dataset.index === String(next)) return;
    index = next;
    if (grid.hover) grid.refreshTooltip();
    renderIndexChrome();
    frame.paintFrame(index, colOf.get(selected) ?? -1);
  }

  function select(i: number): void {
    const C = count();
    if (C === 0) return;
    const next = clampIndex(i, C);
    showIndex(next);
    if (get("index") !== next) {
      model.set("index", next);
      model.save_changes();
    }
  }

  // ---- Click ------------------------------------------------------------
  function click(hit: Hit): void {
    const d = data;
    if (!d) return;
    const col = hit.region === "cell" || hit.region === "header" ? hit.col : -1;
    if (col < 0 || col >= d.nFeatures) return;
    const id = d.featureIds[col];
    if (get("selected_feature") === id) return;
    selected = id;
    buildTrajectory();
    setTrait(model, "selected_feature", id);
    schedule();
  }

  // ---- Model listeners -------------------------------------------------
  const listen = scope.listen;
  listen(DATA_TRAITS, () => {
    dataDirty = true;
    schedule();
  });
  listen("index", () => {
    if (dataDirty) return schedule();
    showIndex(clampIndex(get("index"), count()));
  });
  listen("selected_feature", () => {
    const s = readSelected();
    if (s === selected) return;
    selected = s;
    frame.invalidate(true);
    buildTrajectory();
    schedule();
  });

  scope.onResize(grid.el, () => {
    frame.invalidate();
    schedule();
  });
  scope.onTheme(() => {
    themeDirty = true;
    schedule();
  });
  scope.defer(() => {
    panels.destroy();
    root.remove();
  });

  safely(frame.applyTheme);
  safely(update);
  schedule(); // again once laid out

  return {
    root,
    flush: frames.flush,
    data: () => data,
    currentFrame: () => (data ? frameView(data, index) : null),
    destroy: scope.dispose,
  };
}
