import { describe, expect, it } from "vitest";
import widget from "../src/contrast";
import { decodeMatrix } from "../src/lib/binary";
import { formatEffect, groupMark, marksLegend, rowOrder, significanceMark, testLegend } from "../src/lib/contrast-data";
import { csrTrait, denseTrait, FakeModel, f32, widgetPage } from "./helpers";

const XSS = "<img src=x onerror=alert(1)>";

// 4 features x 2 groups (happy, angry).
const MEANS = [
  [0.5, 0.1],
  [0.02, 0.9],
  [0.3, 0.3],
  [1.234567, 0],
];
const EFFECTS = [
  [0.8, -0.8],
  [-0.6, 0.6],
  [0.1, -0.1],
  [0.5, -0.5],
];
const QS = [
  [0.0005, 0.0005],
  [0.005, 0.005],
  [0.2, 0.2],
  [0.03, 0.03],
];

function baseState(): Record<string, unknown> {
  return {
    groups: ["happy", "angry"],
    feature_ids: [10, 20, 30, 40],
    feature_labels: ["", "joy", "", ""],
    means: denseTrait(MEANS),
    effects: denseTrait(EFFECTS),
    q_values: denseTrait(QS),
    alpha: 0.05,
    title: "Emotions",
    sort_group: "",
    selected_feature: -1,
  };
}

const page = widgetPage(widget, ".fv-contrast");

function mount(state = baseState()) {
  return page.mount(state);
}

const rowEls = (root: HTMLElement) => [...root.querySelectorAll<HTMLElement>(".fv-contrast-row")];
const rowIds = (root: HTMLElement) => rowEls(root).map((r) => r.dataset.feature);
const rowOf = (root: HTMLElement, id: number) =>
  root.querySelector<HTMLElement>(`.fv-contrast-row[data-feature="${id}"]`)!;

describe("significance marks", () => {
  it("uses *** / ** / * at 0.001 / 0.01 / alpha", () => {
    const a = 0.05;
    expect(significanceMark(0.0009999, a)).toBe("***");
    expect(significanceMark(0.001, a)).toBe("**");
    expect(significanceMark(0.0099, a)).toBe("**");
    expect(significanceMark(0.01, a)).toBe("*");
    expect(significanceMark(0.0499, a)).toBe("*");
    expect(significanceMark(0.05, a)).toBe("");
    expect(significanceMark(0.5, a)).toBe("");
    expect(significanceMark(0, a)).toBe("***");
    expect(significanceMark(NaN, a)).toBe("");
  });

  it("marks a group only where the feature is higher in it", () => {
    expect(groupMark(0.0001, 0.7, 0.05)).toBe("***");
    expect(groupMark(0.0001, -0.7, 0.05)).toBe("");
    expect(groupMark(0.0001, 0, 0.05)).toBe("");
    expect(groupMark(0.0001, NaN, 0.05)).toBe("");
    expect(groupMark(0.2, 0.7, 0.05)).toBe("");
  });

  it("follows alpha and never marks a q that is not significant at alpha", () => {
    expect(significanceMark(0.08, 0.1)).toBe("*");
    expect(significanceMark(0.1, 0.1)).toBe("");
    expect(significanceMark(0.007, 0.005)).toBe("");
    expect(significanceMark(0.004, 0.005)).toBe("**");
    expect(significanceMark(0.0005, 0.0001)).toBe("");
  });

  it("describes the marks and the test in the legend", () => {
    expect(marksLegend(0.05)).toBe("*** q < 0.001 · ** q < 0.01 · * q < 0.05");
    expect(marksLegend(0.005)).toBe("*** q < 0.001 · ** q < 0.005");
    expect(testLegend("mannwhitney", "")).toMatch(/Mann-Whitney.*per-prompt.*Benjamini-Hochberg/);
    expect(testLegend("welch", "max")).toMatch(/Welch.*per-prompt max/);
  });

  it("formats signed effects with 2 decimals", () => {
    expect(formatEffect(0.8)).toBe("+0.80");
    expect(formatEffect(-0.123)).toBe("-0.12");
    expect(formatEffect(-0.001)).toBe("0.00");
    expect(formatEffect(NaN)).toBe("–");
  });

  it("orders rows by a group's effect, stable, NaN last", () => {
    const dec = decodeMatrix(denseTrait([[0.1], [NaN], [0.5], [0.1], [-1]]));
    if (!dec.ok) throw new Error(dec.error);
    const d = { nRows: 5, groups: ["g"], effects: dec.matrix };
    expect(rowOrder(d, "g")).toEqual([2, 0, 3, 4, 1]);
    expect(rowOrder(d, "")).toEqual([0, 1, 2, 3, 4]);
    expect(rowOrder(d, "missing")).toEqual([0, 1, 2, 3, 4]);
  });
});

