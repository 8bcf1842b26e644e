// The feature dashboard view (a sae_vis / Neuronpedia-style feature card):
// header with navigation and token search; left column with density, max,
// activation histogram, logit effects and nearest features; right column with
// the top-activating contexts and collapsible activation-interval groups.
//
// Traits: feature (two-way), page (Python answers a feature change by
// replacing it), feature_ids (navigation order), search (two-way),
// search_results, title. Everything from the model is untrusted; all text
// goes through textContent (never innerHTML).

import { createLegend, mix, toCss } from "./colour";
import {
  type DashboardPage,
  type Example,
  formatCount,
  formatDensity,
  indexIds,
  intervalLabel,
  neighbour,
  oneInN,
  type PageRead,
  readFeature,
  readFeatureIds,
  readPage,
  readSearchResults,
  type SearchResult,
  scaleMax,
  scaleMin,
} from "./dashboard-data";
import {
  contextRow,
  type HistogramPart,
  histogram,
  logitTable,
  logitTooltipRows,
  makePalette,
  nearestChip,
  type Palette,
  tokenTooltipRows,
} from "./dashboard-parts";
import { clear, h } from "./dom";
import { formatValue } from "./format";
import { BASE_CSS, scopeCss } from "./styles";
import { readTheme, setAccent, type Theme } from "./theme";
import { cleanLabel, tokenLabel } from "./tokens";
import { createTooltip, type TooltipRow } from "./tooltip";
import { type AnyModel, isKernelFree, safeGet, setTrait } from "./traits";
import { createScope } from "./view";

