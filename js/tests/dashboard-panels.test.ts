// The dashboard panels of issue 18 item 4: negative activations in the histogram, the logit-effect histogram,
// features that fire together, an inline error for a refused id, the ablation underlines and the text box.
import { describe, expect, it } from "vitest";
import widget from "../src/dashboard";
import { readPage } from "../src/lib/dashboard-data";
import { effectScale, probeExample, readAblation, readProbe } from "../src/lib/dashboard-live";
import { widgetPage } from "./helpers";

const XSS = "<img src=x onerror=alert(1)>";

/** A page shaped like DashboardData.page(feature) with the new panels' fields. */
function makePage(feature: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    feature,
    n_tokens: 1000,
    density: 0.1,
    max: 2,
    histogram: { counts: [1, 4, 0, 7, 3], edges: [-1, -0.5, 0, 0.5, 1, 2] },
    top: [
      { value: 2, tokens: ["a", " b", " c"], acts: [0, 2, 0.5], center: 1 },
      { value: 1, tokens: ["x", " y"], acts: [1, 0], center: 0 },
    ],
    intervals: [],
    logits_top: [{ token: " b", value: 1 }],
    logits_bottom: [{ token: " z", value: -1 }],
    logit_histogram: { counts: [2, 10, 30, 5], edges: [-2, -1, 0, 1, 2] },
    nearest: [{ feature: 4, cosine: 0.5 }],
    coactive: [
      { feature: 4, jaccard: 0.25, count: 30 },
      { feature: 9, jaccard: 0.125, count: 3 },
    ],
    ...extra,
  };
}

const page = widgetPage(widget, ".fv-dashboard");
const q = <T extends Element = HTMLElement>(root: Element, sel: string) => root.querySelector(sel) as T;
const qa = (root: Element, sel: string) => [...root.querySelectorAll<HTMLElement>(sel)];
const hover = (el: Element) => el.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: 5, clientY: 5 }));

function mount(extra: Record<string, unknown> = {}, pageExtra: Record<string, unknown> = {}) {
  return page.mount({
    feature: 3,
    page: makePage(3, pageExtra),
    feature_ids: [3, 4, 5],
    search: "",
    search_results: [],
    title: "neuron at blocks.0.mlp.hook_post",
    feature_error: "",
    live: true,
    probe_text: "",
    probe: {},
    ablation_for: -1,
    ablation: {},
    ...extra,
  });
}

describe("activation histogram with negative values", () => {
  it("draws negative bins left of a zero line in the negative colour", () => {
    const { root } = mount();
    const sec = q(root, ".fv-dash-histogram");
    expect(q(sec, ".fv-dash-h span").textContent).toBe("Activations ≠ 0");
    const bars = qa(sec, ".fv-hist-bar");
    expect(bars.map((b) => b.getAttribute("data-bin"))).toEqual(["0", "1", "3", "4"]);
    expect(Number(bars[0].getAttribute("x"))).toBe(0);
    expect(bars[0].getAttribute("fill")).not.toBe(bars[3].getAttribute("fill"));
    const zero = q(sec, ".fv-hist-zero");
    expect(Number(zero.getAttribute("x1"))).toBeCloseTo(100); // 0 is a third of the way from -1 to 2
    hover(q(sec, '.fv-hist-hit[data-bin="1"]'));
    expect(q(root, ".fv-tooltip").textContent).toContain("-0.5 – 0");
  });

  it("keeps the > 0 heading and no zero line for non-negative features", () => {
    const { root } = mount({}, { histogram: { counts: [3, 1], edges: [0, 1, 2] } });
    expect(q(root, ".fv-dash-histogram .fv-dash-h span").textContent).toBe("Activations > 0");
    expect(root.querySelector(".fv-dash-histogram .fv-hist-zero")).toBeNull();
  });
});