describe("contrast render()", () => {
  it("renders rows, bars, means, marks and the legend", () => {
    const { root } = mount();
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.selectedFeature).toBe("-1");
    expect(rowIds(root)).toEqual(["10", "20", "30", "40"]);
    expect(root.querySelector(".fv-title")!.textContent).toBe("Emotions");

    // Headers: a feature column, then one per group.
    const heads = [...root.querySelectorAll("th")].map((th) => th.textContent);
    expect(heads[0]).toBe("feature");
    expect(heads.slice(1).map((t) => t!.replace("▼", ""))).toEqual(["happy", "angry"]);

    // Labels: "" shows "#<id>".
    expect(rowOf(root, 10).querySelector(".fv-contrast-label")!.textContent).toBe("#10");
    expect(rowOf(root, 20).querySelector(".fv-contrast-label")!.textContent).toBe("joy");

    const cells = (id: number) => [...rowOf(root, id).querySelectorAll<HTMLElement>(".fv-contrast-group-cell")];
    const text = (c: HTMLElement, cls: string) => c.querySelector(`.${cls}`)!.textContent;
    expect(cells(40).map((c) => text(c, "fv-contrast-mean"))).toEqual(["1.23", "0"]);
    // Marks only in the group the feature is higher in (positive effect), never in both (issue 23).
    expect(cells(10).map((c) => text(c, "fv-contrast-mark"))).toEqual(["***", ""]);
    expect(cells(20).map((c) => text(c, "fv-contrast-mark"))).toEqual(["", "**"]);
    expect(cells(30).map((c) => text(c, "fv-contrast-mark"))).toEqual(["", ""]);
    expect(cells(40).map((c) => c.dataset.mark)).toEqual(["*", ""]);
    expect(cells(10).map((c) => text(c, "fv-contrast-effect"))).toEqual(["r +0.80", "r -0.80"]);

    // Bars share one scale across groups: the largest mean fills the track.
    const widths = (id: number) =>
      cells(id).map((c) => parseFloat(c.querySelector<HTMLElement>(".fv-contrast-bar")!.style.width));
    expect(widths(40)[0]).toBeCloseTo(100, 0); // percent of the track
    expect(widths(40)[1]).toBe(0);
    expect(widths(30)[0]).toBeCloseTo(widths(30)[1], 5);
    expect(widths(20)[1] / widths(40)[0]).toBeCloseTo(0.9 / 1.234567, 2);
    // Group colours are distinct.
    const [c0, c1] = cells(10).map((c) => c.querySelector<HTMLElement>(".fv-contrast-bar")!.style.background);
    expect(c0).toBeTruthy();
    expect(c0).not.toBe(c1);

    const legend = root.querySelector(".fv-contrast-legend")!.textContent!;
    expect(legend).toContain("*** q < 0.001");
    expect(legend).toContain("* q < 0.05");
    expect(legend).toMatch(/Mann-Whitney/);
    expect(legend).toMatch(/Benjamini-Hochberg/);
  });

  it("decodes CSR matrices and plain-array buffers too", () => {
    const state = baseState();
    state.means = csrTrait(MEANS);
    state.q_values = { shape: [4, 2], format: "dense", data: QS.flat() };
    const { root } = mount(state);
    expect(root.dataset.state).toBe("ready");
    expect(rowOf(root, 40).querySelector(".fv-contrast-mean")!.textContent).toBe("1.23");
    expect(rowOf(root, 20).querySelectorAll(".fv-contrast-mark")[1].textContent).toBe("**"); // angry: higher
  });

  it("sorts by sort_group on load and when a header is clicked", () => {
    const state = baseState();
    state.sort_group = "happy";
    const { model, root } = mount(state);
    expect(rowIds(root)).toEqual(["10", "40", "30", "20"]);
    expect(root.dataset.order).toBe("10,40,30,20");

    const angry = root.querySelector<HTMLElement>('.fv-contrast-sort[data-group="angry"]')!;
    angry.click();
    expect(model.get("sort_group")).toBe("angry");
    expect(model.saves).toBe(1);
    expect(rowIds(root)).toEqual(["20", "30", "40", "10"]);
    expect(angry.isConnected).toBe(false); // header re-rendered
    const active = root.querySelector<HTMLElement>(".fv-contrast-sort.fv-active")!;
    expect(active.dataset.group).toBe("angry");
    expect(active.getAttribute("aria-pressed")).toBe("true");

    // Clicking the active header again changes nothing.
    active.click();
    expect(model.saves).toBe(1);

    // The feature header restores the given order.
    root.querySelector<HTMLElement>(".fv-contrast-sort-feature")!.click();
    expect(model.get("sort_group")).toBe("");
    expect(model.saves).toBe(2);
    expect(rowIds(root)).toEqual(["10", "20", "30", "40"]);

    // And from Python.
    model.remoteSet("sort_group", "happy");
    expect(rowIds(root)).toEqual(["10", "40", "30", "20"]);
  });

  it("selects a feature on click via model.set + save_changes", () => {
    const { model, root } = mount();
    rowOf(root, 30).querySelector<HTMLElement>(".fv-contrast-group-cell")!.click();
    expect(model.get("selected_feature")).toBe(30);
    expect(model.saves).toBe(1);
    expect(root.dataset.selectedFeature).toBe("30");
    expect(rowOf(root, 30).classList.contains("fv-selected")).toBe(true);
    expect(root.querySelectorAll(".fv-selected").length).toBe(1);

    // Clicking the selected row again keeps it selected without a new save.
    rowOf(root, 30).click();
    expect(model.saves).toBe(1);

    // Keyboard selection.
    rowOf(root, 10).dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("selected_feature")).toBe(10);
    expect(model.saves).toBe(2);

    // Selection survives re-sorting.
    root.querySelector<HTMLElement>('.fv-contrast-sort[data-group="angry"]')!.click();
    expect(rowOf(root, 10).classList.contains("fv-selected")).toBe(true);
  });

  it("highlights the row when Python changes selected_feature", () => {
    const { model, root } = mount();
    expect(root.querySelectorAll(".fv-selected").length).toBe(0);
    model.remoteSet("selected_feature", 40);
    expect(root.dataset.selectedFeature).toBe("40");
    expect(rowOf(root, 40).classList.contains("fv-selected")).toBe(true);
    expect(rowOf(root, 40).getAttribute("aria-selected")).toBe("true");
    model.remoteSet("selected_feature", 999); // not in the table
    expect(root.dataset.selectedFeature).toBe("999");
    expect(root.querySelectorAll(".fv-selected").length).toBe(0);
    model.remoteSet("selected_feature", -1);
    expect(root.dataset.selectedFeature).toBe("-1");
    expect(root.querySelectorAll(".fv-selected").length).toBe(0);
  });

  it("shows an initial selection", () => {
    const state = baseState();
    state.selected_feature = 20;
    const { root } = mount(state);
    expect(rowOf(root, 20).classList.contains("fv-selected")).toBe(true);
  });

  it("shows a text-only tooltip with feature, group, mean, effect and q", () => {
    const state = baseState();
    state.groups = ["happy", XSS];
    const { root } = mount(state);
    const cell = rowOf(root, 20).querySelectorAll<HTMLElement>(".fv-contrast-group-cell")[1];
    cell
      .querySelector(".fv-contrast-mean")!
      .dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: 5, clientY: 5 }));
    const tip = root.querySelector<HTMLElement>(".fv-tooltip")!;
    expect(tip.style.display).toBe("block");
    const text = tip.textContent!;
    expect(text).toContain("#20 joy");
    expect(text).toContain(XSS);
    expect(text).toContain("0.9");
    expect(text).toContain("+0.60");
    expect(text).toContain("0.005");
    expect(text).toContain("**");
    root.querySelector("table")!.dispatchEvent(new MouseEvent("mouseleave"));
    expect(tip.style.display).toBe("none");
    expect(page.el.querySelectorAll("img").length).toBe(0);
  });

  it("never creates elements from group names or labels", () => {
    const state = baseState();
    state.groups = [XSS, "<b>angry</b>"];
    state.feature_labels = [XSS, "<script>alert(1)</script>", "", ""];
    state.sort_group = XSS;
    state.title = XSS;
    const { model, root } = mount(state);
    expect(root.dataset.state).toBe("ready");
    expect(document.querySelectorAll("img").length).toBe(0);
    expect(page.el.querySelectorAll("img, b, script").length).toBe(0);
    expect(root.querySelector(".fv-contrast-sort.fv-active")!.getAttribute("data-group")).toBe(XSS);
    expect(root.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(rowIds(root)).toEqual(["10", "40", "30", "20"]); // sorted by the XSS-named group
    root.querySelector<HTMLElement>('.fv-contrast-sort[data-group-index="1"]')!.click();
    expect(model.get("sort_group")).toBe("<b>angry</b>");
    expect(page.el.querySelectorAll("img, b, script").length).toBe(0);
  });

  it("shows an error for malformed buffers without throwing, and recovers", () => {
    const state = baseState();
    state.means = { shape: [4, 2], format: "dense", data: f32([1, 2, 3]) };
    let m!: ReturnType<typeof mount>;
    expect(() => (m = mount(state))).not.toThrow();
    const { model, root } = m;
    expect(root.dataset.state).toBe("error");
    expect(root.querySelector(".fv-message")!.textContent).toMatch(/means/);
    expect(rowEls(root).length).toBe(0);

    const bad: unknown[] = [
      null,
      "nope",
      { shape: [4], data: f32([]) },
      { shape: [4, 2], format: "coo", data: f32(MEANS.flat()) },
      { shape: [4, 2], format: "dense", data: new Uint8Array([1, 2, 3]) },
      { shape: [4, 2], format: "csr", data: f32([1]), indices: f32([0]), indptr: "x" },
    ];
    for (const b of bad) {
      expect(() => model.remoteSet("effects", b)).not.toThrow();
      expect(root.dataset.state).toBe("error");
    }
    model.remoteSet("effects", denseTrait(EFFECTS));
    model.remoteSet("means", denseTrait(MEANS));
    expect(root.dataset.state).toBe("ready");
    expect(rowEls(root).length).toBe(4);

    // Shape mismatch between the matrices.
    model.remoteSet("q_values", denseTrait([[0.1, 0.1]]));
    expect(root.dataset.state).toBe("error");
    expect(root.querySelector(".fv-message")!.textContent).toMatch(/q_values is 1×2/);

    // A model whose get throws.
    model.remoteSet("q_values", denseTrait(QS));
    const throwing = new FakeModel(baseState());
    throwing.get = () => {
      throw new Error("boom");
    };
    const el2 = document.createElement("div");
    let dispose: (() => void) | undefined;
    expect(() => (dispose = widget.render({ model: throwing, el: el2 }))).not.toThrow();
    expect(el2.querySelector<HTMLElement>(".fv-contrast")!.dataset.state).toBe("empty");
    dispose!();
  });

  it("tolerates inconsistent auxiliary traits and empty data", () => {
    const state = baseState();
    state.groups = ["happy"];
    state.feature_ids = [10, 20];
    state.feature_labels = 5;
    state.alpha = "high";
    const { model, root } = mount(state);
    expect(root.dataset.state).toBe("ready");
    expect(rowIds(root)).toEqual(["10", "20", "2", "3"]);
    const heads = [...root.querySelectorAll("th")].map((th) => th.textContent);
    expect(heads[2]).toContain("group 2");
    expect(root.querySelector(".fv-note")!.textContent).toMatch(/groups has 1 entries/);
    expect(root.querySelector(".fv-note")!.textContent).toMatch(/alpha/);

    model.remoteSet("means", denseTrait([]));
    model.remoteSet("effects", denseTrait([]));
    model.remoteSet("q_values", denseTrait([]));
    expect(root.dataset.state).toBe("empty");
    model.remoteSet("means", {});
    model.remoteSet("effects", {});
    model.remoteSet("q_values", {});
    expect(root.dataset.state).toBe("empty");
    expect(root.querySelector(".fv-message")!.textContent).toMatch(/Nothing to show/);
  });

  it("cleans up listeners and DOM", () => {
    page.expectTornDown(mount().model);
  });
});

