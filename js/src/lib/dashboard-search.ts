// The dashboard's token search: the search box (debounced into the two-way `search` trait) and the
// list of features whose top contexts contain the token (`search_results`, answered by Python). The
// result buttons carry data-feature; the view handles their clicks.

import { readSearchResults, type SearchResult } from "./dashboard-data";
import { clear, h } from "./dom";
import { formatValue } from "./format";
import { cleanLabel, tokenLabel, tokenTooltip } from "./tokens";
import { type AnyModel, safeGet, setTrait } from "./traits";
import type { Scope } from "./view";

const SEARCH_DEBOUNCE_MS = 300;
const SEARCH_PENDING_MS = 2_000;
const SEARCH_TOKEN_MAX = 24;

export interface DashboardSearch {
  /** The search box (for the header). */
  readonly el: HTMLElement;
  /** The results panel. */
  readonly results: HTMLElement;
  /** Re-read the query and results from the model. */
  update(): void;
  /** Mark the result of the feature shown. */
  markCurrent(feature: number | null): void;
}

export interface DashboardSearchOptions {
  model: AnyModel;
  scope: Scope;
  /** In an HTML export no Python answers: search is off and says why. */
  kernelFree: boolean;
  /** The feature requested now (its result is marked). */
  current(): number | null;
  /** New results arrived. */
  onResults(): void;
}

export function createDashboardSearch(o: DashboardSearchOptions): DashboardSearch {
  const { model, scope } = o;
  const search = h("input", {
    className: "fv-search",
    attrs: {
      type: "search",
      placeholder: "search tokens…",
      "aria-label": "find features whose top contexts contain a token",
      spellcheck: "false",
    },
  });
  const el = h("span", { className: "fv-dash-search" }, [search]);
  if (o.kernelFree) {
    search.disabled = true;
    search.title = el.title = "search needs a running Python kernel (this is an exported file)";
  }
  const resultsHead = h("div", { className: "fv-dash-results-head" });
  const resultsList = h("div", { className: "fv-dash-results-list" });
  const results = h("div", { className: "fv-dash-results" }, [resultsHead, resultsList]);
  let searchResults: SearchResult[] = [];
  let searchPending = false;

  const searchTimer = scope.timer(() => commitSearch(), SEARCH_DEBOUNCE_MS);
  // Python did not answer a search in time: stop saying "searching".
  const pendingTimer = scope.timer(() => {
    searchPending = false;
    renderResults();
  }, SEARCH_PENDING_MS);

  function resultButton(r: SearchResult): HTMLElement {
    const b = h(
      "button",
      {
        className: r.feature === o.current() ? "fv-search-result fv-current" : "fv-search-result",
        attrs: { type: "button", "data-feature": String(r.feature) },
      },
      [
        h("span", { className: "fv-search-result-id", text: `#${r.feature}` }),
        h("span", { className: "fv-search-result-token fv-token-cell", text: tokenLabel(r.token, SEARCH_TOKEN_MAX) }),
        h("span", { className: "fv-search-result-value", text: formatValue(r.value) }),
      ],
    );
    b.title = `show feature ${r.feature} (activation ${formatValue(r.value)} on ${tokenTooltip(r.token)})`;
    return b;
  }

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
    const n = searchResults.length;
    if (searchPending && n === 0) resultsHead.textContent = `searching for “${shown}”…`;
    else if (n === 0) resultsHead.textContent = `no feature's top contexts contain “${shown}”`;
    else {
      resultsHead.textContent = `${n} feature${n === 1 ? "" : "s"} whose top contexts contain “${shown}” (best first):`;
      for (const r of searchResults) resultsList.appendChild(resultButton(r));
    }
  }

  function syncInput(): void {
    const q = safeGet(model, "search");
    if (document.activeElement !== search) search.value = typeof q === "string" ? q : "";
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

  scope.on(search, "input", () => searchTimer.start());
  scope.on<KeyboardEvent>(search, "keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      commitSearch();
    } else if (e.key === "Escape") {
      search.value = "";
      commitSearch();
    }
  });
  scope.listen("search", () => {
    syncInput();
    renderResults();
  });
  scope.listen("search_results", () => {
    searchResults = readSearchResults(safeGet(model, "search_results"));
    searchPending = false;
    pendingTimer.cancel();
    renderResults();
    o.onResults();
  });

  return {
    el,
    results,
    update() {
      searchResults = readSearchResults(safeGet(model, "search_results"));
      syncInput();
      renderResults();
    },
    markCurrent(feature) {
      for (const b of resultsList.querySelectorAll<HTMLElement>(".fv-search-result"))
        b.classList.toggle("fv-current", b.getAttribute("data-feature") === String(feature));
    },
  };
}