describe("logit-effect histogram", () => {
  it("reads and draws the vocabulary's distribution, promoted and suppressed in their colours", () => {
    const r = readPage(makePage(3));
    expect(r.kind === "page" && r.page.logitHistogram.counts).toEqual([2, 10, 30, 5]);
    const { root } = mount();
    const hist = q(root, '.fv-dash-logits .fv-hist[data-kind="logit"]');
    const bars = qa(hist, ".fv-hist-bar");
    expect(bars).toHaveLength(4);
    expect(bars[0].getAttribute("fill")).toBe(bars[1].getAttribute("fill"));
    expect(bars[1].getAttribute("fill")).not.toBe(bars[2].getAttribute("fill"));
    expect(q(hist, ".fv-hist-xname").textContent).toContain("logit effect");
    hover(q(hist, '.fv-hist-hit[data-bin="2"]'));
    const tip = q(root, ".fv-tooltip").textContent;
    expect(tip).toContain("0 – 1");
    expect(tip).toContain("63.8% of vocabulary");
  });

  it("is absent from pages without it (older files)", () => {
    const { root } = mount({}, { logit_histogram: undefined });
    expect(root.querySelector('.fv-hist[data-kind="logit"]')).toBeNull();
    expect(qa(root, ".fv-logit")).toHaveLength(2);
  });
});

describe("features that fire together", () => {
  it("lists them best first; a click shows one", () => {
    const { model, root } = mount();
    const chips = qa(root, ".fv-dash-coactive .fv-coactive");
    expect(chips.map((c) => c.getAttribute("data-feature"))).toEqual(["4", "9"]);
    expect(chips[0].textContent).toBe("#40.25");
    expect(chips[0].title).toContain("fire together on 30 tokens");
    expect((chips[1] as HTMLButtonElement).disabled).toBe(true); // 9 is not in feature_ids
    chips[0].click();
    expect(model.state.feature).toBe(4);
  });

  it("says when co-activation was not counted for the feature", () => {
    const { root } = mount({}, { coactive: null });
    expect(q(root, ".fv-dash-coactive").textContent).toContain("not counted for this feature");
    const r = readPage(makePage(3, { coactive: [{ feature: 1, jaccard: 2, count: 1 }] }));
    expect(r.kind === "page" && r.page.coactive).toEqual([]);
  });
});

describe("an id that cannot be shown", () => {
  it("shows Python's refusal inline, and clears it with the next page", () => {
    const { model, root } = mount();
    model.remoteSet("feature_error", "feature 99999 is out of range: valid features are 0..95");
    expect(root.dataset.state).toBe("error");
    expect(q(root, ".fv-dash-status").textContent).toBe("⚠ feature 99999 is out of range: valid features are 0..95");
    expect(q(root, ".fv-dash-body").style.display).toBe(""); // the old page stays
    model.remoteSet("feature_error", "");
    expect(root.dataset.state).toBe("ready");
    expect(q(root, ".fv-dash-status").textContent).toBe("");
  });

  it("says inline why a typed id was not asked for", () => {
    const { model, root } = mount();
    const input = q<HTMLInputElement>(root, ".fv-dash-input");
    input.value = "700";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.state.feature).toBe(3);
    expect(q(root, ".fv-dash-status").textContent).toBe("⚠ 700 is not one of this dashboard's 3 features (ids 3–5)");
    q(root, ".fv-next").click();
    expect(q(root, ".fv-dash-status").textContent).not.toContain("700");
  });
});

