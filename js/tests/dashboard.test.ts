import { describe, expect, it, vi } from "vitest";
import widget from "../src/dashboard";
import { LocalModel } from "../src/export_runtime";
import {
  formatCount,
  formatDensity,
  indexIds,
  intervalLabel,
  neighbour,
  oneInN,
  readExample,
  readPage,
  readSearchResults,
} from "../src/lib/dashboard-data";
import { logitTable, logitTooltipRows, makePalette } from "../src/lib/dashboard-parts";
import { DASHBOARD_CSS, PAGE_TIMEOUT_MS } from "../src/lib/dashboard-view";
import { TOKEN_CELL_CSS } from "../src/lib/styles";
import { readTheme } from "../src/lib/theme";
import { type FakeModel, widgetPage } from "./helpers";

const XSS = "<img src=x onerror=alert(1)>";
const IDS = [3, 7, 12, 40];

function example(value: number, tokens: string[], acts: number[], center: number) {
  return { value, tokens, acts, center };
}

/** A page shaped exactly like DashboardData.page(feature). */
function makePage(feature: number): Record<string, unknown> {
  return {
    feature,
    n_tokens: 20000,
    density: 0.0123,
    max: 4.2,
    histogram: { counts: [120, 64, 30, 9, 2], edges: [0, 0.84, 1.68, 2.52, 3.36, 4.2] },
    top: [
      example(4.2, ["<bos>", "The", " cat", " sat", " on", "\n", " mat"], [0, 0.1, 4.2, 1.3, 0, 0, 0.5], 2),
      example(3.1, ["I", " love", " cats", "!"], [0, 0.2, 3.1, 0.3], 2),
      example(2.5, ["dogs", " and", " cats"], [0.4, 0, 2.5], 2),
    ],
    intervals: [
      { low: 3.36, high: 4.2, fraction_of_sample: 0.05, examples: [example(3.5, ["a", " cat"], [0, 3.5], 1)] },
      {
        low: 0,
        high: 0.84,
        fraction_of_sample: 0.6,
        examples: [example(0.5, ["the", " kitten"], [0, 0.5], 1), example(0.3, ["x"], [0.3], 0)],
      },
    ],
    logits_top: [
      { token: " cats", value: 1.5 },
      { token: " kitten", value: 1.1 },
    ],
    logits_bottom: [
      { token: " dog", value: -0.9 },
      { token: "\n", value: -0.4 },
    ],
    nearest: [
      { feature: 12, cosine: 0.81 },
      { feature: 40, cosine: 0.55 },
      { feature: 999, cosine: 0.5 },
    ],
  };
}

function baseState(feature = 7): Record<string, unknown> {
  return {
    feature,
    page: makePage(feature),
    feature_ids: [...IDS],
    search: "",
    search_results: [],
    title: "SAE latent at blocks.0.hook_resid_post",
  };
}

const page = widgetPage(widget, ".fv-dashboard");

function mount(state = baseState()) {
  return page.mount(state);
}

const q = <T extends Element = HTMLElement>(root: Element, sel: string) => root.querySelector<T & Element>(sel) as T;
const qa = (root: Element, sel: string) => [...root.querySelectorAll<HTMLElement>(sel)];
const featureSets = (model: FakeModel) => model.sets.filter(([k]) => k === "feature").map(([, v]) => v);

describe("page reading", () => {
  it("reads a well-formed page", () => {
    const r = readPage(makePage(7));
    expect(r.kind).toBe("page");
    if (r.kind !== "page") return;
    expect(r.page.feature).toBe(7);
    expect(r.page.top).toHaveLength(3);
    expect(r.page.histogram.edges).toHaveLength(6);
    expect(r.page.warnings).toEqual([]);
  });

  it("treats null / {} as empty and non-objects as errors", () => {
    expect(readPage(null).kind).toBe("empty");
    expect(readPage({}).kind).toBe("empty");
    expect(readPage("nope").kind).toBe("error");
    expect(readPage([1, 2]).kind).toBe("error");
  });

  it("repairs examples: bad center -> argmax, NaN acts, non-string tokens", () => {
    const ex = readExample({ value: "x", tokens: ["a", 5, null], acts: [1, NaN, 3], center: 99 })!;
    expect(ex.center).toBe(2);
    expect(ex.tokens).toEqual(["a", "5", ""]);
    expect(Number.isNaN(ex.acts[1])).toBe(true);
    expect(ex.value).toBe(3);
    expect(readExample({ tokens: [] })).toBeNull();
    expect(readExample(42)).toBeNull();
  });

  it("rebuilds invalid histogram edges", () => {
    const r = readPage({ feature: 1, max: 2, histogram: { counts: [1, -1, "x", 4], edges: [0, 1] } });
    if (r.kind !== "page") throw new Error("expected a page");
    expect(r.page.histogram.counts).toEqual([1, 0, 0, 4]);
    expect(r.page.histogram.edges).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(r.page.warnings.length).toBeGreaterThan(0);
  });

  it("reads search results, dropping malformed ones", () => {
    expect(
      readSearchResults([{ feature: 3, value: 1, token: " cat" }, { feature: "x" }, null, { feature: 4 }]),
    ).toEqual([
      { feature: 3, value: 1, token: " cat" },
      { feature: 4, value: NaN, token: "" },
    ]);
    expect(readSearchResults("nope")).toEqual([]);
  });
});

