// The feature dashboard view (a sae_vis / Neuronpedia-style feature card):
// header with navigation and token search; left column with density, max,
// activation histogram, logit effects and nearest features; right column with
// the top-activating contexts and collapsible activation-interval groups.
//
// Traits: feature (two-way), page (Python answers a feature change by
// replacing it), feature_ids (navigation order), search (two-way),
// search_results, title, feature_labels ({feature id: label}, shared by
// fv.link: the shown feature's label sits in the header). Everything from the model is untrusted; all text
// goes through textContent (never innerHTML).

import { mix, toCss } from "./colour";
import { titleControl } from "./controls";
import { createDashboardBody } from "./dashboard-body";
import {
  type DashboardPage,
  indexIds,
  type PageRead,
  readFeature,
  readFeatureIds,
  readPage,
  scaleMax,
  scaleMin,
} from "./dashboard-data";
import { DECODER_NORMS_CSS } from "./dashboard-decoder-norms";
import { createLiveControls, LIVE_CSS } from "./dashboard-live";
import { createDashboardNav } from "./dashboard-nav";
import { makePalette } from "./dashboard-parts";
import { createDashboardSearch } from "./dashboard-search";
import { closestIn, h } from "./dom";
import { BASE_CSS, scopeCss, TOKEN_CELL_CSS, TOKEN_RUN_CSS } from "./styles";
import { readTheme, setAccent, type Theme } from "./theme";
import { cleanLabel } from "./tokens";
import { createTooltip } from "./tooltip";
import { type AnyModel, isKernelFree, labelsOf, safeGet, setTrait } from "./traits";
import { createScope } from "./view";

