// The interpolation view: steer one feature over a precomputed sweep of
// values and scrub through them. Every value's continuation, next-token
// probabilities and KL are already in the model, so the slider and the play
// button work without a kernel (static HTML export included); only the
// "more" buttons ask Python for values beyond the range (trait `extend`).
//
// All untrusted text (prompt, tokens, error) goes through textContent or
// setAttribute; nothing here parses markup.

import { ACCENT_DARK, ACCENT_LIGHT, mix, toCss } from "./colour";
import { h } from "./dom";
import { formatValue } from "./format";
import { createChart } from "./interpolation-chart";
import { createSweepControls } from "./interpolation-controls";
import {
  clampIndex,
  describeRequest,
  describeSteering,
  type InterpolationData,
  readInterpolation,
} from "./interpolation-data";
import { createSteeredTexts } from "./interpolation-texts";
import { BASE_CSS, scopeCss, TOKEN_RUN_CSS } from "./styles";
import { readTheme, setAccent } from "./theme";
import { cleanLabel } from "./tokens";
import { type AnyModel, isKernelFree, safeGet } from "./traits";
import { createScope } from "./view";

/** Milliseconds per step while playing. */
export const PLAY_STEP_MS = 300;
/** After this long without any answer to an `extend` request, give the buttons back. */
export const EXTEND_TIMEOUT_MS = 20000;
const PROMPT_HEADER_MAX = 60;
const ERROR_MAX = 2000;

export const INTERPOLATION_CSS = scopeCss(
  ".fv-interpolation",
  `
.fv-interpolation { min-width: 360px; }
.fv-interp-desc { font-weight: 600; }
.fv-scale-note { flex-basis: 100%; font-size: 11px; color: var(--fv-fg2); }
.fv-scale-note:empty { display: none; }
.fv-interp-prompt-head { color: var(--fv-fg2); max-width: 48ch; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.fv-interp-status { display: none; align-items: center; gap: 5px; color: var(--fv-fg2); }
.fv-interp-status.fv-show { display: inline-flex; }
.fv-spinner {
  display: none; width: 10px; height: 10px; border-radius: 50%;
  border: 2px solid var(--fv-border); border-top-color: var(--fv-accent, #06c);
  animation: fv-spin 0.8s linear infinite;
}
.fv-interpolation[data-state="busy"] .fv-spinner { display: inline-block; }
.fv-interpolation.fv-stale .fv-interp-body { opacity: 0.45; }
@keyframes fv-spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .fv-spinner { animation-duration: 3s; } }
.fv-error {
  padding: 4px 8px; border: 1px solid var(--fv-interp-error, #c62828); border-bottom: none;
  color: var(--fv-interp-error, #c62828); background: var(--fv-interp-error-bg, rgba(198,40,40,0.08));
  white-space: pre-wrap; overflow-wrap: anywhere;
}
.fv-error:empty { display: none; }
.fv-interp-body {
  display: flex; flex-direction: column; gap: 10px; padding: 8px 10px;
  border: 1px solid var(--fv-border); background: var(--fv-bg);
}
.fv-interp-controls { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 8px; }
.fv-interpolation button {
  font: inherit; color: var(--fv-fg); background: var(--fv-panel); border: 1px solid var(--fv-border);
  border-radius: 3px; padding: 0 8px; height: 22px; cursor: pointer; white-space: nowrap;
}
.fv-interpolation button:hover:not(:disabled) { border-color: var(--fv-accent, #06c); }
.fv-interpolation button:focus-visible { outline: 2px solid var(--fv-accent, #06c); outline-offset: 1px; }
.fv-interpolation button:disabled { opacity: 0.45; cursor: default; }
.fv-play { min-width: 64px; }
.fv-slider-wrap { display: flex; align-items: center; gap: 6px; flex: 1 1 260px; min-width: 200px; }
.fv-slider { flex: 1 1 auto; min-width: 120px; margin: 0; accent-color: var(--fv-accent, #06c); }
.fv-interp-min, .fv-interp-max { color: var(--fv-fg2); font-family: var(--fv-code); font-size: 11px; font-variant-numeric: tabular-nums; }
.fv-interp-readout { display: flex; align-items: baseline; gap: 12px; font-variant-numeric: tabular-nums; }
.fv-interp-value { font-weight: 600; min-width: 7.5em; }
.fv-interp-value-num { font-family: var(--fv-code); }
.fv-interp-kl { color: var(--fv-fg2); }
.fv-interp-kl-num { font-family: var(--fv-code); color: var(--fv-fg); }
.fv-interp-texts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 6px 10px; align-items: baseline; }
.fv-interp-label { color: var(--fv-fg2); font-size: 11px; text-align: right; white-space: nowrap; }
.fv-generated, .fv-baseline {
  white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; line-height: 1.55; max-width: 80ch;
}
.fv-baseline { color: var(--fv-fg2); font-size: 12px; }
.fv-prompt { color: var(--fv-fg2); }
${TOKEN_RUN_CSS}
.fv-token:hover { outline: 1px solid var(--fv-border); }
.fv-token.fv-diff { background: var(--fv-interp-diff-bg, rgba(214,62,10,0.2)); }
.fv-token.fv-diff-first { box-shadow: inset 2px 0 0 var(--fv-accent, #d63e0a); }
.fv-base-token.fv-base-diff { text-decoration: underline dotted; text-underline-offset: 3px; }
.fv-interp-end { color: var(--fv-fg2); font-size: 11px; font-style: italic; white-space: normal; }
.fv-interp-empty-text { color: var(--fv-fg2); font-style: italic; }
.fv-interp-chart { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 6px 14px; }
.fv-chart-title { color: var(--fv-fg2); font-size: 11px; margin-bottom: 2px; }
.fv-chart-svg { display: block; max-width: 100%; height: auto; overflow: visible; }
.fv-chart-hit { cursor: crosshair; }
.fv-axis { stroke: var(--fv-border); stroke-width: 1; shape-rendering: crispEdges; }
.fv-grid { stroke: var(--fv-interp-grid, rgba(127,127,127,0.2)); stroke-width: 1; shape-rendering: crispEdges; }
.fv-zero { stroke: var(--fv-interp-grid, rgba(127,127,127,0.2)); stroke-dasharray: 3 3; }
.fv-tick { fill: var(--fv-fg2); font-size: 10px; font-family: var(--fv-font); }
.fv-cursor { stroke: var(--fv-accent, #06c); stroke-width: 1.5; }
.fv-line { fill: none; stroke-width: 1.8; stroke-linejoin: round; stroke-linecap: round; }
.fv-series { transition: opacity 0.1s; }
.fv-chart-svg.fv-hl-on .fv-series { opacity: 0.2; }
.fv-chart-svg.fv-hl-on .fv-series.fv-hl { opacity: 1; }
.fv-chart-svg.fv-hl-on .fv-series.fv-hl .fv-line { stroke-width: 2.6; }
.fv-base-dot { fill: var(--fv-bg); stroke-width: 1.5; }
.fv-cur-dot { stroke: var(--fv-bg); stroke-width: 1; }
.fv-chart-side { display: flex; flex-direction: column; gap: 4px; padding-top: 14px; }
.fv-chart-legend { display: flex; flex-direction: column; gap: 2px; font-size: 11px; min-width: 150px; }
.fv-chart-item { display: flex; align-items: center; gap: 6px; padding: 0 3px; border-radius: 2px; }
.fv-chart-item.fv-hl { background: var(--fv-panel); }
.fv-chart-swatch { flex: none; width: 14px; height: 3px; border-radius: 1px; }
.fv-chart-token { font-family: var(--fv-code); white-space: pre; }
.fv-chart-prob { margin-left: auto; padding-left: 10px; font-family: var(--fv-code); color: var(--fv-fg2); font-variant-numeric: tabular-nums; }
.fv-chart-more, .fv-chart-empty { color: var(--fv-fg2); font-size: 11px; }
.fv-chart-more:empty { display: none; }
`,
);