describe("helpers", () => {
  it("navigates in order and stops at the ends", () => {
    const index = indexIds(IDS);
    expect(neighbour(IDS, index, 7, 1)).toBe(12);
    expect(neighbour(IDS, index, 7, -1)).toBe(3);
    expect(neighbour(IDS, index, 40, 1)).toBeNull();
    expect(neighbour(IDS, index, 3, -1)).toBeNull();
    expect(neighbour(IDS, index, 5, 1)).toBe(3);
    expect(neighbour(IDS, index, 5, -1)).toBe(40);
    expect(neighbour([], new Map(), 5, 1)).toBeNull();
  });

  it("words density", () => {
    expect(formatDensity(0.0123)).toBe("1.23%");
    expect(oneInN(0.0123, 20000)).toBe("fires on 1 in 81 tokens");
    expect(oneInN(0.25, 100)).toBe("fires on 1 in 4 tokens");
    expect(oneInN(0, 20000)).toBe("never fired in 20,000 tokens");
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(intervalLabel({ low: 3.36, high: 4.2, fraction: 0.1, examples: [] }, 4.2)).toBe("0.80–1.00 of max");
  });
});

describe("dashboard view", () => {
  it("renders a realistic page", () => {
    const { root } = mount();
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.feature).toBe("7");
    expect(q(root, ".fv-title").textContent).toBe("SAE latent at blocks.0.hook_resid_post");
    expect(q(root, ".fv-dash-id").textContent).toBe("#7");
    expect(q<HTMLInputElement>(root, ".fv-dash-input").value).toBe("7");
    expect(q(root, ".fv-dash-pos").textContent).toBe("2 / 4");
    expect(root.textContent).toContain("1.23%");
    expect(root.textContent).toContain("fires on 1 in 81 tokens");
    expect(root.textContent).toContain("4.2");

    const contexts = qa(root, ".fv-context");
    expect(contexts).toHaveLength(3 + 3); // 3 top + 3 interval examples
    const first = contexts[0];
    const tokens = qa(first, ".fv-token");
    expect(tokens).toHaveLength(7);
    expect(tokens.map((t) => t.dataset.act)).toEqual(["0", "0.1", "4.2", "1.3", "0", "0", "0.5"]);
    expect(tokens[2].classList.contains("fv-token-max")).toBe(true);
    expect(tokens[2].style.background).not.toBe("");
    expect(tokens[0].style.background).toBe(""); // zero activation: no shading
    expect(tokens[5].textContent).toBe("↵"); // newline made visible
    expect(tokens[2].textContent).toBe(" cat"); // spaces kept in the line

    // Histogram: a bar per non-empty bin and axis labels with min / max.
    expect(qa(root, ".fv-hist-bar")).toHaveLength(5);
    expect(q(root, ".fv-hist-xlabels").textContent).toContain("0");
    expect(q(root, ".fv-hist-xlabels").textContent).toContain("4.2");

    expect(qa(root, ".fv-logits-pos .fv-logit")).toHaveLength(2);
    expect(qa(root, ".fv-logits-neg .fv-logit")).toHaveLength(2);
    expect(q(root, ".fv-logits-neg").textContent).toContain("↵");

    const chips = qa(root, ".fv-nearest");
    expect(chips.map((c) => c.dataset.feature)).toEqual(["12", "40", "999"]);
    expect((chips[2] as HTMLButtonElement).disabled).toBe(true); // not in feature_ids

    const groups = qa(root, ".fv-interval");
    expect(groups).toHaveLength(2);
    expect(groups[0].textContent).toContain("0.80–1.00 of max");
    expect((groups[0] as HTMLDetailsElement).open).toBe(true);
    expect((groups[1] as HTMLDetailsElement).open).toBe(false);
  });

  it("next / prev set feature in feature_ids order and save", () => {
    const { model, root } = mount();
    q(root, ".fv-next").click();
    expect(model.state.feature).toBe(12);
    expect(model.saves).toBe(1);
    q(root, ".fv-prev").click();
    q(root, ".fv-prev").click();
    expect(featureSets(model)).toEqual([12, 7, 3]);
    expect(model.saves).toBe(3);
    expect(q<HTMLButtonElement>(root, ".fv-prev").disabled).toBe(true);
    q(root, ".fv-prev").click(); // disabled at the start
    expect(featureSets(model)).toEqual([12, 7, 3]);
  });

  it("disables next at the last feature", () => {
    const { root } = mount(baseState(40));
    expect(q<HTMLButtonElement>(root, ".fv-next").disabled).toBe(true);
    expect(q<HTMLButtonElement>(root, ".fv-prev").disabled).toBe(false);
  });

  it("the number input sets a feature on Enter and rejects unknown ids", () => {
    const { model, root } = mount();
    const input = q<HTMLInputElement>(root, ".fv-dash-input");
    input.value = "40";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.state.feature).toBe(40);
    expect(model.saves).toBe(1);
    input.value = "41";
    input.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.state.feature).toBe(40);
    expect(input.classList.contains("fv-invalid")).toBe(true);
  });

  it("clicking a nearest chip sets feature", () => {
    const { model, root } = mount();
    q(root, '.fv-nearest[data-feature="12"]').click();
    expect(model.state.feature).toBe(12);
    expect(model.saves).toBe(1);
    q(root, '.fv-nearest[data-feature="999"]').click(); // unavailable: ignored
    expect(featureSets(model)).toEqual([12]);
  });

  it("shows a loading state until page.feature === feature", () => {
    const { model, root } = mount();
    q(root, ".fv-next").click();
    expect(root.dataset.state).toBe("loading");
    expect(root.dataset.feature).toBe("7"); // the old page is still shown
    expect(q(root, ".fv-dash-status").textContent).toContain("#12");
    model.remoteSet("page", makePage(12));
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.feature).toBe("12");
    expect(q(root, ".fv-dash-id").textContent).toBe("#12");
    // A change from Python: feature first, page later.
    model.remoteSet("feature", 3);
    expect(root.dataset.state).toBe("loading");
    expect(q<HTMLInputElement>(root, ".fv-dash-input").value).toBe("3");
    model.remoteSet("page", makePage(3));
    expect(root.dataset.state).toBe("ready");
  });

  it("turns a page that never comes into an error", () => {
    vi.useFakeTimers();
    const { root } = mount();
    q(root, ".fv-next").click();
    expect(root.dataset.state).toBe("loading");
    vi.advanceTimersByTime(PAGE_TIMEOUT_MS + 10);
    expect(root.dataset.state).toBe("error");
    expect(q(root, ".fv-dash-status").textContent).toContain("#12");
  });

  it("renders malformed pages without throwing", () => {
    const bad: unknown[] = [
      {
        feature: 7,
        n_tokens: "many",
        density: NaN,
        max: null,
        histogram: { counts: "no", edges: 5 },
        top: [null, 3, { tokens: "abc" }, { tokens: ["a", "b"], acts: [NaN, "x"], center: -3, value: Infinity }],
        intervals: [{ low: "a", examples: [{ tokens: [1, 2, 3], acts: [1] }] }, 7],
        logits_top: "nope",
        logits_bottom: [
          { token: null, value: 1 },
          { token: "x", value: NaN },
        ],
        nearest: [{ feature: 1.5 }, { feature: "3" }, { feature: 3, cosine: "high" }],
      },
      { feature: 7, top: { length: 3 }, histogram: null, intervals: null, nearest: {} },
      {
        feature: 7,
        histogram: { counts: [1, NaN, 2], edges: [0, 2, 1, 3] },
        top: [{ tokens: new Array(5000).fill("x") }],
      },
      { feature: "7" },
      { top: [] },
      "a string",
      42,
      [],
      null,
      {},
    ];
    for (const bad1 of bad) {
      const { root } = mount({ ...baseState(), page: bad1 });
      expect(["ready", "loading", "error", "empty"]).toContain(root.dataset.state);
      page.unmount();
    }
    const { root } = mount({ ...baseState(), page: bad[0] });
    expect(root.dataset.state).toBe("ready");
    // Valid pieces are shown: the repaired examples and the valid nearest chip.
    expect(qa(root, ".fv-context").length).toBe(2);
    expect(qa(root, ".fv-nearest").map((c) => c.dataset.feature)).toEqual(["3"]);
    expect(q(root, ".fv-note").textContent).toContain("⚠");
  });

  it("shows empty and error states", () => {
    let { root } = mount({ ...baseState(), page: {} });
    expect(root.dataset.state).toBe("empty");
    page.unmount();
    ({ root } = mount({ ...baseState(), page: "broken" }));
    expect(root.dataset.state).toBe("error");
    expect(q(root, ".fv-message").textContent).toContain("not an object");
  });

  it("renders tokens as text only", () => {
    const xssPage = makePage(7);
    (xssPage.top as Array<{ tokens: string[] }>)[0].tokens[1] = XSS;
    (xssPage.logits_top as Array<{ token: string }>)[0].token = XSS;
    const state = {
      ...baseState(),
      page: xssPage,
      title: XSS,
      search: "x",
      search_results: [{ feature: 3, value: 1, token: XSS }],
    };
    const { root } = mount(state);
    expect(root.querySelector("img")).toBeNull();
    expect(document.querySelector("img")).toBeNull();
    expect(qa(root, ".fv-token")[1].textContent).toBe(XSS.replace(/ /g, " "));
    expect(root.textContent).toContain("<img");
  });

  it("shows token values in a tooltip on hover", () => {
    const { root } = mount();
    const tok = qa(qa(root, ".fv-context")[0], ".fv-token")[2];
    tok.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: 10, clientY: 10 }));
    const tip = q(root, ".fv-tooltip");
    expect(tip.style.display).toBe("block");
    expect(tip.textContent).toContain("·cat"); // whitespace visible
    expect(tip.textContent).toContain("4.2");
    const bin = root.querySelector('.fv-hist-hit[data-bin="1"]')!;
    bin.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: 10, clientY: 10 }));
    expect(tip.textContent).toContain("0.84 – 1.68");
    expect(tip.textContent).toContain("64");
  });

  it("search input sets `search` on Enter and after a debounce", () => {
    vi.useFakeTimers();
    const { model, root } = mount();
    const search = q<HTMLInputElement>(root, ".fv-search");
    search.value = "cat";
    search.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.state.search).toBe("cat");
    expect(model.saves).toBe(1);
    search.value = "dog";
    search.dispatchEvent(new Event("input", { bubbles: true }));
    expect(model.state.search).toBe("cat");
    vi.advanceTimersByTime(400);
    expect(model.state.search).toBe("dog");
    expect(model.saves).toBe(2);
  });

  it("search results are listed and clickable", () => {
    const { model, root } = mount();
    model.remoteSet("search", "cat");
    model.remoteSet("search_results", [
      { feature: 40, value: 3.5, token: " cat" },
      { feature: 3, value: 1.25, token: "cats" },
    ]);
    const items = qa(root, ".fv-search-result");
    expect(items.map((r) => r.dataset.feature)).toEqual(["40", "3"]);
    expect(items[0].textContent).toContain("·cat");
    items[1].click();
    expect(model.state.feature).toBe(3);
    expect(model.saves).toBe(1);
    expect(root.dataset.state).toBe("loading");
    model.remoteSet("search", "");
    expect(q(root, ".fv-dash-results").style.display).toBe("none");
  });

  it("says when nothing matches", () => {
    const { model, root } = mount();
    model.remoteSet("search", "zebra");
    expect(q(root, ".fv-dash-results").textContent).toContain("zebra");
    expect(qa(root, ".fv-search-result")).toHaveLength(0);
  });

  it("toggles a log-scale histogram", () => {
    const { root } = mount();
    const h1 = qa(root, ".fv-hist-bar").map((b) => b.getAttribute("height"));
    q(root, ".fv-dash-logy").click();
    const h2 = qa(root, ".fv-hist-bar").map((b) => b.getAttribute("height"));
    expect(h2).not.toEqual(h1);
    expect(q(root, ".fv-dash-logy").getAttribute("aria-pressed")).toBe("true");
  });

  it("cleans up listeners and DOM", () => {
    page.expectTornDown(mount().model);
  });

  it("handles thousands of feature ids", () => {
    const ids = Array.from({ length: 20000 }, (_, i) => i * 2);
    const { model, root } = mount({ ...baseState(19998), page: makePage(19998), feature_ids: ids });
    expect(q(root, ".fv-dash-pos").textContent).toBe("10,000 / 20,000");
    q(root, ".fv-next").click();
    expect(model.state.feature).toBe(20000);
  });
});

