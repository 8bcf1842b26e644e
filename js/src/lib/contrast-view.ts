// The contrast view: a compact DOM table, one row per feature, one cell per
// group with a bar for the group's mean activation (shared scale), the mean,
// a significance mark and the rank-biserial effect. Reusable like the heatmap
// view: the contrast entry point wraps it; composite views can embed it.
//
// All untrusted text (group names, feature labels) goes through textContent
// or setAttribute; nothing here parses markup.

import { groupColour, mix, toCss } from "./colour";
import {
  type ContrastData,
  type ContrastOptions,
  featureDisplayName,
  formatEffect,
  formatQ,
  groupMark,
  marksLegend,
  readContrast,
  readContrastOptions,
  rowOrder,
  significanceMark,
  testLegend,
} from "./contrast-data";
import { titleControl } from "./controls";
import { clear, closestIn, h } from "./dom";
import { formatValue } from "./format";
import { BASE_CSS, scopeCss } from "./styles";
import { readTheme, setAccent } from "./theme";
import { cleanLabel } from "./tokens";
import { createTooltip, hoverTooltips, type TooltipRow } from "./tooltip";
import type { AnyModel } from "./traits";
import { setTrait } from "./traits";
import { createScope } from "./view";

export const CONTRAST_CSS = scopeCss(
  ".fv-contrast",
  `
.fv-contrast .fv-scroll { min-width: 100%; }
.fv-contrast-table { width: 100%; border-collapse: separate; border-spacing: 0; font-variant-numeric: tabular-nums; }
.fv-contrast-table th {
  position: sticky; top: 0; z-index: 1; padding: 0; text-align: left; font-weight: 600;
  background: var(--fv-panel); border-bottom: 1px solid var(--fv-border);
}
.fv-contrast-sort {
  display: flex; align-items: center; gap: 5px; width: 100%; margin: 0; padding: 3px 8px;
  font: inherit; font-weight: 600; color: var(--fv-fg); background: none; border: none;
  text-align: left; cursor: pointer; white-space: nowrap;
}
.fv-contrast-sort:hover { text-decoration: underline; }
.fv-contrast-sort:focus-visible { outline: 2px solid var(--fv-accent, #06c); outline-offset: -2px; }
.fv-contrast-sort-mark { color: var(--fv-fg2); font-size: 10px; min-width: 0.8em; }
.fv-contrast-swatch { display: inline-block; flex: none; width: 10px; height: 10px; border-radius: 2px; }
.fv-contrast-group-name { overflow: hidden; text-overflow: ellipsis; max-width: 180px; }
.fv-contrast-row { cursor: pointer; }
.fv-contrast-row td { padding: 2px 4px; border-bottom: 1px solid var(--fv-contrast-rule, transparent); }
.fv-contrast-row:hover td { background: var(--fv-panel); }
.fv-contrast-row:focus-visible { outline: 2px solid var(--fv-accent, #06c); outline-offset: -2px; }
.fv-contrast-row.fv-selected td { background: var(--fv-accent-bg, rgba(0,110,220,0.16)); }
.fv-contrast-row.fv-selected td:first-child { box-shadow: inset 3px 0 0 var(--fv-accent, #06c); }
.fv-contrast-feature { max-width: 260px; overflow-wrap: anywhere; }
.fv-contrast-id { color: var(--fv-fg2); font-family: var(--fv-code); font-size: 11px; margin-right: 6px; }
.fv-contrast-cell { display: flex; align-items: center; gap: 4px; white-space: nowrap; }
.fv-contrast-track {
  position: relative; flex: 1 1 52px; min-width: 18px; max-width: 52px; height: 10px; border-radius: 2px; overflow: hidden;
  background: var(--fv-contrast-track, rgba(127,127,127,0.15));
}
.fv-contrast-bar { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 2px; }
.fv-contrast-bar.fv-neg { background: none !important; border: 1px dashed currentColor; }
.fv-contrast-mean, .fv-contrast-mark, .fv-contrast-effect { flex: none; }
.fv-contrast-mean { min-width: 3.8em; text-align: right; font-family: var(--fv-code); font-size: 11px; }
.fv-contrast-mark { min-width: 1.6em; font-weight: 700; letter-spacing: -1px; }
.fv-contrast-effect { min-width: 3.6em; text-align: right; color: var(--fv-fg2); font-size: 10px; font-family: var(--fv-code); }
.fv-contrast-legend {
  padding: 4px 6px; border: 1px solid var(--fv-border); border-top: none;
  color: var(--fv-fg2); font-size: 11px; max-width: 100%; overflow-wrap: anywhere;
}
.fv-contrast-legend-marks { font-weight: 600; margin-right: 8px; }
`,
);

const GROUP_NAME_MAX = 40;
const LABEL_MAX = 40;