export interface InterpolationView {
  root: HTMLElement;
  /** Re-read everything from the model and redraw (normally done on change events). */
  flush(): void;
  destroy(): void;
}

const DATA_TRAITS = [
  "values",
  "texts",
  "new_tokens",
  "baseline_text",
  "baseline_tokens",
  "next_token_strings",
  "next_token_probs",
  "baseline_probs",
  "kl",
  "prompt",
  "mode",
  "positions",
  "feature",
  "computed_for",
];

/** The accent, the diff highlight, grid and error colours for the notebook theme. */
function applyTheme(root: HTMLElement): void {
  const theme = readTheme(root);
  const accent = theme.dark ? ACCENT_DARK : ACCENT_LIGHT;
  const diff = mix(theme.background, accent, theme.dark ? 0.42 : 0.26);
  setAccent(root, accent);
  root.style.setProperty("--fv-interp-diff-bg", toCss(diff));
  root.style.setProperty("--fv-interp-grid", toCss(mix(theme.background, theme.text, theme.dark ? 0.18 : 0.1)));
  const err = theme.dark ? ([255, 120, 120] as const) : ([198, 40, 40] as const);
  root.style.setProperty("--fv-interp-error", `rgb(${err[0]},${err[1]},${err[2]})`);
  root.style.setProperty("--fv-interp-error-bg", `rgba(${err[0]},${err[1]},${err[2]},${theme.dark ? 0.14 : 0.07})`);
  root.dataset.theme = theme.dark ? "dark" : "light";
}

