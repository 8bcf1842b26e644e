// The checkpoint scrubber's panels under the grid: one small chart per training metric, and the
// selected feature's trajectory across checkpoints (max and mean activation; match cosine). Clicking a
// chart point picks that checkpoint.
//
// DOM: .fv-scrub-panels > .fv-metrics (.fv-metric[data-metric]), .fv-trajectory (.fv-traj-activation,
// .fv-traj-cosine)

import { groupColour } from "./colour";
import { h } from "./dom";
import { createMiniChart, type MiniChart } from "./mini-chart";
import type { ScrubberData } from "./scrubber-data";
import { cleanLabel } from "./tokens";

export interface ScrubberPanels {
  readonly el: HTMLElement;
  /** New data: rebuild the metric charts. */
  build(d: ScrubberData | null): void;
  /** The trajectory of matrix column `col` (undefined: none selected), checkpoint `index` marked. */
  trajectory(d: ScrubberData | null, col: number | undefined, index: number): void;
  /** Mark checkpoint `index` on every chart. */
  setIndex(index: number): void;
  destroy(): void;
}

/** Per checkpoint: column `col`'s max, mean and match cosine. */
function columnSeries(d: ScrubberData, col: number): { max: number[]; mean: number[]; cos: number[] } {
  const C = d.nCheckpoints;
  const F = d.nFeatures;
  const max: number[] = new Array(C);
  const mean: number[] = new Array(C);
  const cos: number[] = new Array(C);
  for (let c = 0; c < C; c++) {
    max[c] = d.colMax[c * F + col];
    mean[c] = d.colMean[c * F + col];
    cos[c] = d.cosine[c * F + col];
  }
  return { max, mean, cos };
}

export function createScrubberPanels(pick: (i: number) => void): ScrubberPanels {
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
  const el = h("div", { className: "fv-scrub-panels" }, [metricsPanel, trajPanel]);
  let metricCharts: MiniChart[] = [];

  const panels: ScrubberPanels = {
    el,
    build(d) {
      for (const m of metricCharts) m.destroy();
      metricCharts = [];
      d?.metrics.forEach((m, k) => {
        const chart = createMiniChart(cleanLabel(m.name, 40), "fv-metric", { "data-metric": m.name }, pick);
        chart.build({ x: d.x, series: [{ name: cleanLabel(m.name, 40), values: m.values, colour: groupColour(k) }] });
        metricsBody.appendChild(chart.el);
        metricCharts.push(chart);
      });
      metricsPanel.style.display = metricCharts.length ? "" : "none";
      metricsTitle.textContent = d ? `training metrics against ${cleanLabel(d.xLabel, 40)}` : "";
    },
    trajectory(d, col, index) {
      if (!d || col === undefined) {
        trajTitle.textContent = d && d.nFeatures > 0 ? "click a column to see how its feature forms" : "";
        trajAct.build(null);
        trajCos.build(null);
        trajAct.el.style.display = "none";
        trajCos.el.style.display = "none";
        return;
      }
      const s = columnSeries(d, col);
      trajTitle.textContent = `feature #${d.featureIds[col]} against ${cleanLabel(d.xLabel, 40)}`;
      trajAct.el.style.display = "";
      trajAct.build({
        x: d.x,
        series: [
          { name: "max", values: s.max, colour: groupColour(1) },
          { name: "mean", values: s.mean, colour: groupColour(0), dashed: true },
        ],
      });
      trajCos.el.style.display = d.hasCosine ? "" : "none";
      trajCos.build(
        d.hasCosine
          ? { x: d.x, series: [{ name: "cosine", values: s.cos, colour: groupColour(4) }], yRange: [0, 1] }
          : null,
      );
      trajAct.setIndex(index);
      trajCos.setIndex(index);
    },
    setIndex(i) {
      for (const m of metricCharts) m.setIndex(i);
      trajAct.setIndex(i);
      trajCos.setIndex(i);
    },
    destroy() {
      for (const m of metricCharts) m.destroy();
      trajAct.destroy();
      trajCos.destroy();
    },
  };
  return panels;
}