export const DASHBOARD_CSS = scopeCss(
  ".fv-dashboard",
  `
.fv-dashboard { width: 100%; max-width: 900px; min-width: 0; }
.fv-dash-header { gap: 4px 10px; }
.fv-dash-id { font-family: var(--fv-code); font-size: 14px; font-weight: 700; }
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
.fv-search-result-token { font-family: var(--fv-code); white-space: pre; overflow: hidden; text-overflow: ellipsis; }
.fv-search-result-value, .fv-nearest-cos { color: var(--fv-fg2); font-variant-numeric: tabular-nums; }
.fv-dash-body {
  display: flex; flex-wrap: wrap; align-items: flex-start; gap: 0;
  border: 1px solid var(--fv-border); transition: opacity 0.15s;
}
.fv-dashboard[data-state="loading"] .fv-dash-body { opacity: 0.5; transition-delay: 0.12s; }
.fv-dash-left { flex: 1 1 290px; max-width: 100%; min-width: 0; padding: 6px 10px 8px; }
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
.fv-hist-hit { cursor: crosshair; }
.fv-hist-hit:hover { fill: var(--fv-accent-bg); }
.fv-hist-xlabels { display: flex; justify-content: space-between; font-size: 10px; color: var(--fv-fg2); font-variant-numeric: tabular-nums; }
.fv-hist-xname { font-style: italic; }
.fv-dash-logit-cols { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.fv-logits { min-width: 0; }
.fv-logits-head { font-size: 10px; color: var(--fv-fg2); margin-bottom: 1px; }
.fv-logit { display: grid; grid-template-columns: minmax(0, 1fr) 28px auto; align-items: center; gap: 4px; padding: 0 2px; line-height: 1.45; }
.fv-logit:hover { background: var(--fv-panel); }
.fv-logit-token { font-family: var(--fv-code); font-size: 11px; white-space: pre; overflow: hidden; text-overflow: ellipsis; }
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
.fv-token { display: inline-block; white-space: pre; border-radius: 2px; padding: 0 1px; cursor: default; vertical-align: baseline; }
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
const SEARCH_DEBOUNCE_MS = 300;
const SEARCH_PENDING_MS = 2_000;
const TITLE_MAX = 120;
const SEARCH_TOKEN_MAX = 24;

export type DashboardState = "ready" | "loading" | "error" | "empty";

export interface DashboardView {
  root: HTMLElement;
  /** Re-read everything from the model and redraw. */
  flush(): void;
  destroy(): void;
}

export function createDashboardView(model: AnyModel, el: HTMLElement): DashboardView {
  // ---- DOM ---------------------------------------------------------------
  const style = h("style", { text: BASE_CSS + DASHBOARD_CSS });
  const title = h("span", { className: "fv-title" });
  const idLabel = h("span", { className: "fv-dash-id" });
  const prevBtn = h("button", {
    className: "fv-prev",
    text: "‹",
    attrs: { type: "button", "aria-label": "previous feature" },
  });
  const nextBtn = h("button", {
    className: "fv-next",
    text: "›",
    attrs: { type: "button", "aria-label": "next feature" },
  });
  const input = h("input", {
    className: "fv-dash-input",
    attrs: { type: "number", step: "1", "aria-label": "feature id" },
  });
  const pos = h("span", { className: "fv-dash-pos" });
  const nav = h("span", { className: "fv-dash-nav" }, [prevBtn, input, nextBtn]);
  const search = h("input", {
    className: "fv-search",
    attrs: {
      type: "search",
      placeholder: "search tokens…",
      "aria-label": "find features whose top contexts contain a token",
      spellcheck: "false",
    },
  });
  const searchWrap = h("span", { className: "fv-dash-search" }, [search]);
  // In an HTML export no Python answers: search is off and says why; only exported pages can be shown.
  const kernelFree = isKernelFree(model);
  if (kernelFree) {
    search.disabled = true;
    search.title = searchWrap.title = "search needs a running Python kernel (this is an exported file)";
  }
  const status = h("span", { className: "fv-dash-status", attrs: { role: "status", "aria-live": "polite" } });
  const note = h("div", { className: "fv-note" });
  const header = h("div", { className: "fv-toolbar fv-dash-header" }, [
    title,
    idLabel,
    nav,
    pos,
    status,
    searchWrap,
    note,
  ]);
  const resultsHead = h("div", { className: "fv-dash-results-head" });
  const resultsList = h("div", { className: "fv-dash-results-list" });
  const results = h("div", { className: "fv-dash-results" }, [resultsHead, resultsList]);
  const message = h("div", { className: "fv-message" });
  const left = h("div", { className: "fv-dash-left" });
  const right = h("div", { className: "fv-dash-right" });
  const body = h("div", { className: "fv-dash-body" }, [left, right]);
  const root = h("div", { className: "fv-root fv-dashboard" }, [style, header, results, message, body]);
  const tooltip = createTooltip(root);
  el.appendChild(root);

  // ---- State ---------------------------------------------------------------
  let theme: Theme = readTheme(root);
  let pageRead: PageRead = { kind: "empty" };
  let page: DashboardPage | null = null;
  let pal: Palette | null = null;
  let ids: number[] = [];
  let idIndex = new Map<number, number>();
  let requested: number | null = null;
  let searchResults: SearchResult[] = [];
  let logY = false;
  let hist: HistogramPart | null = null;
  let histHolder: HTMLElement | null = null;
  /** Which interval groups are open, by position (the highest is open by default). */
  const openIntervals: boolean[] = [true];
  let timedOut = false;
  let searchPending = false;

  /** A rendering bug must never escape into the notebook: show it instead. */
  const scope = createScope(model, (text) => {
    root.dataset.state = "error";
    status.textContent = `⚠ ${text}`;
  });
  const safely = scope.safely;
  // No page arrived for the requested feature in time.
  const pageTimer = scope.timer(() => {
    timedOut = true;
    renderState();
  }, PAGE_TIMEOUT_MS);
  const searchTimer = scope.timer(() => commitSearch(), SEARCH_DEBOUNCE_MS);
  // Python did not answer a search in time: stop saying "searching".
  const pendingTimer = scope.timer(() => {
    searchPending = false;
    renderResults();
  }, SEARCH_PENDING_MS);

  function applyTheme(): void {
    theme = readTheme(root);
    const sel = theme.selection;
    const set = (k: string, v: string) => root.style.setProperty(k, v);
    setAccent(root, sel, theme.dark ? 0.25 : 0.12);
    set("--fv-chip", toCss(mix(theme.background, theme.text, theme.dark ? 0.1 : 0.05)));
    set("--fv-track", toCss(mix(theme.background, theme.text, theme.dark ? 0.16 : 0.09)));
    set("--fv-rule", toCss(mix(theme.background, theme.text, 0.12)));
    set("--fv-max", toCss(theme.dark ? [240, 240, 240] : [20, 20, 20]));
    set("--fv-pos-text", theme.dark ? "rgb(255,120,120)" : "rgb(170,20,40)");
    set("--fv-neg-text", theme.dark ? "rgb(120,175,255)" : "rgb(30,90,170)");
  }

  // ---- Header --------------------------------------------------------------
  function renderTitle(): void {
    const t = safeGet(model, "title");
    const text = typeof t === "string" ? cleanLabel(t, TITLE_MAX) : "";
    title.textContent = text;
    title.style.display = text ? "" : "none";
  }

  function renderNav(): void {
    const cur = requested;
    if (document.activeElement !== input || !input.classList.contains("fv-invalid")) {
      input.value = cur === null ? "" : String(cur);
      input.classList.remove("fv-invalid");
      input.title = "";
    }
    const prev = neighbour(ids, idIndex, cur, -1);
    const next = neighbour(ids, idIndex, cur, 1);
    prevBtn.disabled = prev === null;
    nextBtn.disabled = next === null;
    prevBtn.title = prev === null ? "first feature" : `previous: #${prev}`;
    nextBtn.title = next === null ? "last feature" : `next: #${next}`;
    const i = cur === null ? undefined : idIndex.get(cur);
    pos.textContent = ids.length ? `${i === undefined ? "–" : formatCount(i + 1)} / ${formatCount(ids.length)}` : "";
    for (const b of resultsList.querySelectorAll<HTMLElement>(".fv-search-result")) {
      b.classList.toggle("fv-current", b.getAttribute("data-feature") === String(cur));
    }
  }

  function state(): DashboardState {
    if (pageRead.kind === "error") return "error";
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
    else if (s === "error" && kernelFree && page && page.feature !== requested) {
      status.textContent = `⚠ #${requested} has no page in this exported file; showing #${page.feature}`;
    } else if (s === "error" && timedOut)
      status.textContent = `⚠ no page for #${requested} yet (is the kernel running?)`;
    else if (s === "error" && pageRead.kind === "page") status.textContent = "⚠ the page names no feature";
    else status.textContent = "";
  }

  // ---- Search results ------------------------------------------------------
  function renderResults(): void {
    const q = safeGet(model, "search");
    const query = typeof q === "string" ? q.trim() : "";
    clear(resultsList);
    if (!query) {
      results.style.display = "none";
      return;
    }
    results.style.display = "";
    const shown = cleanLabel(query, 40);
    if (searchPending && searchResults.length === 0) {
      resultsHead.textContent = `searching for “${shown}”…`;
      return;
    }
    if (searchResults.length === 0) {
      resultsHead.textContent = `no feature's top contexts contain “${shown}”`;
      return;
    }
    const n = searchResults.length;
    resultsHead.textContent = `${n} feature${n === 1 ? "" : "s"} whose top contexts contain “${shown}” (best first):`;
    for (const r of searchResults) {
      const b = h(
        "button",
        {
          className: r.feature === requested ? "fv-search-result fv-current" : "fv-search-result",
          attrs: { type: "button", "data-feature": String(r.feature) },
        },
        [
          h("span", { className: "fv-search-result-id", text: `#${r.feature}` }),
          h("span", { className: "fv-search-result-token", text: tokenLabel(r.token, SEARCH_TOKEN_MAX) }),
          h("span", { className: "fv-search-result-value", text: formatValue(r.value) }),
        ],
      );
      b.title = `show feature ${r.feature} (activation ${formatValue(r.value)} on this token)`;
      resultsList.appendChild(b);
    }
  }

  // ---- Page ----------------------------------------------------------------
  function section(name: string, heading: string, extra: Node[] = []): HTMLElement {
    return h("section", { className: `fv-dash-section fv-dash-${name}` }, [
      h("div", { className: "fv-dash-h" }, [h("span", { text: heading }), ...extra]),
    ]);
  }

  function stat(label: string, value: string, sub = "", block = false): Node[] {
    const v = h("span", { className: "fv-dash-stat-value", text: value });
    if (sub)
      v.appendChild(h(block ? "div" : "span", { className: `fv-dash-stat-sub${block ? " fv-block" : ""}`, text: sub }));
    return [h("span", { className: "fv-dash-stat-label", text: label }), v];
  }

  function renderHistogram(): void {
    if (!histHolder || !page || !pal) return;
    clear(histHolder);
    hist = histogram(page.histogram, pal, logY, page.max);
    histHolder.appendChild(hist.el);
  }

  function renderLeft(p: DashboardPage, palette: Palette): void {
    clear(left);
    const stats = section("stats", "Feature");
    const grid = h("div", { className: "fv-dash-stats" });
    const active = p.density * p.nTokens;
    grid.append(
      ...stat("density", formatDensity(p.density), oneInN(p.density, p.nTokens), true),
      ...stat("max act", Number.isNaN(p.max) ? "–" : formatValue(p.max)),
    );
    if (Number.isFinite(p.nTokens)) {
      grid.append(
        ...(Number.isFinite(active)
          ? stat("active", formatCount(active), `of ${formatCount(p.nTokens)} tokens`)
          : stat("tokens", formatCount(p.nTokens))),
      );
    }
    stats.appendChild(grid);
    left.appendChild(stats);

    const logBtn = h("button", {
      className: "fv-dash-logy",
      text: "log",
      attrs: { type: "button", "aria-pressed": String(logY) },
    });
    logBtn.title = "log-scale the counts";
    const histSec = section("histogram", "Activations > 0", [logBtn]);
    histHolder = h("div");
    histSec.appendChild(histHolder);
    left.appendChild(histSec);
    renderHistogram();

    const logits = section("logits", "Logit effect");
    let scaleAbs = 0;
    for (const e of [...p.logitsTop, ...p.logitsBottom]) scaleAbs = Math.max(scaleAbs, Math.abs(e.value));
    logits.appendChild(
      h("div", { className: "fv-dash-logit-cols" }, [
        logitTable(p.logitsTop, "promotes", "pos", scaleAbs, palette),
        logitTable(p.logitsBottom, "suppresses", "neg", scaleAbs, palette),
      ]),
    );
    left.appendChild(logits);

    const nearest = section("nearest", "Nearest features (cosine)");
    const chips = h("div", { className: "fv-dash-chips" });
    for (const n of p.nearest) chips.appendChild(nearestChip(n, ids.length === 0 || idIndex.has(n.feature)));
    if (p.nearest.length === 0) chips.appendChild(h("div", { className: "fv-dash-none", text: "–" }));
    nearest.appendChild(chips);
    left.appendChild(nearest);
  }

  function renderRight(p: DashboardPage, palette: Palette): void {
    clear(right);
    const legend = createLegend();
    legend.update(palette.scale);
    const top = section("top", "Top activations", [legend.el]);
    if (p.top.length === 0) {
      const never = p.density === 0 ? "This feature never fired on the tokens seen." : "No top contexts.";
      top.appendChild(h("div", { className: "fv-dash-none", text: never }));
    }
    p.top.forEach((ex, i) => {
      top.appendChild(contextRow(ex, palette, "top", i));
    });
    right.appendChild(top);

    if (p.intervals.length) {
      const ivs = section("intervals", "Activation intervals (sampled)");
      const max = scaleMax(p);
      p.intervals.forEach((iv, k) => {
        const fraction = Number.isNaN(iv.fraction) ? "" : `${formatValue(iv.fraction * 100)}% of sample`;
        const abs =
          Number.isFinite(iv.low) && Number.isFinite(iv.high) ? `${formatValue(iv.low)}–${formatValue(iv.high)}` : "";
        const meta = [abs, fraction, `${iv.examples.length} shown`].filter(Boolean).join(" · ");
        const summary = h("summary", {}, [
          h("span", { className: "fv-interval-range", text: intervalLabel(iv, max) }),
          h("span", { className: "fv-interval-meta", text: meta }),
        ]);
        const list = h("div", { className: "fv-interval-examples" });
        iv.examples.forEach((ex, i) => {
          list.appendChild(contextRow(ex, palette, `interval-${k}`, i));
        });
        if (iv.examples.length === 0) list.appendChild(h("div", { className: "fv-dash-none", text: "no examples" }));
        const details = h("details", { className: "fv-interval", attrs: { "data-interval": String(k) } }, [
          summary,
          list,
        ]);
        details.open = openIntervals[k] === true;
        details.addEventListener("toggle", () => {
          openIntervals[k] = details.open;
        });
        ivs.appendChild(details);
      });
      right.appendChild(ivs);
    }
  }

  function renderPage(): void {
    tooltip.hide();
    pageRead = readPage(safeGet(model, "page"));
    page = pageRead.kind === "page" ? pageRead.page : null;
    timedOut = false;
    if (!page) {
      pal = null;
      hist = null;
      histHolder = null;
      clear(left);
      clear(right);
      body.style.display = "none";
      message.style.display = "";
      message.textContent =
        pageRead.kind === "error" ? `Cannot show this page: ${pageRead.error}.` : "No feature page yet.";
      idLabel.textContent = "";
      note.textContent = "";
      renderState();
      return;
    }
    message.style.display = "none";
    message.textContent = "";
    body.style.display = "";
    idLabel.textContent = page.feature === null ? "#?" : `#${page.feature}`;
    note.textContent = page.warnings.length ? `⚠ ${page.warnings.join("; ")}` : "";
    const vmax = scaleMax(page);
    const vmin = scaleMin(page) < 0 ? -vmax : 0;
    pal = makePalette(theme, vmin, vmax);
    renderLeft(page, pal);
    renderRight(page, pal);
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
    searchResults = readSearchResults(safeGet(model, "search_results"));
    renderTitle();
    const q = safeGet(model, "search");
    if (document.activeElement !== search) search.value = typeof q === "string" ? q : "";
    renderResults();
    renderPage();
    renderNav();
  }

  // ---- Actions -------------------------------------------------------------

  /** Ask Python for another feature (ignored if it is not in feature_ids). */
  function go(id: number | null): boolean {
    if (id === null || !Number.isSafeInteger(id)) return false;
    if (ids.length && !idIndex.has(id)) return false;
    if (id !== requested || (page && page.feature !== id)) {
      timedOut = false;
      pageTimer.cancel();
      if (safeGet(model, "feature") !== id) setTrait(model, "feature", id);
      requested = id;
    }
    input.classList.remove("fv-invalid");
    renderNav();
    renderState();
    return true;
  }

  function commitInput(): void {
    const text = input.value.trim();
    if (text === "") {
      renderNav();
      return;
    }
    const n = Number(text);
    if (!go(Number.isSafeInteger(n) ? n : null)) {
      input.classList.add("fv-invalid");
      input.title = ids.length
        ? `${cleanLabel(text, 20)} is not one of this dashboard's ${formatCount(ids.length)} features`
        : "not a feature id";
    }
  }

  function commitSearch(): void {
    searchTimer.cancel();
    const v = search.value;
    if (safeGet(model, "search") === v) return;
    searchPending = v.trim() !== "";
    if (searchPending) pendingTimer.start();
    else pendingTimer.cancel();
    setTrait(model, "search", v);
    renderResults();
  }

  // ---- Event handlers ------------------------------------------------------
  const onPrev = () => safely(() => go(neighbour(ids, idIndex, requested, -1)));
  const onNext = () => safely(() => go(neighbour(ids, idIndex, requested, 1)));
  const onInputKey = (e: KeyboardEvent) =>
    safely(() => {
      if (e.key === "Enter") {
        e.preventDefault();
        commitInput();
      } else if (e.key === "ArrowUp" || e.key === "ArrowDown") {
        // Step through feature_ids order, not +/-1.
        e.preventDefault();
        go(neighbour(ids, idIndex, requested, e.key === "ArrowUp" ? 1 : -1));
      } else if (e.key === "Escape") {
        input.classList.remove("fv-invalid");
        renderNav();
      }
    });
  const onInputChange = () => safely(commitInput);
  const onInputTyping = () => input.classList.remove("fv-invalid");
  const onSearchInput = () => searchTimer.start();
  const onSearchKey = (e: KeyboardEvent) =>
    safely(() => {
      if (e.key === "Enter") {
        e.preventDefault();
        commitSearch();
      } else if (e.key === "Escape") {
        search.value = "";
        commitSearch();
      }
    });

  function closest(target: EventTarget | null, selector: string): Element | null {
    const node = target as Element | null;
    if (!node || typeof node.closest !== "function") return null;
    const found = node.closest(selector);
    return found && root.contains(found) ? found : null;
  }

  const onClick = (e: MouseEvent) =>
    safely(() => {
      const chip = closest(e.target, ".fv-nearest, .fv-search-result") as HTMLButtonElement | null;
      if (chip) {
        if (chip.disabled) return;
        go(Number(chip.getAttribute("data-feature")));
        return;
      }
      if (closest(e.target, ".fv-dash-logy")) {
        logY = !logY;
        const btn = closest(e.target, ".fv-dash-logy")!;
        btn.setAttribute("aria-pressed", String(logY));
        tooltip.hide();
        renderHistogram();
      }
    });

  function exampleFor(ctx: Element): Example | null {
    if (!page) return null;
    const src = ctx.getAttribute("data-source") ?? "";
    const i = Number(ctx.getAttribute("data-example"));
    if (src === "top") return page.top[i] ?? null;
    const m = /^interval-(\d+)$/.exec(src);
    if (m) return page.intervals[Number(m[1])]?.examples[i] ?? null;
    return null;
  }

  function tooltipRowsFor(target: EventTarget | null): TooltipRow[] | null {
    if (!page) return null;
    const tok = closest(target, ".fv-token");
    if (tok) {
      const ctx = closest(tok, ".fv-context");
      const ex = ctx ? exampleFor(ctx) : null;
      const i = Number(tok.getAttribute("data-index"));
      return ex && i >= 0 && i < ex.tokens.length ? tokenTooltipRows(ex, i, scaleMax(page)) : null;
    }
    const bin = closest(target, ".fv-hist-hit, .fv-hist-bar");
    if (bin && hist) return hist.tooltipFor(Number(bin.getAttribute("data-bin")));
    const logit = closest(target, ".fv-logit");
    if (logit) {
      const kind = logit.getAttribute("data-kind") === "neg" ? "neg" : "pos";
      const entry = (kind === "pos" ? page.logitsTop : page.logitsBottom)[Number(logit.getAttribute("data-index"))];
      return entry ? logitTooltipRows(entry, kind) : null;
    }
    return null;
  }

  let hoverTarget: Element | null = null;
  const onMove = (e: MouseEvent) =>
    safely(() => {
      const target = closest(e.target, ".fv-token, .fv-hist-hit, .fv-hist-bar, .fv-logit");
      if (!target) {
        hoverTarget = null;
        tooltip.hide();
        return;
      }
      const rect = root.getBoundingClientRect();
      const x = e.clientX - rect.left;
      const y = e.clientY - rect.top;
      if (target !== hoverTarget || !tooltip.visible) {
        hoverTarget = target;
        const rows = tooltipRowsFor(target);
        if (rows) tooltip.show(rows, x, y);
        else tooltip.hide();
      }
    });
  const onLeave = () => {
    hoverTarget = null;
    tooltip.hide();
  };

  scope.on(prevBtn, "click", onPrev);
  scope.on(nextBtn, "click", onNext);
  scope.on(input, "keydown", onInputKey);
  scope.on(input, "change", onInputChange);
  scope.on(input, "input", onInputTyping);
  scope.on(search, "input", onSearchInput);
  scope.on(search, "keydown", onSearchKey);
  scope.on(root, "click", onClick);
  scope.on(body, "mousemove", onMove);
  scope.on(body, "mouseleave", onLeave);

  // ---- Model listeners -----------------------------------------------------
  const listen = scope.listen;
  listen("page", () => {
    readRequested();
    renderPage();
    renderNav();
  });
  listen("feature", () => {
    const before = requested;
    readRequested();
    if (requested !== before) timedOut = false;
    renderNav();
    renderState();
  });
  listen("feature_ids", () => {
    readIds();
    renderPage(); // nearest chips depend on which ids are available
    renderNav();
  });
  listen("search", () => {
    const q = safeGet(model, "search");
    if (document.activeElement !== search) search.value = typeof q === "string" ? q : "";
    renderResults();
  });
  listen("search_results", () => {
    searchResults = readSearchResults(safeGet(model, "search_results"));
    searchPending = false;
    pendingTimer.cancel();
    renderResults();
    renderNav();
  });
  listen("title", renderTitle);

  scope.onTheme(() => {
    applyTheme();
    renderPage();
  });
  scope.defer(() => {
    tooltip.destroy();
    root.remove();
  });

  safely(applyTheme);
  safely(renderAll);

  return {
    root,
    flush() {
      safely(renderAll);
    },
    destroy: scope.dispose,
  };
}
