// The vision gallery (units x images of optimised images) and the vision
// checkpoint scrubber (the same grid per checkpoint, a play / scrub control
// and the selected unit's activation over training). Pixels arrive once as
// one RGB buffer (vision-data.ts); a checkpoint switch repaints the canvases.
//
// DOM hooks (tests, docs):
//   .fv-root.fv-vision      data-state (ready | error), data-selected-unit, data-index (scrubber)
//   .fv-vgrid               the grid (focusable; arrow keys / Home / End move the selected unit)
//   .fv-vtile[data-unit]    one unit: .fv-vcaption and canvas.fv-vimage[data-image] per image;
//                           .fv-selected on the selected unit
//   input.fv-slider, button.fv-play, .fv-scrub-label, .fv-trajectory (scrubber, as in scrubber-view.ts)
// Strings reach the page through textContent only.

import { createCheckpointControls } from "./checkpoint-controls";
import { groupColour } from "./colour";
import { context2d, h } from "./dom";
import { formatValue } from "./format";
import { createMiniChart } from "./mini-chart";
import { PLAY_STEP_MS, SCRUBBER_CSS } from "./scrubber-view";
import { BASE_CSS, scopeCss } from "./styles";
import { cleanLabel } from "./tokens";
import { createTooltip, type TooltipRow } from "./tooltip";
import type { AnyModel } from "./traits";
import { safeGet } from "./traits";
import { createScope } from "./view";
import { readVision, rgba, type VisionData } from "./vision-data";

export const VISION_CSS = scopeCss(
  ".fv-vision",
  `
.fv-vision .fv-vgrid {
  display: flex; flex-wrap: wrap; gap: 6px; padding: 6px; max-height: 560px; overflow: auto;
  border: 1px solid var(--fv-border); background: var(--fv-bg); outline: none;
}
.fv-vision .fv-vgrid:focus-visible { box-shadow: inset 0 0 0 2px var(--fv-accent, #06c); }
.fv-vision .fv-vtile { padding: 3px; border: 2px solid transparent; border-radius: 3px; cursor: pointer; }
.fv-vision .fv-vtile:hover { border-color: var(--fv-border); }
.fv-vision .fv-vtile.fv-selected { border-color: var(--fv-accent, #06c); background: var(--fv-panel); }
.fv-vision .fv-vcaption {
  display: block; font-size: 11px; color: var(--fv-fg2); white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; font-variant-numeric: tabular-nums;
}
.fv-vision .fv-vtile.fv-selected .fv-vcaption { color: var(--fv-fg); font-weight: 600; }
.fv-vision .fv-vimages { display: flex; gap: 2px; }
.fv-vision .fv-vimage { display: block; image-rendering: pixelated; border: 1px solid var(--fv-border); }
`,
);

export interface VisionView {
  root: HTMLElement;
  data(): VisionData | null;
  destroy(): void;
}

/** The tiles of a units x images grid; paint(c) draws checkpoint c (0 for a gallery). */
function createGrid(onSelect: (unit: number) => void, onHover: (u: number, n: number, e: MouseEvent | null) => void) {
  const el = h("div", {
    className: "fv-vgrid",
    attrs: { tabindex: "0", role: "listbox", "aria-label": "units", "data-lm-suppress-shortcuts": "true" },
  });
  let tiles: HTMLElement[] = [];
  let canvases: HTMLCanvasElement[][] = [];
  let d: VisionData | null = null;

  function build(data: VisionData, size: number): void {
    d = data;
    el.replaceChildren();
    tiles = [];
    canvases = [];
    const cssSize = Math.max(16, size);
    for (let u = 0; u < data.nUnits; u++) {
      const row: HTMLCanvasElement[] = [];
      const images = h("div", { className: "fv-vimages" });
      for (let n = 0; n < data.nImages; n++) {
        const canvas = h("canvas", { className: "fv-vimage", attrs: { "data-image": String(n) } });
        canvas.width = data.width;
        canvas.height = data.height;
        canvas.style.width = `${cssSize}px`;
        canvas.style.height = `${Math.round((cssSize * data.height) / data.width)}px`;
        canvas.addEventListener("mousemove", (e) => onHover(u, n, e));
        images.appendChild(canvas);
        row.push(canvas);
      }
      const tile = h(
        "div",
        {
          className: "fv-vtile",
          attrs: { "data-unit": String(data.unitIds[u]), role: "option", "aria-selected": "false" },
        },
        [h("span", { className: "fv-vcaption", text: cleanLabel(data.unitLabels[u], 24) }), images],
      );
      tile.style.maxWidth = `${data.nImages * (cssSize + 4) + 8}px`;
      tile.addEventListener("click", () => onSelect(data.unitIds[u]));
      tile.addEventListener("mouseleave", () => onHover(-1, -1, null));
      el.appendChild(tile);
      tiles.push(tile);
      canvases.push(row);
    }
  }

  function paint(c: number): void {
    if (!d) return;
    for (let u = 0; u < d.nUnits; u++) {
      for (let n = 0; n < d.nImages; n++) {
        const ctx = context2d(canvases[u][n]);
        if (!ctx || typeof ImageData === "undefined") continue;
        ctx.putImageData(new ImageData(rgba(d, c, u, n), d.width, d.height), 0, 0);
      }
    }
  }

  function setSelected(unit: number): void {
    for (const tile of tiles) {
      const on = tile.dataset.unit === String(unit);
      tile.classList.toggle("fv-selected", on);
      tile.setAttribute("aria-selected", on ? "true" : "false");
    }
  }

  return { el, build, paint, setSelected };
}