export const DASHBOARD_CSS = scopeCss(
  ".fv-dashboard",
  `
.fv-dashboard { width: 100%; max-width: 900px; min-width: 0; }
.fv-dash-header { gap: 4px 10px; }
.fv-dash-id { font-family: var(--fv-code); font-size: 14px; font-weight: 700; }
.fv-dash-label { font-size: 13px; font-weight: 600; color: var(--fv-accent); max-width: 24em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.fv-dash-label:empty { display: none; }
.fv-dash-nav { display: inline-flex; align-items: center; gap: 2px; }
.fv-dash-nav button, .fv-dash-logy {
  font: inherit; color: var(--fv-fg); background: var(--fv-bg); border: 1px solid var(--fv-border);
  border-radius: 3px; padding: 0 7px; height: 22px; cursor: pointer; line-height: 1;
}
.fv-dash-nav button:disabled { opacity: 0.4; cursor: default; }
.fv-dash-nav button:not(:disabled):hover, .fv-dash-logy:hover { background: var(--fv-panel); border-color: var(--fv-accent); }
.fv-dashboard input.fv-dash-input, .fv-dashboard input.fv-search {
  font: inherit; color: var(--fv-fg); background: var(--fv-bg); border: 1px solid var(--fv-border);
  border-radius: 3px; height: 22px; padding: 0 5px; margin: 0;
}
.fv-dashboard input.fv-dash-input { width: 7em; font-family: var(--fv-code); -moz-appearance: textfield; appearance: textfield; }
.fv-dashboard input.fv-dash-input::-webkit-outer-spin-button,
.fv-dashboard input.fv-dash-input::-webkit-inner-spin-button { -webkit-appearance: none; margin: 0; }
.fv-dashboard input.fv-search { width: 13em; max-width: 100%; }
.fv-dashboard input.fv-invalid { border-color: var(--fv-neg-text); outline: 1px solid var(--fv-neg-text); }
.fv-dashboard input:focus-visible, .fv-dashboard button:focus-visible, .fv-dashboard summary:focus-visible {
  outline: 2px solid var(--fv-accent); outline-offset: 1px;
}
.fv-dash-pos { color: var(--fv-fg2); font-variant-numeric: tabular-nums; }
.fv-dash-search { margin-left: auto; display: inline-flex; align-items: center; gap: 4px; }
.fv-dash-status { color: var(--fv-fg2); font-size: 11px; min-height: 1em; }
.fv-dash-status:empty { display: none; }
.fv-dashboard[data-state="loading"] .fv-dash-status::before {
  content: ""; display: inline-block; width: 8px; height: 8px; margin-right: 5px; vertical-align: -1px;
  border: 2px solid var(--fv-accent); border-right-color: transparent; border-radius: 50%;
  animation: fv-dash-spin 0.8s linear infinite;
}
@keyframes fv-dash-spin { to { transform: rotate(360deg); } }
.fv-dashboard[data-state="error"] .fv-dash-status { color: var(--fv-neg-text); }
.fv-dash-results {
  border: 1px solid var(--fv-border); border-bottom: none; padding: 4px 6px; background: var(--fv-bg);
  max-height: 132px; overflow: auto;
}
.fv-dash-results-head { color: var(--fv-fg2); font-size: 11px; margin-bottom: 3px; }
.fv-dash-results-list { display: flex; flex-wrap: wrap; gap: 3px; }
.fv-search-result, .fv-nearest {
  display: inline-flex; align-items: baseline; gap: 5px; font: inherit; font-size: 11px;
  color: var(--fv-fg); background: var(--fv-chip); border: 1px solid var(--fv-border); border-radius: 10px;
  padding: 1px 8px; cursor: pointer; max-width: 100%;
}
.fv-search-result:hover, .fv-nearest:not(:disabled):hover { border-color: var(--fv-accent); background: var(--fv-accent-bg); }
.fv-search-result.fv-current { border-color: var(--fv-accent); box-shadow: inset 0 0 0 1px var(--fv-accent); }
.fv-nearest.fv-unavailable { opacity: 0.5; cursor: default; }
.fv-search-result-id, .fv-nearest-id { font-family: var(--fv-code); font-weight: 600; }
.fv-search-result-token { font-family: var(--fv-code); }
.fv-search-result-value, .fv-nearest-cos { color: var(--fv-fg2); font-variant-numeric: tabular-nums; }
.fv-dash-body {
  display: flex; flex-wrap: wrap; align-items: stretch; gap: 0;
  border: 1px solid var(--fv-border); transition: opacity 0.15s;
}
.fv-dashboard[data-state="loading"] .fv-dash-body { opacity: 0.5; transition-delay: 0.12s; }
.fv-dash-left { flex: 1 1 320px; max-width: 100%; min-width: 0; padding: 6px 10px 8px; }
.fv-dash-right { flex: 999 1 400px; min-width: 0; padding: 6px 10px 8px; border-left: 1px solid var(--fv-rule); }
.fv-dash-section { margin-bottom: 10px; }
.fv-dash-section:last-child { margin-bottom: 0; }
.fv-dash-h {
  display: flex; align-items: center; gap: 8px; margin: 0 0 4px; font-size: 11px; font-weight: 600;
  text-transform: uppercase; letter-spacing: 0.04em; color: var(--fv-fg2);
}
.fv-dash-h .fv-legend { margin-left: auto; text-transform: none; letter-spacing: 0; font-weight: 400; }
.fv-dash-h .fv-legend-bar { width: 64px; }
.fv-dash-stats { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; align-items: baseline; }
.fv-dash-stat-label { color: var(--fv-fg2); }
.fv-dash-stat-value { font-family: var(--fv-code); font-variant-numeric: tabular-nums; }
.fv-dash-stat-sub { color: var(--fv-fg2); font-family: var(--fv-font); margin-left: 6px; font-size: 11px; }
.fv-dash-stat-sub.fv-block { margin-left: 0; }
.fv-dash-none { color: var(--fv-fg2); font-style: italic; }
.fv-dash-logy { height: 17px; padding: 0 5px; font-size: 10px; margin-left: auto; text-transform: none; }
.fv-dash-logy[aria-pressed="true"] { border-color: var(--fv-accent); color: var(--fv-accent); }
.fv-hist { position: relative; }
.fv-hist-ylabel { font-size: 10px; color: var(--fv-fg2); font-variant-numeric: tabular-nums; }
.fv-hist-svg { display: block; width: 100%; height: 72px; overflow: visible; }
.fv-hist-axis { stroke: var(--fv-border); stroke-width: 1; vector-effect: non-scaling-stroke; }
.fv-hist-zero { stroke: var(--fv-fg2); stroke-width: 1; stroke-dasharray: 2 2; vector-effect: non-scaling-stroke; }
.fv-logit-hist { margin-bottom: 4px; }
.fv-logit-hist .fv-hist-svg { height: 44px; }
.fv-hist-hit { cursor: crosshair; }
.fv-hist-hit:hover { fill: var(--fv-accent-bg); }
.fv-hist-xlabels { display: flex; justify-content: space-between; font-size: 10px; color: var(--fv-fg2); font-variant-numeric: tabular-nums; }
.fv-hist-xname { font-style: italic; }
.fv-dash-logit-cols { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.fv-logits { min-width: 0; }
.fv-logits-head { font-size: 10px; color: var(--fv-fg2); margin-bottom: 1px; }
.fv-logit { display: grid; grid-template-columns: minmax(0, 1fr) 24px auto; align-items: center; gap: 4px; padding: 0 2px; line-height: 1.45; }
.fv-logit:hover { background: var(--fv-panel); }
.fv-logit-token { font-family: var(--fv-code); font-size: 11px; }
.fv-logit-track { height: 7px; border-radius: 2px; background: var(--fv-track); overflow: hidden; }
.fv-logit-bar { display: block; height: 100%; border-radius: 2px; }
.fv-logit-value { font-family: var(--fv-code); font-size: 10px; color: var(--fv-fg2); text-align: right; min-width: 3.6em; }
.fv-logits-pos .fv-logit-value { color: var(--fv-pos-text); }
.fv-logits-neg .fv-logit-value { color: var(--fv-neg-text); }
.fv-dash-chips { display: flex; flex-wrap: wrap; gap: 3px; }
.fv-context {
  display: flex; align-items: baseline; gap: 8px; padding: 2px 0; border-bottom: 1px solid var(--fv-rule);
  font-family: var(--fv-code); font-size: 12px; line-height: 1.55;
}
.fv-context:last-child { border-bottom: none; }
.fv-context-value { flex: none; min-width: 3.4em; text-align: right; color: var(--fv-fg2); font-size: 10px; font-variant-numeric: tabular-nums; }
.fv-context-tokens { min-width: 0; overflow-wrap: anywhere; }
${TOKEN_RUN_CSS}
${TOKEN_CELL_CSS}
${DECODER_NORMS_CSS}
${LIVE_CSS}
.fv-token { cursor: default; }
.fv-token:hover { box-shadow: inset 0 0 0 1px var(--fv-fg2); }
.fv-token-max { box-shadow: 0 0 0 1.5px var(--fv-max); }
.fv-token-max:hover { box-shadow: 0 0 0 1.5px var(--fv-max), inset 0 0 0 1px var(--fv-fg2); }
.fv-token-empty { color: var(--fv-fg2); }
.fv-interval { border-top: 1px solid var(--fv-rule); }
.fv-interval > summary {
  cursor: pointer; padding: 3px 0; font-size: 11px; color: var(--fv-fg); list-style-position: inside;
}
.fv-interval-range { font-weight: 600; font-variant-numeric: tabular-nums; }
.fv-interval-meta { color: var(--fv-fg2); margin-left: 6px; font-variant-numeric: tabular-nums; }
.fv-interval-examples { padding-left: 4px; }
`,
);