describe("in an HTML export (no kernel)", () => {
  function mountOffline(responses: Record<string, Record<string, Record<string, unknown>>> = {}) {
    const model = new LocalModel(baseState(), responses);
    page.render(model);
    return { model, root: page.el.querySelector<HTMLElement>(".fv-dashboard")! };
  }

  it("disables search with a tooltip that says why", () => {
    const { root } = mountOffline();
    const search = q<HTMLInputElement>(root, ".fv-search");
    expect(search.disabled).toBe(true);
    expect(search.title).toMatch(/needs a running Python kernel.*exported file/);
  });

  it("shows exported pages and says plainly when a page is not in the file, never asking for a kernel", () => {
    vi.useFakeTimers();
    const { model, root } = mountOffline({ feature: { "12": { page: makePage(12) } } });
    model.set("feature", 12); // a linked click on an exported feature
    model.save_changes();
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.feature).toBe("12");
    model.set("feature", 40); // left out of the file
    model.save_changes();
    expect(root.dataset.state).toBe("error");
    expect(q(root, ".fv-dash-status").textContent).toContain("#40 has no page in this exported file");
    vi.advanceTimersByTime(PAGE_TIMEOUT_MS + 10);
    expect(root.textContent).not.toMatch(/kernel running/);
    expect(root.dataset.feature).toBe("12"); // the page shown says which feature it is
  });
});