/** Shared by both views: DOM, trait reading, selection, tooltip, keyboard. */
function createBase(model: AnyModel, el: HTMLElement, scrubber: boolean) {
  const title = h("span", { className: "fv-title" });
  const info = h("span", { className: "fv-info" });
  const label = h("span", { className: "fv-scrub-label" });
  const toolbar = h("div", { className: "fv-toolbar" }, [title, label, info]);
  const message = h("div", { className: "fv-message", attrs: { role: "status" } });
  message.style.display = "none";
  const root = h(
    "div",
    { className: `fv-root fv-vision${scrubber ? " fv-scrubber fv-vision-scrubber" : " fv-vision-gallery"}` },
    [h("style", { text: BASE_CSS + SCRUBBER_CSS + VISION_CSS }), toolbar],
  );
  const tooltip = createTooltip(root);
  /** A rendering bug must never escape into the notebook: show it instead. */
  const scope = createScope(model, (text) => {
    message.style.display = "";
    message.textContent = `Cannot show the gallery: ${text}`;
    root.dataset.state = "error";
  });
  const { safely, listen } = scope;
  const get = (k: string): unknown => safeGet(model, k);
  const state = { data: null as VisionData | null, index: 0, selected: -1 };
  const extraTooltip: { rows: (u: number) => TooltipRow[] } = { rows: () => [] };

  const grid = createGrid(
    (unit) => safely(() => select(unit)),
    (u, n, e) =>
      safely(() => {
        const d = state.data;
        if (!d || u < 0 || !e) return tooltip.hide();
        const r = root.getBoundingClientRect();
        tooltip.show(
          [
            ["unit", cleanLabel(d.unitLabels[u], 60)],
            ["image", `${n + 1} of ${d.nImages}`],
            ["activation", formatValue(d.activation(state.index, u, n))],
            ...extraTooltip.rows(u),
          ],
          e.clientX - r.left,
          e.clientY - r.top,
        );
      }),
  );

  function readSelected(): number {
    const s = get("selected_unit");
    return typeof s === "number" && Number.isInteger(s) ? s : -1;
  }

  function showSelected(onChange: () => void): void {
    grid.setSelected(state.selected);
    root.dataset.selectedUnit = String(state.selected);
    onChange();
  }

  const selectionHooks: Array<() => void> = [];
  function select(unit: number): void {
    if (unit === state.selected) return;
    state.selected = unit;
    showSelected(() => {
      for (const f of selectionHooks) f();
    });
    model.set("selected_unit", unit);
    model.save_changes();
  }

  function onKey(e: KeyboardEvent): void {
    const d = state.data;
    if (!d || d.nUnits === 0) return;
    const at = d.unitIds.indexOf(state.selected);
    const next = {
      ArrowRight: at + 1,
      ArrowDown: at + 1,
      ArrowLeft: at - 1,
      ArrowUp: at - 1,
      Home: 0,
      End: d.nUnits - 1,
    }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    safely(() => select(d.unitIds[Math.max(0, Math.min(d.nUnits - 1, at < 0 && next < 0 ? 0 : next))]));
  }
  scope.on(grid.el, "keydown", onKey);
  scope.defer(() => {
    tooltip.destroy();
    root.remove();
  });

  function load(): boolean {
    const r = readVision(model, scrubber);
    state.data = r.ok ? r.data : null;
    const t = get("title");
    title.textContent = typeof t === "string" ? cleanLabel(t, 120) : "";
    message.style.display = r.ok ? "none" : "";
    message.textContent = r.ok ? "" : `Cannot show the gallery: ${r.error}`;
    grid.el.style.display = r.ok ? "" : "none";
    root.dataset.state = r.ok ? "ready" : "error";
    if (!r.ok) return false;
    const size = get("display_size");
    grid.build(r.data, typeof size === "number" && size > 0 ? size : 72);
    info.textContent = `${r.data.nUnits} units × ${r.data.nImages} image${r.data.nImages === 1 ? "" : "s"} · ${r.data.height}×${r.data.width} px`;
    state.selected = readSelected();
    showSelected(() => {
      for (const f of selectionHooks) f();
    });
    return true;
  }

  listen("selected_unit", () => {
    const s = readSelected();
    if (s === state.selected) return;
    state.selected = s;
    showSelected(() => {
      for (const f of selectionHooks) f();
    });
  });

  el.appendChild(root);
  return {
    root,
    grid,
    label,
    message,
    tooltip,
    state,
    scope,
    listen,
    load,
    safely,
    select,
    selectionHooks,
    extraTooltip,
    get,
    destroy: scope.dispose,
  };
}