/** Give up waiting for Python's page after this long (shown as an error, the old page stays). */
export const PAGE_TIMEOUT_MS = 10_000;
const TITLE_MAX = 120;
/** A feature label (feature_labels, shared with a linked heatmap) is cut here; its tooltip holds more. */
const LABEL_MAX = 80;

export type DashboardState = "ready" | "loading" | "error" | "empty";

export interface DashboardView {
  root: HTMLElement;
  /** Re-read everything from the model and redraw. */
  flush(): void;
  destroy(): void;
}

/** The accent and the dashboard's own colours (chips, tracks, rules, signed text) for the theme. */
function applyTheme(root: HTMLElement): Theme {
  const theme = readTheme(root);
  const set = (k: string, v: string) => root.style.setProperty(k, v);
  setAccent(root, theme.selection, theme.dark ? 0.25 : 0.12);
  set("--fv-chip", toCss(mix(theme.background, theme.text, theme.dark ? 0.1 : 0.05)));
  set("--fv-track", toCss(mix(theme.background, theme.text, theme.dark ? 0.16 : 0.09)));
  set("--fv-rule", toCss(mix(theme.background, theme.text, 0.12)));
  set("--fv-max", toCss(theme.dark ? [240, 240, 240] : [20, 20, 20]));
  set("--fv-pos-text", theme.dark ? "rgb(255,120,120)" : "rgb(170,20,40)");
  set("--fv-neg-text", theme.dark ? "rgb(120,175,255)" : "rgb(30,90,170)");
  return theme;
}