/** The value shown and its KL from the unsteered next-token distribution. */
function createReadout(): { el: HTMLElement; update(value: string, kl: number): void } {
  const valueNum = h("span", { className: "fv-interp-value-num" });
  const valueEl = h("span", { className: "fv-interp-value" }, [h("span", { text: "value = " }), valueNum]);
  const klNum = h("span", { className: "fv-interp-kl-num" });
  const klEl = h(
    "span",
    {
      className: "fv-interp-kl",
      title: "KL(steered ‖ unsteered) of the next-token distribution after the prompt",
    },
    [h("span", { text: "KL from unsteered: " }), klNum],
  );
  return {
    el: h("div", { className: "fv-interp-readout" }, [valueEl, klEl]),
    update(value, kl) {
      valueNum.textContent = value;
      klNum.textContent = Number.isFinite(kl) ? `${formatValue(kl)} nats` : "–";
    },
  };
}

/** The header: what is steered, the prompt, the status (with a spinner), warnings, the sweep's origin. */
function createHeader() {
  const desc = h("span", { className: "fv-interp-desc" });
  const promptHead = h("span", { className: "fv-interp-prompt-head" });
  const statusText = h("span", { className: "fv-interp-status-text" });
  const status = h("span", { className: "fv-interp-status", attrs: { role: "status", "aria-live": "polite" } }, [
    h("span", { className: "fv-spinner", attrs: { "aria-hidden": "true" } }),
    statusText,
  ]);
  const note = h("div", { className: "fv-note" });
  // Where the default sweep came from (the feature's own scale), or why it may do nothing on this prompt.
  const scaleNote = h("div", { className: "fv-scale-note" });
  return {
    el: h("div", { className: "fv-toolbar" }, [desc, promptHead, status, note, scaleNote]),
    update(d: InterpolationData) {
      desc.textContent = describeSteering(d.mode, d.feature, d.positions);
      promptHead.textContent = d.prompt ? `“${cleanLabel(d.prompt, PROMPT_HEADER_MAX)}”` : "";
      promptHead.title = d.prompt ? cleanLabel(d.prompt, 2000) : "";
      note.textContent = d.warnings.length ? `Note: ${d.warnings.join("; ")}.` : "";
    },
    status(text: string, scale: unknown) {
      scaleNote.textContent = typeof scale === "string" && scale ? `Sweep: ${scale}.` : "";
      statusText.textContent = text;
      status.classList.toggle("fv-show", text !== "");
    },
  };
}