describe("issue 18: bars show what the test compared", () => {
  // Per-prompt max averaged over each group's prompts: feature 10 is higher in angry here, unlike its token means.
  const PROMPT_MEANS = [
    [2, 4],
    [1, 3],
    [0.5, 0.5],
    [8, 0],
  ];

  it("draws bars and numbers from prompt_means, the token mean in the tooltip, and says so in the legend", () => {
    const { root } = mount({ ...baseState(), prompt_means: denseTrait(PROMPT_MEANS), aggregate: "max" });
    const cell = root.querySelector<HTMLElement>('.fv-contrast-row[data-feature="10"] td[data-group-index="1"]')!;
    expect(cell.querySelector(".fv-contrast-mean")?.textContent).toBe("4");
    // Shared scale: the largest prompt mean (8, feature 40) fills the track; 4 fills half.
    expect(cell.querySelector<HTMLElement>(".fv-contrast-bar")!.style.width).toBe("50.0%");
    const legend = root.querySelector(".fv-contrast-legend")!.textContent!;
    expect(legend).toContain("average per-prompt max, what the test compares");
    cell.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: 5, clientY: 5 }));
    const tip = root.querySelector(".fv-tooltip")?.textContent ?? "";
    expect(tip).toContain("avg per-prompt max4");
    expect(tip).toContain("token mean0.1");
  });

  it("falls back to token means (and says so) for tables without prompt means", () => {
    const { root } = mount({ ...baseState(), prompt_means: {} });
    expect(root.querySelector('.fv-contrast-row[data-feature="10"] .fv-contrast-mean')?.textContent).toBe("0.5");
    expect(root.querySelector(".fv-contrast-legend")!.textContent).toContain("Bars: token mean activation");
  });

  it("takes labels by feature id (what Python sends)", () => {
    const { root } = mount({ ...baseState(), feature_labels: { "30": "calm" } });
    expect(rowOf(root, 30).textContent).toContain("calm");
  });
});