/** The feature Python refused (feature_error), else the id the box refused, as one sentence ("" if none). */
function refusalText(model: AnyModel, invalidId: string): string {
  const fromPython = safeGet(model, "feature_error");
  return typeof fromPython === "string" && fromPython ? cleanLabel(fromPython, 300) : invalidId;
}

export function createDashboardView(model: AnyModel, el: HTMLElement): DashboardView {
  // ---- State ---------------------------------------------------------------
  // In an HTML export no Python answers: search is off and says why; only exported pages can be shown.
  const kernelFree = isKernelFree(model);
  let theme: Theme;
  let pageRead: PageRead = { kind: "empty" };
  let page: DashboardPage | null = null;
  let ids: number[] = [];
  let idIndex = new Map<number, number>();
  let requested: number | null = null;
  let timedOut = false;
  /** Why the id typed in the box was not asked for (shown inline until the next feature is shown). */
  let invalidId = "";

  // ---- Parts ---------------------------------------------------------------
  const status = h("span", { className: "fv-dash-status", attrs: { role: "status", "aria-live": "polite" } });
  const root = h("div", { className: "fv-root fv-dashboard" });
  /** A rendering bug must never escape into the notebook: show it instead. */
  const scope = createScope(model, (text) => {
    root.dataset.state = "error";
    status.textContent = `⚠ ${text}`;
  });
  const safely = scope.safely;
  const title = titleControl(model, scope, (t) => cleanLabel(t, TITLE_MAX));
  const idLabel = h("span", { className: "fv-dash-id" });
  const featureLabel = h("span", { className: "fv-dash-label" });
  const nav = createDashboardNav(scope, go, (message) => {
    invalidId = message;
    renderState();
  });
  const search = createDashboardSearch({ model, scope, kernelFree, current: () => requested, onResults: renderNav });
  const note = h("div", { className: "fv-note" });
  const header = h("div", { className: "fv-toolbar fv-dash-header" }, [
    title.el,
    idLabel,
    featureLabel,
    nav.el,
    nav.pos,
    status,
    search.el,
    note,
  ]);
  const message = h("div", { className: "fv-message" });
  const tooltip = createTooltip(root);
  const live = createLiveControls(model, scope, kernelFree, () => body.updateLive());
  const body = createDashboardBody(scope, root, tooltip, live);
  root.append(h("style", { text: BASE_CSS + DASHBOARD_CSS }), header, search.results, message, body.el, tooltip.el);
  el.appendChild(root);
  theme = readTheme(root);

  // No page arrived for the requested feature in time.
  const pageTimer = scope.timer(() => {
    timedOut = true;
    renderState();
  }, PAGE_TIMEOUT_MS);

  // ---- Rendering -----------------------------------------------------------
  function renderNav(): void {
    nav.update(requested, ids, idIndex);
    search.markCurrent(requested);
  }

  const refusal = () => refusalText(model, invalidId);

  function state(): DashboardState {
    if (pageRead.kind === "error") return "error";
    if (refusal()) return "error";
    if (pageRead.kind === "empty") return "empty";
    if (page && page.feature === null) return "error";
    if (page && requested !== null && page.feature !== requested) return timedOut || kernelFree ? "error" : "loading";
    return "ready";
  }

  function renderState(): void {
    const s = state();
    // Wait (with a timeout) only while a page for another feature is shown.
    if (s === "loading" && !pageTimer.pending && !timedOut && !kernelFree) pageTimer.start();
    if (s !== "loading") pageTimer.cancel();
    root.dataset.state = s;
    root.dataset.feature = page && page.feature !== null ? String(page.feature) : "";
    root.dataset.requested = requested === null ? "" : String(requested);
    root.setAttribute("aria-busy", String(s === "loading"));
    if (s === "loading") status.textContent = `loading #${requested}…`;
    else if (s === "error" && refusal()) status.textContent = `⚠ ${refusal()}`;
    else if (s === "error" && kernelFree && page && page.feature !== requested) {
      status.textContent = `⚠ #${requested} has no page in this exported file; showing #${page.feature}`;
    } else if (s === "error" && timedOut)
      status.textContent = `⚠ no page for #${requested} yet (is the kernel running?)`;
    else if (s === "error" && pageRead.kind === "page") status.textContent = "⚠ the page names no feature";
    else status.textContent = "";
  }

  /** The label of the feature shown, from feature_labels ({feature id: label}), as text. */
  function renderLabel(): void {
    const id = page?.feature ?? null;
    const labels = safeGet(model, "feature_labels");
    const raw = id === null || Array.isArray(labels) ? "" : labelsOf(labels, [id], [])[0];
    featureLabel.textContent = raw ? cleanLabel(raw, LABEL_MAX) : "";
    featureLabel.title = raw ? cleanLabel(raw, 400) : "";
  }

  function renderPage(): void {
    tooltip.hide();
    pageRead = readPage(safeGet(model, "page"));
    page = pageRead.kind === "page" ? pageRead.page : null;
    timedOut = false;
    message.style.display = page ? "none" : "";
    body.el.style.display = page ? "" : "none";
    if (!page) {
      body.clear();
      message.textContent =
        pageRead.kind === "error" ? `Cannot show this page: ${pageRead.error}.` : "No feature page yet.";
      idLabel.textContent = "";
      note.textContent = "";
    } else {
      message.textContent = "";
      idLabel.textContent = page.feature === null ? "#?" : `#${page.feature}`;
      note.textContent = page.warnings.length ? `⚠ ${page.warnings.join("; ")}` : "";
      const vmax = scaleMax(page);
      const vmin = scaleMin(page) < 0 ? -vmax : 0;
      live.update(page.feature);
      body.update(page, makePalette(theme, vmin, vmax), (id) => ids.length === 0 || idIndex.has(id));
    }
    renderLabel();
    renderState();
  }

  function readRequested(): void {
    requested = readFeature(safeGet(model, "feature"));
  }

  function readIds(): void {
    ids = readFeatureIds(safeGet(model, "feature_ids"));
    idIndex = indexIds(ids);
  }

  function renderAll(): void {
    readRequested();
    readIds();
    title.update();
    search.update();
    renderPage();
    renderNav();
  }

  // ---- Actions -------------------------------------------------------------
  /** Ask Python for another feature (ignored if it is not in feature_ids). */
  function go(id: number | null): boolean {
    if (id === null || !Number.isSafeInteger(id)) return false;
    if (ids.length && !idIndex.has(id)) return false;
    invalidId = "";
    if (id !== requested || (page && page.feature !== id)) {
      timedOut = false;
      pageTimer.cancel();
      if (safeGet(model, "feature") !== id) setTrait(model, "feature", id);
      requested = id;
    }
    nav.clearInvalid();
    renderNav();
    renderState();
    return true;
  }

  // Nearest-feature chips and search results name a feature to show.
  scope.on<MouseEvent>(root, "click", (e) => {
    const chip = closestIn(root, e.target, ".fv-nearest, .fv-search-result") as HTMLButtonElement | null;
    if (chip && !chip.disabled) go(Number(chip.getAttribute("data-feature")));
  });

  // ---- Model listeners -----------------------------------------------------
  scope.listen("page", () => {
    readRequested();
    renderPage();
    renderNav();
  });
  scope.listen("feature", () => {
    const before = requested;
    readRequested();
    if (requested !== before) timedOut = false;
    renderNav();
    renderState();
  });
  scope.listen("feature_error", renderState);
  scope.listen("feature_labels", renderLabel);
  scope.listen("feature_ids", () => {
    readIds();
    renderPage(); // nearest chips depend on which ids are available
    renderNav();
  });
  scope.onTheme(() => {
    theme = applyTheme(root);
    renderPage();
  });
  scope.defer(() => {
    tooltip.destroy();
    root.remove();
  });

  safely(() => {
    theme = applyTheme(root);
  });
  safely(renderAll);

  return {
    root,
    flush() {
      safely(renderAll);
    },
    destroy: scope.dispose,
  };
}