export interface ContrastView {
  root: HTMLElement;
  /** Re-read everything from the model and redraw (normally done on change events). */
  flush(): void;
  destroy(): void;
}

function applyTheme(root: HTMLElement): void {
  const theme = readTheme(root);
  const sel = theme.selection;
  setAccent(root, sel, theme.dark ? 0.28 : 0.16);
  root.style.setProperty("--fv-contrast-track", toCss(mix(theme.background, theme.text, theme.dark ? 0.16 : 0.09)));
  root.style.setProperty("--fv-contrast-rule", toCss(mix(theme.background, theme.text, 0.1)));
}

/** The header row: "feature" (order as given) and one sort button per group. */
function renderHeader(headRow: HTMLElement, d: ContrastData, sortGroup: string): void {
  clear(headRow);
  const featureBtn = h(
    "button",
    {
      className: `fv-contrast-sort fv-contrast-sort-feature${sortGroup ? "" : " fv-active"}`,
      attrs: { type: "button", "data-group": "", "aria-pressed": String(!d.groups.includes(sortGroup)) },
    },
    [h("span", { text: "feature" })],
  );
  featureBtn.title = "order as given";
  headRow.appendChild(h("th", { attrs: { scope: "col" } }, [featureBtn]));
  d.groups.forEach((g, k) => {
    const active = sortGroup === g;
    const btn = h(
      "button",
      {
        className: `fv-contrast-sort${active ? " fv-active" : ""}`,
        attrs: { type: "button", "data-group": g, "data-group-index": String(k), "aria-pressed": String(active) },
      },
      [
        h("span", { className: "fv-contrast-swatch" }),
        h("span", { className: "fv-contrast-group-name", text: cleanLabel(g, GROUP_NAME_MAX) }),
        h("span", { className: "fv-contrast-sort-mark", text: active ? "▼" : "" }),
      ],
    );
    (btn.firstChild as HTMLElement).style.background = toCss(groupColour(k));
    btn.title = `sort by ${cleanLabel(g, 200)}'s effect (descending)`;
    headRow.appendChild(h("th", { attrs: { scope: "col" } }, [btn]));
  });
}

/** One feature's row: its name, then per group a bar for the mean, the mean, the mark and the effect. */
function renderRow(d: ContrastData, r: number): HTMLTableRowElement {
  const id = d.featureIds[r];
  const label = d.featureLabels[r];
  const featureCell = h("td", {
    className: "fv-contrast-feature",
    attrs: { "data-row": String(r), "data-group-index": "-1" },
  });
  if (label) featureCell.appendChild(h("span", { className: "fv-contrast-id", text: `#${id}` }));
  featureCell.appendChild(
    h("span", { className: "fv-contrast-label", text: featureDisplayName(id, label, LABEL_MAX) }),
  );
  const tr = h(
    "tr",
    {
      className: "fv-contrast-row",
      attrs: { "data-feature": String(id), "data-row": String(r), tabindex: "0", "aria-selected": "false" },
    },
    [featureCell],
  );
  for (let k = 0; k < d.nGroups; k++) {
    const mean = d.bars.get(r, k);
    const effect = d.effects.get(r, k);
    const q = d.qValues.get(r, k);
    const colour = toCss(groupColour(k));
    const frac = Number.isFinite(mean) && d.maxAbsMean > 0 ? Math.min(1, Math.abs(mean) / d.maxAbsMean) : 0;
    const bar = h("span", { className: `fv-contrast-bar${mean < 0 ? " fv-neg" : ""}` });
    bar.style.width = `${(frac * 100).toFixed(1)}%`; // of the track, which narrows in small outputs
    bar.style.background = colour;
    bar.style.color = colour;
    const mark = groupMark(q, effect, d.alpha);
    const cell = h("div", { className: "fv-contrast-cell" }, [
      h("span", { className: "fv-contrast-track" }, [bar]),
      h("span", { className: "fv-contrast-mean", text: Number.isNaN(mean) ? "–" : formatValue(mean) }),
      h("span", { className: "fv-contrast-mark", text: mark }),
      h("span", { className: "fv-contrast-effect", text: `r ${formatEffect(effect)}` }),
    ]);
    tr.appendChild(
      h(
        "td",
        {
          className: "fv-contrast-group-cell",
          attrs: { "data-row": String(r), "data-group-index": String(k), "data-mark": mark },
        },
        [cell],
      ),
    );
  }
  return tr;
}