export function createGalleryView(model: AnyModel, el: HTMLElement): VisionView {
  const base = createBase(model, el, false);
  base.root.append(base.message, base.grid.el);
  const refresh = () => {
    if (base.load()) base.grid.paint(0);
  };
  base.listen(["images", "activations", "units", "unit_labels", "display_size", "title"], refresh);
  base.safely(refresh);
  return { root: base.root, data: () => base.state.data, destroy: base.destroy };
}

export function createVisionScrubberView(model: AnyModel, el: HTMLElement): VisionView {
  const base = createBase(model, el, true);
  const { root, grid, state, safely } = base;
  const count = () => state.data?.nCheckpoints ?? 0;
  const controls = createCheckpointControls({
    scope: base.scope,
    root,
    intervalMs: PLAY_STEP_MS,
    count,
    index: () => state.index,
    go: (i) => go(i),
  });
  const { player, pick } = controls;
  const trajTitle = h("div", { className: "fv-panel-title" });
  const actChart = createMiniChart("activation", "fv-traj-activation", {}, pick);
  const cosChart = createMiniChart("weight cosine to previous", "fv-traj-cosine", {}, pick);
  const panels = h("div", { className: "fv-scrub-panels" }, [
    h("div", { className: "fv-trajectory" }, [
      trajTitle,
      h("div", { className: "fv-panel-body" }, [actChart.el, cosChart.el]),
    ]),
  ]);
  root.append(controls.el, base.message, grid.el, panels);
  base.extraTooltip.rows = (u) => {
    const d = state.data!;
    const rows: TooltipRow[] = [["checkpoint", cleanLabel(d.labels[state.index], 60)]];
    if (d.hasProbe) rows.push(["probe mean", formatValue(d.probeMean(state.index, u))]);
    return rows;
  };

  function buildTrajectory(): void {
    const d = state.data;
    const u = d ? d.unitIds.indexOf(state.selected) : -1;
    if (!d || u < 0) {
      trajTitle.textContent = d ? "click a unit to see how it forms" : "";
      actChart.build(null);
      cosChart.build(null);
      return;
    }
    const C = d.nCheckpoints;
    const range = Array.from({ length: C }, (_, c) => c);
    const optimised = range.map((c) => Math.max(...Array.from({ length: d.nImages }, (_, n) => d.activation(c, u, n))));
    const series = [{ name: "optimised image", values: optimised, colour: groupColour(1) }];
    if (d.hasProbe) {
      series.push({ name: "probe max", values: range.map((c) => d.probeMax(c, u)), colour: groupColour(0) });
      series.push({ name: "probe mean", values: range.map((c) => d.probeMean(c, u)), colour: groupColour(2) });
    }
    trajTitle.textContent = `${cleanLabel(d.unitLabels[u], 40)} against ${cleanLabel(d.xLabel || "checkpoint", 40)}`;
    actChart.build({ x: d.x, series });
    const cos = range.map((c) => d.cosine(c, u));
    cosChart.el.style.display = cos.some(Number.isFinite) ? "" : "none";
    cosChart.build({ x: d.x, series: [{ name: "cosine", values: cos, colour: groupColour(4) }] });
    actChart.setIndex(state.index);
    cosChart.setIndex(state.index);
  }
  base.selectionHooks.push(buildTrajectory);

  function show(i: number): void {
    const d = state.data;
    if (!d || d.nCheckpoints === 0) return;
    state.index = Math.max(0, Math.min(d.nCheckpoints - 1, Math.round(i)));
    const text = cleanLabel(d.labels[state.index], 60);
    base.label.textContent = `${text}  (${state.index + 1}/${d.nCheckpoints})`;
    root.dataset.index = String(state.index);
    grid.paint(state.index);
    actChart.setIndex(state.index);
    cosChart.setIndex(state.index);
    controls.update(state.index, text);
  }

  function go(i: number): void {
    show(i);
    if (base.get("index") !== state.index) {
      model.set("index", state.index);
      model.save_changes();
    }
  }

  function refresh(): void {
    player.stop();
    if (!base.load()) return;
    const d = state.data!;
    controls.build(d.labels, d.nCheckpoints);
    root.dataset.checkpoints = String(d.nCheckpoints);
    const index = base.get("index");
    show(typeof index === "number" ? index : d.nCheckpoints - 1);
    buildTrajectory();
  }

  base.listen(
    [
      "images",
      "activations",
      "probe_mean",
      "probe_max",
      "weight_cosine",
      "labels",
      "x_values",
      "x_label",
      "units",
      "unit_labels",
      "display_size",
      "title",
    ],
    refresh,
  );
  base.listen("index", () => {
    const i = base.get("index");
    if (typeof i === "number" && i !== state.index) show(i);
  });
  safely(refresh);
  return {
    root,
    data: () => state.data,
    destroy() {
      player.stop();
      actChart.destroy();
      cosChart.destroy();
      base.destroy();
    },
  };
}