describe("logit tokens (issue 18)", () => {
  it("keeps each token on one line, cut with an ellipsis by its column and whole in the tooltip", () => {
    const long = " dprinting_and_more_than_twenty_chars";
    const pal = makePalette(readTheme(document.body), 0, 1);
    const col = logitTable(
      [
        { token: long, value: 1.5 },
        { token: XSS, value: 0.5 },
      ],
      "up",
      "pos",
      1.5,
      pal,
    );
    const toks = [...col.querySelectorAll<HTMLElement>(".fv-logit-token")];
    // The text is the whole token; the ellipsis is drawn by CSS where the column is too narrow.
    expect(toks[0].textContent).toBe(`·${long.slice(1)}`);
    expect(toks[1].textContent).toBe(XSS.replace(/ /g, "·")); // still inserted as text
    expect(col.querySelector("img")).toBeNull();
    // One rule in the view kit (styles.ts) for a token alone in a cell: no wrap inside it, an ellipsis.
    for (const tok of toks) expect(tok.classList.contains("fv-token-cell")).toBe(true);
    const rule = TOKEN_CELL_CSS.match(/\.fv-token-cell \{([^}]*)\}/)?.[1] ?? "";
    expect(rule).toMatch(/white-space: pre;/);
    expect(rule).toMatch(/text-overflow: ellipsis/);
    expect(rule).toMatch(/overflow: hidden/);
    expect(DASHBOARD_CSS).toContain(".fv-dashboard .fv-token-cell {");
    // The dashboard's own rule for the token no longer lets it break anywhere.
    const own = DASHBOARD_CSS.match(/\.fv-logit-token \{([^}]*)\}/)?.[1] ?? "";
    expect(own).not.toMatch(/pre-wrap|overflow-wrap|word-break/);
    expect(logitTooltipRows({ token: long, value: 1.5 }, "pos")[0]).toEqual(["token", `·${long.slice(1)}`]);
  });

  it("shows the whole token in the hover tooltip of its row", () => {
    const state = baseState();
    (state.page as { logits_top: Array<{ token: string; value: number }> }).logits_top[0].token =
      " dprinting_a_very_long_token";
    const { root } = mount(state);
    const row = q(root, ".fv-logits-pos .fv-logit");
    row.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: 5, clientY: 5 }));
    row.dispatchEvent(new MouseEvent("mouseover", { bubbles: true, clientX: 5, clientY: 5 }));
    expect(q(root, ".fv-tooltip").textContent).toContain("·dprinting_a_very_long_token");
  });
});

describe("feature labels (issue 18)", () => {
  it("shows the shown feature's label in the header, as text, and follows label and feature changes", () => {
    const { model, root } = mount({ ...baseState(7), feature_labels: { "7": XSS, "12": "storm" } });
    const label = q(root, ".fv-dash-header .fv-dash-label");
    expect(label.textContent).toBe(XSS);
    expect(root.querySelector("img")).toBeNull();
    // A label set on a linked heatmap reaches this model's feature_labels.
    model.remoteSet("feature_labels", { "7": "joy" });
    expect(label.textContent).toBe("joy");
    expect(label.title).toBe("joy");
    model.remoteSet("feature", 12);
    model.remoteSet("page", makePage(12));
    expect(label.textContent).toBe(""); // no label for 12 now
    model.remoteSet("feature_labels", { "12": "storm\nfront" });
    expect(label.textContent).toBe("storm↵front");
    model.remoteSet("feature_labels", {});
    expect(label.textContent).toBe("");
  });
});