/** Tooltip rows for a cell: the feature, and for a group cell its mean, effect and q. */
function tooltipRows(d: ContrastData, cell: HTMLElement): TooltipRow[] | null {
  const r = Number(cell.getAttribute("data-row"));
  const k = Number(cell.getAttribute("data-group-index"));
  if (!Number.isInteger(r) || r < 0 || r >= d.nRows) return null;
  const id = d.featureIds[r];
  const label = d.featureLabels[r];
  const out: TooltipRow[] = [["feature", `#${id}${label ? ` ${cleanLabel(label, 200)}` : ""}`]];
  if (Number.isInteger(k) && k >= 0 && k < d.nGroups) {
    const q = d.qValues.get(r, k);
    const effect = d.effects.get(r, k);
    const mark = groupMark(q, effect, d.alpha);
    const verdict = mark
      ? "significantly higher"
      : significanceMark(q, d.alpha)
        ? "significantly lower: marked in the group it is higher in"
        : "not significant";
    out.push(
      ["group", cleanLabel(d.groups[k], 200)],
      ...(d.barsArePrompt
        ? ([
            [`avg ${d.aggregate ? `per-prompt ${d.aggregate}` : "per prompt"}`, formatValue(d.bars.get(r, k))],
          ] as TooltipRow[])
        : []),
      ["token mean", formatValue(d.means.get(r, k))],
      ["effect", `${formatEffect(effect)} (rank-biserial vs rest)`],
      ["q", `${formatQ(q)}${mark ? ` ${mark}` : ""} (${verdict} at α = ${formatValue(d.alpha)})`],
    );
  } else {
    out.push(["", "click to select"]);
  }
  return out;
}

/** Scroll the table's own scroller (not the notebook) so the row is visible below the sticky header. */
function scrollRowIntoView(scroller: HTMLElement, headerH: number, tr: HTMLTableRowElement): void {
  const top = tr.offsetTop;
  const bottom = top + tr.offsetHeight;
  const viewH = scroller.clientHeight;
  if (!(viewH > 0)) return;
  if (top - headerH < scroller.scrollTop) scroller.scrollTop = Math.max(0, top - headerH);
  else if (bottom > scroller.scrollTop + viewH) scroller.scrollTop = bottom - viewH;
}