export function createInterpolationView(model: AnyModel, el: HTMLElement): InterpolationView {
  // ---- DOM -------------------------------------------------------------
  const style = h("style", { text: BASE_CSS + INTERPOLATION_CSS });
  const header = createHeader();
  const errorBox = h("div", { className: "fv-error", attrs: { role: "alert" } });
  const message = h("div", { className: "fv-message" });
  // In an HTML export no Python answers: the "more" buttons are off and say why.
  const kernelFree = isKernelFree(model);
  const readout = createReadout();
  const texts = createSteeredTexts();
  let selectFromUser: (i: number) => void = () => {};
  const chart = createChart((i) => selectFromUser(i));
  const root = h("div", { className: "fv-root fv-interpolation" }, [style, header.el, errorBox, message]);

  // ---- State -----------------------------------------------------------
  let data: InterpolationData | null = null;
  let index = -1;
  let pendingExtend = "";
  let extendNote = "";

  /** A rendering bug must never escape into the notebook: show it instead. */
  const scope = createScope(model, (text) => {
    player.stop();
    message.style.display = "";
    message.textContent = `Cannot show interpolation: ${text}`;
    root.dataset.state = "error";
  });
  const safely = scope.safely;
  // Python did not answer an extend request in time.
  const extendTimer = scope.timer(() => {
    if (!pendingExtend || get("busy") === true) return;
    pendingExtend = "";
    extendNote = "no answer from Python: more values need a running kernel";
    renderStatus();
  }, EXTEND_TIMEOUT_MS);

  const get = (k: string): unknown => safeGet(model, k);
  const count = () => (data ? data.values.length : 0);
  const controls = createSweepControls({
    scope,
    root,
    intervalMs: PLAY_STEP_MS,
    kernelFree,
    count,
    index: () => index,
    go: (i) => select(i),
    extend: requestExtend,
  });
  const player = controls.player;
  const body = h("div", { className: "fv-interp-body" }, [controls.el, readout.el, texts.el, chart.el]);
  root.appendChild(body);
  el.appendChild(root);

  // ---- Rendering -------------------------------------------------------
  /** Show value i everywhere (text, readout, chart, attributes). */
  function renderIndex(i: number): void {
    const d = data;
    const S = count();
    if (!d || S === 0) {
      index = -1;
      root.dataset.index = "";
      root.dataset.value = "";
      return;
    }
    index = clampIndex(i, S);
    const v = d.values[index];
    const shown = formatValue(v);
    readout.update(shown, d.kl[index]);
    root.dataset.index = String(index);
    root.dataset.value = Number.isFinite(v) ? String(v) : "";
    texts.update(d, index);
    chart.setIndex(index);
    controls.update(index, shown);
  }

  function renderData(): void {
    player.stop();
    data = readInterpolation(model);
    const d = data;
    header.update(d);
    const S = d.values.length;
    controls.build(d.values, d.mode === "ablate");
    // Stale (the inputs changed, e.g. a linked heatmap chose another feature): the header keeps naming what
    // the texts were steered with; live, they are dimmed until Python's new result arrives; in an export
    // nothing will arrive, so they give way to a plain sentence.
    const unavailable = d.stale && kernelFree;
    root.classList.toggle("fv-stale", d.stale && !kernelFree);
    root.dataset.feature = Number.isFinite(d.feature) ? String(d.feature) : "";
    root.dataset.requested = Number.isFinite(d.requested.feature) ? String(d.requested.feature) : "";
    chart.build(S > 0 ? d : null);
    const msg = unavailable
      ? `Steering ${describeRequest(d, d.requested)} needs a running Python kernel: this exported file holds ` +
        `only the steering of feature ${d.feature} shown here before.`
      : S === 0
        ? "No steering values to show."
        : "";
    body.style.display = msg ? "none" : "";
    message.style.display = msg ? "" : "none";
    message.textContent = msg;
    renderIndex(clampIndex(get("index"), S));
    renderStatus();
  }

  function renderStatus(): void {
    const busy = get("busy") === true;
    const rawError = get("error");
    const error = typeof rawError === "string" ? rawError : rawError == null ? "" : String(rawError);
    errorBox.textContent = error.length > ERROR_MAX ? `${error.slice(0, ERROR_MAX)}…` : error;
    const stale = !!data && data.stale;
    let text = "";
    if (stale && !kernelFree) text = `computing the steering of ${describeRequest(data!, data!.requested)}…`;
    else if (busy) text = "computing more values…";
    else if (pendingExtend) text = `asking Python for ${pendingExtend === "low" ? "lower" : "higher"} values…`;
    else if (extendNote) text = extendNote;
    header.status(text, get("note"));
    const waiting = busy || stale || kernelFree || pendingExtend !== "";
    controls.setExtendDisabled(waiting || !data || count() === 0);
    const computing = busy || (stale && !kernelFree);
    root.setAttribute("aria-busy", computing ? "true" : "false");
    // "unavailable": an export (no kernel) was asked for inputs it holds no result for.
    root.dataset.state =
      stale && kernelFree ? "unavailable" : computing ? "busy" : error ? "error" : count() === 0 ? "empty" : "ready";
  }

  // ---- Selection and playback -----------------------------------------
  function select(i: number): void {
    const S = count();
    if (S === 0) return;
    const next = clampIndex(i, S);
    if (next !== index) renderIndex(next);
    if (get("index") !== next) {
      model.set("index", next);
      model.save_changes();
    }
  }
  selectFromUser = (i: number) => {
    player.stop();
    safely(() => select(i));
  };

  // ---- Extend ----------------------------------------------------------
  function requestExtend(direction: "low" | "high"): void {
    if (!data || count() === 0 || get("busy") === true || pendingExtend) return;
    player.stop();
    extendNote = "";
    // The same value again would not reach Python (no change): reset it first.
    if (get("extend") === direction) {
      model.set("extend", "");
      model.save_changes();
    }
    model.set("extend", direction);
    model.save_changes();
    pendingExtend = direction;
    extendTimer.start();
    renderStatus();
  }

  // ---- Model listeners -------------------------------------------------
  const listen = scope.listen;
  listen(DATA_TRAITS, renderData);
  listen("index", () => {
    const i = clampIndex(get("index"), count());
    if (i !== index) renderIndex(i);
  });
  listen("busy", () => {
    if (get("busy") === true) {
      extendTimer.cancel(); // Python answered
      extendNote = "";
    }
    renderStatus();
  });
  listen("error", renderStatus);
  listen("note", renderStatus);
  listen("extend", () => {
    if (get("extend") === "" || get("extend") == null) {
      pendingExtend = "";
      extendTimer.cancel();
    }
    renderStatus();
  });

  scope.onTheme(() => applyTheme(root));
  scope.defer(chart.destroy);
  scope.defer(() => root.remove());
  safely(() => applyTheme(root));
  safely(renderData);

  return {
    root,
    flush() {
      safely(renderData);
    },
    destroy: scope.dispose,
  };
}
