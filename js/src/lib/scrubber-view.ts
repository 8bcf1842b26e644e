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

import { type ColourScale, createLegend, makeScale, mix, type RGB, toCss } from "./colour";
import { h, rangeSlider } from "./dom";
import { formatValue } from "./format";
import type { Hit } from "./layout";
import { groupColour } from "./paint";
import { createPlayer } from "./player";
import { createMiniChart, type MiniChart } from "./scrubber-chart";
import { clampIndex, frameValue, frameView, readScrubber, type ScrubberData } from "./scrubber-data";
import { BASE_CSS, scopeCss } from "./styles";
import { readTheme, setAccent, type Theme } from "./theme";
import { CELL_H, CELL_W, createTokenGrid, tokenRows, valueText } from "./token-grid";
import { cleanLabel, tokenLabel } from "./tokens";
import type { TooltipRow } from "./tooltip";
import { type AnyModel, safeGet, setTrait } from "./traits";
import { createScope } from "./view";

/** Milliseconds per checkpoint while playing. */
export const PLAY_STEP_MS = 600;
const TOKEN_LABEL_W = 120;
const FEATURE_HEADER_H = 56;
/** Match-cosine strip along the top of the column header. */
const COSINE_STRIP = 8;
const MAX_TICKS = 7;

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

/** Evenly spaced checkpoint indices for slider tick labels: the first, the last, and no two crowded. */
export function tickIndices(n: number, max: number): number[] {
  if (n <= 0) return [];
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const step = Math.ceil((n - 1) / (max - 1));
  const out: number[] = [];
  for (let i = 0; i < n - 1; i += step) if (n - 1 - i >= step * 0.6 || i === 0) out.push(i);
  out.push(n - 1);
  return out;
}

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

const now = (): number => (typeof performance !== "undefined" && performance.now ? performance.now() : Date.now());

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