describe("ablation effects, on request", () => {
  it("asks for the shown feature and underlines each token by its effect", () => {
    const { model, root } = mount();
    q(root, ".fv-ablate").click();
    expect(model.state.ablation_for).toBe(3);
    expect(q(root, ".fv-ablate-status").textContent).toBe("computing…");
    model.remoteSet("ablation", { feature: 3, top: [{ effects: [0, 0.4, null] }, { effects: [-0.2, null] }] });
    const rows = qa(root, '.fv-context[data-source="top"]');
    const toks = qa(rows[0], ".fv-token");
    expect(toks.map((t) => t.getAttribute("data-effect"))).toEqual(["0", "0.4", null]);
    expect(toks[1].style.borderBottomColor).not.toBe("");
    const neg = qa(rows[1], ".fv-token")[0];
    expect(neg.style.borderBottomColor).not.toBe(toks[1].style.borderBottomColor);
    hover(toks[1]);
    expect(q(root, ".fv-tooltip").textContent).toContain("next-token loss +0.4");
    expect(q(root, ".fv-ablate").getAttribute("aria-pressed")).toBe("true");
  });

  it("ignores effects of another feature and shows errors as a sentence", () => {
    const { model, root } = mount();
    model.remoteSet("ablation", { feature: 4, top: [{ effects: [1, 1, null] }] });
    expect(root.querySelector(".fv-token[data-effect]")).toBeNull();
    model.remoteSet("ablation", { feature: 3, error: `NotImplementedError: ${XSS}` });
    expect(q(root, ".fv-ablate-status").textContent).toBe(`⚠ NotImplementedError: ${XSS}`);
    expect(root.querySelector("img")).toBeNull();
  });

  it("reads defensively", () => {
    expect(readAblation({ feature: 1, top: [{ effects: [1, "x", Number.NaN, null] }] })?.effects).toEqual([
      [1, null, null, null],
    ]);
    expect(readAblation({ feature: "1" })).toBeNull();
    expect(effectScale([[0.1, -0.5, null]])).toBe(0.5);
  });
});

describe("the text box", () => {
  it("sends the text on Enter and colours its tokens, as text", () => {
    const { model, root } = mount();
    const input = q<HTMLInputElement>(root, ".fv-probe-input");
    input.value = "I am happy";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.state.probe_text).toBe("I am happy");
    expect(q(root, ".fv-probe-status").textContent).toBe("computing…");
    model.remoteSet("probe", { feature: 3, text: "I am happy", tokens: [" am", XSS, " happy"], acts: [0, 0.5, 2] });
    const toks = qa(root, '.fv-probe-result .fv-context[data-source="probe"] .fv-token');
    expect(toks.map((t) => t.textContent)).toEqual([" am", XSS, " happy"]);
    expect(root.querySelector("img")).toBeNull();
    expect(toks[2].classList.contains("fv-token-max")).toBe(true);
    expect(toks[2].style.background).not.toBe("");
    expect(q(root, ".fv-probe-status").textContent).toBe("max 2 at “·happy”");
    hover(toks[1]);
    expect(q(root, ".fv-tooltip").textContent).toContain("0.5");
  });

  it("shows Python's sentence, and disables itself without a model or a kernel", () => {
    const { model, root } = mount();
    model.remoteSet("probe", { feature: 3, text: "", error: "type a text to see the feature's activation" });
    expect(q(root, ".fv-probe-status").textContent).toBe("⚠ type a text to see the feature's activation");
    model.remoteSet("live", false);
    expect(q<HTMLInputElement>(root, ".fv-probe-input").disabled).toBe(true);
    expect(q<HTMLButtonElement>(root, ".fv-ablate").title).toContain("model=");
    page.unmount();
    const offline = mount({ _kernel_free: true });
    expect(q<HTMLButtonElement>(offline.root, ".fv-probe-run").disabled).toBe(true);
    expect(q(offline.root, ".fv-probe-status").textContent).toContain("running kernel");
  });

  it("reads defensively", () => {
    expect(readProbe({ feature: 1, tokens: ["a"], acts: [] })).toBeNull();
    const p = readProbe({ feature: 1, tokens: ["a", "b"], acts: [1, 3] });
    expect(p && probeExample(p).center).toBe(1);
    const silent = readProbe({ feature: 1, tokens: ["a", "b"], acts: [0, 0] });
    expect(silent && probeExample(silent).center).toBe(-1); // no max token to mark
  });
});