export function createContrastView(model: AnyModel, el: HTMLElement): ContrastView {
  // ---- DOM -------------------------------------------------------------
  const style = h("style", { text: BASE_CSS + CONTRAST_CSS });
  const info = h("span", { className: "fv-info" });
  const note = h("div", { className: "fv-note" });
  /** Never let a rendering bug escape into the notebook: show it instead. */
  const scope = createScope(model, (text) => {
    data = null;
    showMessage(`Cannot show contrast: ${text}`, "error");
  });
  const safely = scope.safely;
  const title = titleControl(model, scope);
  const toolbar = h("div", { className: "fv-toolbar" }, [title.el, info, note]);
  const message = h("div", { className: "fv-message", attrs: { role: "status" } });
  const headRow = h("tr");
  const thead = h("thead", {}, [headRow]);
  const tbody = h("tbody");
  const table = h("table", { className: "fv-contrast-table" }, [thead, tbody]);
  const scroller = h("div", { className: "fv-scroll fv-contrast-scroll" }, [table]);
  const legendMarks = h("span", { className: "fv-contrast-legend-marks" });
  const legendTest = h("span", { className: "fv-contrast-legend-test" });
  const legend = h("div", { className: "fv-contrast-legend" }, [legendMarks, legendTest]);
  const root = h("div", { className: "fv-root fv-contrast" }, [style, toolbar, message, scroller, legend]);
  const tooltip = createTooltip(root);
  el.appendChild(root);

  // ---- State -----------------------------------------------------------
  let data: ContrastData | null = null;
  let opts: ContrastOptions = readContrastOptions(model);
  let order: number[] = [];
  let rows: HTMLTableRowElement[] = []; // by data row index
  let localSelection = false; // true while this view itself sets selected_feature

  // ---- Rendering -------------------------------------------------------

  function showMessage(text: string, state: "error" | "empty"): void {
    message.textContent = text;
    message.style.display = "";
    scroller.style.display = "none";
    legend.style.display = "none";
    clear(headRow);
    clear(tbody);
    rows = [];
    order = [];
    tooltip.hide();
    root.dataset.state = state;
    root.dataset.order = "";
  }

  function renderBody(d: ContrastData): void {
    clear(tbody);
    rows = new Array(d.nRows);
    for (let r = 0; r < d.nRows; r++) rows[r] = renderRow(d, r);
    order = rowOrder(d, opts.sortGroup);
    for (const r of order) tbody.appendChild(rows[r]);
    root.dataset.order = order.map((r) => d.featureIds[r]).join(",");
  }

  function applySelection(scroll: boolean): void {
    const sel = opts.selectedFeature;
    root.dataset.selectedFeature = String(sel);
    let first: HTMLTableRowElement | null = null;
    rows.forEach((tr, r) => {
      const on = sel >= 0 && !!data && data.featureIds[r] === sel;
      tr.classList.toggle("fv-selected", on);
      tr.setAttribute("aria-selected", String(on));
      if (on && !first) first = tr;
    });
    if (scroll && first) scrollRowIntoView(scroller, thead.offsetHeight || 0, first);
  }

  function renderAll(scrollToSelection: boolean): void {
    opts = readContrastOptions(model);
    title.update();
    root.dataset.sortGroup = opts.sortGroup;
    root.dataset.selectedFeature = String(opts.selectedFeature);
    const res = readContrast(model);
    if (!res.ok) {
      data = null;
      info.textContent = "";
      note.textContent = "";
      showMessage(res.error, res.empty ? "empty" : "error");
      return;
    }
    const d = res.data;
    data = d;
    info.textContent = `${d.nRows} feature${d.nRows === 1 ? "" : "s"} × ${d.nGroups} group${d.nGroups === 1 ? "" : "s"}`;
    const warnings = [...d.warnings];
    if (opts.sortGroup && !d.groups.includes(opts.sortGroup)) {
      warnings.push(`sort_group ${JSON.stringify(cleanLabel(opts.sortGroup, 40))} is not a group; order as given`);
    }
    note.textContent = warnings.length ? `⚠ ${warnings.join("; ")}` : "";
    if (d.nRows === 0 || d.nGroups === 0) {
      showMessage(`Nothing to show: ${d.nRows} features × ${d.nGroups} groups.`, "empty");
      return;
    }
    message.textContent = "";
    message.style.display = "none";
    scroller.style.display = "";
    legend.style.display = "";
    legendMarks.textContent = marksLegend(d.alpha);
    legendTest.textContent = testLegend(d.test, d.aggregate, d.barsArePrompt);
    tooltip.hide();
    renderHeader(headRow, d, opts.sortGroup);
    renderBody(d);
    root.dataset.state = "ready";
    applySelection(scrollToSelection);
  }

  // ---- Model listeners -------------------------------------------------
  const listen = scope.listen;
  listen(
    [
      "means",
      "prompt_means",
      "effects",
      "q_values",
      "groups",
      "feature_ids",
      "feature_labels",
      "alpha",
      "test",
      "aggregate",
    ],
    () => renderAll(false),
  );
  listen("sort_group", () => renderAll(false));
  listen("selected_feature", () => {
    opts = readContrastOptions(model);
    applySelection(!localSelection);
  });

  // ---- Interaction -----------------------------------------------------

  function selectRow(tr: HTMLElement): void {
    if (!data) return;
    const r = Number(tr.getAttribute("data-row"));
    if (!Number.isInteger(r) || r < 0 || r >= data.nRows) return;
    const id = data.featureIds[r];
    // Clicking the selected feature again keeps it selected (as in the heatmap).
    if (model.get("selected_feature") === id) return;
    localSelection = true;
    try {
      setTrait(model, "selected_feature", id);
    } finally {
      localSelection = false;
    }
  }

  const closest = (target: EventTarget | null, selector: string) => closestIn(root, target, selector);

  const onClick = (e: MouseEvent) =>
    safely(() => {
      const btn = closest(e.target, ".fv-contrast-sort");
      if (btn) {
        if (!data) return;
        const k = Number(btn.getAttribute("data-group-index") ?? "-1");
        const group = Number.isInteger(k) && k >= 0 && k < data.groups.length ? data.groups[k] : "";
        if (model.get("sort_group") !== group) setTrait(model, "sort_group", group);
        return;
      }
      const tr = closest(e.target, ".fv-contrast-row");
      if (tr) selectRow(tr);
    });

  const onKey = (e: KeyboardEvent) =>
    safely(() => {
      if (e.key !== "Enter" && e.key !== " ") return;
      const tr = closest(e.target, ".fv-contrast-row");
      if (!tr || e.target !== tr) return;
      e.preventDefault();
      selectRow(tr);
    });

  hoverTooltips({
    scope,
    within: table,
    host: root,
    tooltip,
    selector: "td[data-row]",
    rows: (cell) => (data ? tooltipRows(data, cell) : null),
    follow: true,
  });
  // The rows moved under the pointer.
  scope.on(scroller, "scroll", () => tooltip.hide(), { passive: true });
  scope.on(table, "click", onClick);
  scope.on(table, "keydown", onKey);
  scope.onTheme(() => applyTheme(root));
  scope.defer(() => {
    tooltip.destroy();
    root.remove();
  });

  safely(() => applyTheme(root));
  safely(() => renderAll(true));
  // Once laid out, bring an initially selected feature into view.
  if (opts.selectedFeature >= 0) scope.frames(() => applySelection(true)).schedule();

  return {
    root,
    flush() {
      safely(() => renderAll(false));
    },
    destroy: scope.dispose,
  };
}