export function createScrubberView(model: AnyModel, el: HTMLElement): ScrubberView {
  // ---- DOM -------------------------------------------------------------
  const style = h("style", { text: BASE_CSS + SCRUBBER_CSS });
  const title = h("span", { className: "fv-title" });
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
  const toolbar = h("div", { className: "fv-toolbar" }, [title, label, legend.el, stripKey, info, note]);

  const play = h("button", {
    className: "fv-play",
    text: "▶ play",
    attrs: { type: "button", "aria-pressed": "false" },
  });
  const slider = rangeSlider("checkpoint");
  const ticks = h("div", { className: "fv-ticks" });
  const controls = h("div", { className: "fv-scrub-controls" }, [
    play,
    h("div", { className: "fv-slider-box" }, [slider, ticks]),
  ]);

  const message = h("div", { className: "fv-message", attrs: { role: "status" } });

  /** A rendering bug must never escape into the notebook: show it instead. */
  const scope = createScope(model, (text) => {
    player.stop();
    message.style.display = "";
    message.textContent = `Cannot show checkpoints: ${text}`;
    root.dataset.state = "error";
  });
  const safely = scope.safely;

  const pick = (i: number) =>
    safely(() => {
      player.stop();
      select(i);
    });
  const metricsBody = h("div", { className: "fv-panel-body" });
  const metricsTitle = h("div", { className: "fv-panel-title", text: "training metrics" });
  const metricsPanel = h("div", { className: "fv-metrics" }, [metricsTitle, metricsBody]);
  const trajTitle = h("div", { className: "fv-panel-title" });
  const trajAct = createMiniChart("activation", "fv-traj-activation", {}, pick);
  const trajCos = createMiniChart("match cosine", "fv-traj-cosine", {}, pick);
  const trajPanel = h("div", { className: "fv-trajectory" }, [
    trajTitle,
    h("div", { className: "fv-panel-body" }, [trajAct.el, trajCos.el]),
  ]);
  const panels = h("div", { className: "fv-scrub-panels" }, [metricsPanel, trajPanel]);

  const root = h("div", { className: "fv-root fv-scrubber" }, [style, toolbar, controls, message]);

  // ---- State -----------------------------------------------------------
  let data: ScrubberData | null = null;
  let error = "";
  let index = 0;
  let selected = -1; // feature id
  let theme: Theme = readTheme(root);
  let scale: ColourScale | null = null;
  let cosineLut: string[] = [];
  let colOf = new Map<number, number>();
  let tokenLabels: string[] = [];
  let headerLabels: string[] = [];
  let metricCharts: MiniChart[] = [];
  let showingGrid = false;
  let dataDirty = true;
  let themeDirty = false;
  let pendingScroll = true;
  let sizeDirty = true;

  const get = (k: string): unknown => safeGet(model, k);
  const count = () => (data ? data.nCheckpoints : 0);
  const player = createPlayer({
    button: play,
    root,
    intervalMs: PLAY_STEP_MS,
    count,
    index: () => index,
    go: (i) => select(i),
    guard: safely,
  });

  // ---- Scheduling ------------------------------------------------------
  const frames = scope.frames(update);
  const schedule = frames.schedule;
  const grid = createTokenGrid({ host: root, scope, redraw: schedule, tooltip: tooltipFor, click });
  root.append(grid.el, panels);
  el.appendChild(root);

  // ---- Derived state ---------------------------------------------------
  function applyTheme(): void {
    theme = readTheme(root);
    themeDirty = false;
    const accent: RGB = theme.selection;
    setAccent(root, accent);
    root.dataset.theme = theme.dark ? "dark" : "light";
    cosineLut = [];
    for (let i = 0; i <= 20; i++) cosineLut.push(toCss(mix(theme.panel, accent, i / 20)));
    stripSwatch.style.background = `linear-gradient(to right, ${cosineLut[0]}, ${cosineLut[20]})`;
    scale = null;
  }

  function cosineCss(v: number): string | null {
    if (!Number.isFinite(v)) return null;
    const t = v < 0 ? 0 : Math.min(v, 1);
    return cosineLut[Math.round(t * 20)] ?? null;
  }

  function rebuildData(): void {
    dataDirty = false;
    player.stop();
    grid.clearHover();
    const res = readScrubber(model);
    data = res.ok ? res.data : null;
    error = res.ok ? "" : res.error;
    const d = data;
    colOf = new Map();
    d?.featureIds.forEach((id, c) => {
      if (!colOf.has(id)) colOf.set(id, c);
    });
    tokenLabels = d ? d.tokens.map((t) => tokenLabel(t)) : [];
    headerLabels = d ? d.featureIds.map((id) => String(id)) : [];
    scale = null;

    // Slider + ticks.
    const C = count();
    slider.max = String(Math.max(0, C - 1));
    slider.disabled = C <= 1;
    while (ticks.firstChild) ticks.removeChild(ticks.firstChild);
    if (d && C > 0) {
      for (const i of tickIndices(C, MAX_TICKS)) {
        const tick = h("span", {
          className: "fv-tick-label",
          text: cleanLabel(d.labels[i], 16),
          title: cleanLabel(d.labels[i], 200),
        });
        tick.style.left = C > 1 ? `${(i / (C - 1)) * 100}%` : "0%";
        tick.dataset.index = String(i);
        tick.addEventListener("click", () => pick(i));
        ticks.appendChild(tick);
      }
    }

    // Metric small multiples.
    for (const m of metricCharts) m.destroy();
    metricCharts = [];
    if (d) {
      d.metrics.forEach((m, k) => {
        const chart = createMiniChart(cleanLabel(m.name, 40), "fv-metric", { "data-metric": m.name }, pick);
        chart.build({ x: d.x, series: [{ name: cleanLabel(m.name, 40), values: m.values, colour: groupColour(k) }] });
        metricsBody.appendChild(chart.el);
        metricCharts.push(chart);
      });
    }
    metricsPanel.style.display = metricCharts.length ? "" : "none";
    metricsTitle.textContent = d ? `training metrics against ${cleanLabel(d.xLabel, 40)}` : "";

    note.textContent = d?.warnings.length ? `⚠ ${d.warnings.join("; ")}` : "";
    info.textContent = d ? `${d.nCheckpoints} checkpoints · ${d.nTokens} tokens × ${d.nFeatures} features` : "";
    stripKey.style.display = d?.hasCosine ? "" : "none";

    grid.setLayout({
      cellW: CELL_W,
      cellH: CELL_H,
      gutterW: TOKEN_LABEL_W,
      headerH: FEATURE_HEADER_H + (d?.hasCosine ? COSINE_STRIP : 0),
      nRows: d ? d.nTokens : 0,
      nCols: d ? d.nFeatures : 0,
    });

    let msg = "";
    if (!d) msg = error || "Cannot show checkpoints: no data.";
    else if (d.nCheckpoints === 0 || d.nTokens === 0 || d.nFeatures === 0)
      msg = `Nothing to show: ${d.nCheckpoints} checkpoints × ${d.nTokens} tokens × ${d.nFeatures} features.`;
    message.textContent = msg;
    message.style.display = msg ? "" : "none";
    showingGrid = !msg;
    grid.show(showingGrid);
    controls.style.display = d && d.nCheckpoints > 0 ? "" : "none";
    panels.style.display = showingGrid ? "" : "none";
    legend.el.style.display = d ? "" : "none";
    root.dataset.state = !d ? "error" : showingGrid ? "ready" : "empty";
    root.dataset.checkpoints = String(C);
    sizeDirty = true;
    pendingScroll = true;
    index = clampIndex(get("index"), C);
    selected = readSelected();
    buildTrajectory();
  }

  function readSelected(): number {
    const s = get("selected_feature");
    return typeof s === "number" && Number.isFinite(s) ? s : -1;
  }

  function buildTrajectory(): void {
    const d = data;
    const col = colOf.get(selected);
    root.dataset.selectedFeature = String(selected);
    if (!d || col === undefined || selected < 0) {
      trajTitle.textContent = d && d.nFeatures > 0 ? "click a column to see how its feature forms" : "";
      trajAct.build(null);
      trajCos.build(null);
      trajAct.el.style.display = "none";
      trajCos.el.style.display = "none";
      return;
    }
    const C = d.nCheckpoints;
    const F = d.nFeatures;
    const mx: number[] = new Array(C);
    const mean: number[] = new Array(C);
    const cos: number[] = new Array(C);
    for (let c = 0; c < C; c++) {
      mx[c] = d.colMax[c * F + col];
      mean[c] = d.colMean[c * F + col];
      cos[c] = d.cosine[c * F + col];
    }
    trajTitle.textContent = `feature #${d.featureIds[col]} against ${cleanLabel(d.xLabel, 40)}`;
    trajAct.el.style.display = "";
    trajAct.build({
      x: d.x,
      series: [
        { name: "max", values: mx, colour: groupColour(1) },
        { name: "mean", values: mean, colour: groupColour(0), dashed: true },
      ],
    });
    trajCos.el.style.display = d.hasCosine ? "" : "none";
    trajCos.build(
      d.hasCosine
        ? { x: d.x, series: [{ name: "cosine", values: cos, colour: groupColour(4) }], yRange: [0, 1] }
        : null,
    );
    trajAct.setIndex(index);
    trajCos.setIndex(index);
  }

  /** Everything that depends on the checkpoint index, except the canvas. */
  function renderIndexChrome(): void {
    const d = data;
    const C = count();
    if (!d || C === 0) {
      label.textContent = "";
      root.dataset.index = "";
      return;
    }
    if (slider.value !== String(index)) slider.value = String(index);
    const text = cleanLabel(d.labels[index], 60);
    label.textContent = `${text}  (${index + 1}/${C})`;
    slider.setAttribute("aria-valuetext", text);
    root.dataset.index = String(index);
    for (const t of Array.from(ticks.children) as HTMLElement[])
      t.classList.toggle("fv-current", t.dataset.index === String(index));
    for (const m of metricCharts) m.setIndex(index);
    trajAct.setIndex(index);
    trajCos.setIndex(index);
    player.update();
  }

  // ---- Drawing ---------------------------------------------------------
  function measure(): void {
    const col = colOf.get(selected);
    grid.measure(pendingScroll && col !== undefined ? { axis: "cols", index: col } : null);
    pendingScroll = false;
    sizeDirty = false;
  }

  /** Paint the current frame. No DOM reads (sizes are cached by measure()). */
  function draw(): void {
    const d = data;
    if (!d || !showingGrid) return;
    if (!scale) {
      scale = makeScale({ vmin: d.vmin, vmax: d.vmax, background: theme.background, dark: theme.dark });
      legend.update(scale);
    }
    const F = d.nFeatures;
    const c0 = index;
    const fr = frameView(d, c0);
    const cosBase = c0 * F;
    grid.draw({
      theme,
      scale,
      tokenAxis: "rows",
      value: fr ? (r, c) => fr[r * F + c] : (r, c) => frameValue(d, c0, r, c),
      rowLabel: (r) => tokenLabels[r],
      colLabel: (c) => headerLabels[c],
      bands: {
        promptStarts: d.promptStarts,
        promptLengths: d.promptLengths,
        promptGroupSlot: [],
        promptGroups: [],
        show: false,
      },
      selected: colOf.get(selected) ?? -1,
      groupNameSize: 0,
      groupStripSize: 0,
      colStrip: d.hasCosine ? { size: COSINE_STRIP, css: (c) => cosineCss(d.cosine[cosBase + c]) } : undefined,
    });
  }

  /** Draw a checkpoint switch and record how long it took. */
  function drawFrame(): void {
    if (!showingGrid) return;
    if (sizeDirty) measure();
    const t0 = now();
    draw();
    root.dataset.frameMs = (now() - t0).toFixed(2);
  }

  function update(): void {
    if (themeDirty) applyTheme();
    if (dataDirty) rebuildData();
    renderIndexChrome();
    if (showingGrid) {
      measure();
      draw();
    }
  }

  // ---- Selection and playback -----------------------------------------
  function showIndex(i: number): void {
    const next = clampIndex(i, count());
    if (next === index && root.dataset.index === String(next)) return;
    index = next;
    if (grid.hover) grid.refreshTooltip();
    renderIndexChrome();
    drawFrame();
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

  // ---- Tooltip and click ----------------------------------------------
  function tooltipFor(hit: Hit): TooltipRow[] | null {
    const d = data;
    if (!d) return null;
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

  const onSlider = () => {
    player.stop();
    const i = Number(slider.value);
    if (Number.isFinite(i)) select(i);
  };
  scope.on(slider, "input", onSlider);
  scope.on(slider, "change", onSlider);
  scope.on(play, "click", player.toggle);

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
    pendingScroll = true;
    sizeDirty = true;
    buildTrajectory();
    schedule();
  });
  listen("title", () => {
    const t = get("title");
    title.textContent = typeof t === "string" ? t : "";
    title.style.display = title.textContent ? "" : "none";
  });

  scope.onResize(grid.el, () => {
    sizeDirty = true;
    schedule();
  });
  scope.onTheme(() => {
    themeDirty = true;
    schedule();
  });
  scope.defer(() => {
    player.stop();
    for (const m of metricCharts) m.destroy();
    trajAct.destroy();
    trajCos.destroy();
    root.remove();
  });

  const t = get("title");
  title.textContent = typeof t === "string" ? t : "";
  title.style.display = title.textContent ? "" : "none";
  safely(applyTheme);
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
