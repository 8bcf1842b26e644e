// The heatmap's toolbar: title, sort order, hide always-on, transpose (two-way traits), colour legend,
// size and warnings.

import { type ColourScale, createLegend, type LegendText } from "./colour";
import { checkboxControl, selectControl } from "./controls";
import { h } from "./dom";
import type { HeatmapData, HeatmapOptions } from "./heatmap-data";
import type { AnyModel } from "./traits";

export interface HeatmapToolbar {
  readonly el: HTMLElement;
  /** A new colour scale (legend labels from its normalisation). */
  setScale(scale: ColourScale, text?: LegendText): void;
  /** Show the options and the data's size (`shown` of its features are drawn). */
  update(opts: HeatmapOptions, data: HeatmapData | null, shown: number): void;
}

export function createHeatmapToolbar(model: AnyModel): HeatmapToolbar {
  const title = h("span", { className: "fv-title" });
  const sort = selectControl(model, "sort_by", "sort", [
    ["index", "feature id"],
    ["max", "max"],
    ["mean", "mean"],
    ["count", "count"],
  ]);
  const colour = selectControl(model, "color_scale", "colour", [
    ["global", "global"],
    ["column", "per column"],
    ["log", "log"],
  ]);
  const hide = checkboxControl(model, "hide_always_on", "hide always-on");
  const transpose = checkboxControl(model, "transpose", "transpose");
  const legend = createLegend();
  const info = h("span", { className: "fv-info" });
  const note = h("div", { className: "fv-note" });
  const el = h("div", { className: "fv-toolbar" }, [
    title,
    sort.el,
    colour.el,
    hide.el,
    transpose.el,
    legend.el,
    info,
    note,
  ]);
  return {
    el,
    setScale: (scale, text) => legend.update(scale, text),
    update(opts, data, shown) {
      title.textContent = opts.title;
      title.style.display = opts.title ? "" : "none";
      sort.update(opts.sortBy);
      colour.update(opts.colorScale);
      const canHide = !!data && data.anyAlwaysOn;
      hide.update(
        opts.hideAlwaysOn,
        !canHide,
        canHide ? "hide features that fire on (almost) every token" : "no always-on features",
      );
      transpose.update(opts.transpose);
      legend.el.style.display = data ? "" : "none";
      const hidden = data ? data.nCols - shown : 0;
      info.textContent = data
        ? `${data.nRows} tokens × ${data.nCols} features${hidden ? ` (${hidden} hidden)` : ""}`
        : "";
      note.textContent = data?.warnings.length ? `⚠ ${data.warnings.join("; ")}` : "";
    },
  };
}
