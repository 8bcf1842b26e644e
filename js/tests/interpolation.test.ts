import { describe, expect, it, vi } from "vitest";
import { LocalModel } from "../src/export_runtime";
import widget from "../src/interpolation";
import { parseColour } from "../src/lib/colour";
import { niceCeil } from "../src/lib/interpolation-chart";
import {
  clampIndex,
  describeSteering,
  diffTokens,
  flowText,
  formatProb,
  nearestIndex,
  readInterpolation,
  tokenOrder,
} from "../src/lib/interpolation-data";
import { EXTEND_TIMEOUT_MS, PLAY_STEP_MS } from "../src/lib/interpolation-view";
import { csrTrait, denseTrait, FakeModel, f32, widgetPage } from "./helpers";

const XSS = "<img src=x onerror=alert(1)>";

const VALUES = [-4, -2, 0, 2, 4];
const BASE = [" the", " cat", " sat", "."];
const TOKENS = [
  [" a", " dog", " ran", "."], // differs at 0
  [" the", " cat", " ran", "."], // differs at 2 ("." after it is diverged too)
  [" the", " cat", " sat", "."], // = baseline
  [" the", " cat", " sat", ".", " It"], // longer: differs at 4
  [" the", " cat"], // shorter: a prefix, no token differs
];
const PROBS = [
  [0.1, 0.6, 0.05],
  [0.3, 0.4, 0.1],
  [0.5, 0.2, 0.1],
  [0.7, 0.1, 0.05],
  [0.9, 0.02, 0.01],
];

function baseState(): Record<string, unknown> {
  return {
    prompt: "Once upon a time",
    feature: 1234,
    mode: "add",
    positions: "all",
    values: [...VALUES],
    texts: TOKENS.map((t) => t.join("")),
    new_tokens: TOKENS.map((t) => [...t]),
    baseline_text: BASE.join(""),
    baseline_tokens: [...BASE],
    next_token_strings: [" the", " a", "\n"],
    next_token_probs: denseTrait(PROBS),
    baseline_probs: [0.5, 0.2, 0.1],
    kl: [1.5, 0.5, 0, 0.4, 2.25],
    index: 2,
    extend: "",
    busy: false,
    error: "",
  };
}

const page = widgetPage(widget, ".fv-interpolation");

function mount(state: Record<string, unknown> = baseState()) {
  return page.mount(state);
}

const q = <T extends Element = HTMLElement>(root: HTMLElement, sel: string) =>
  root.querySelector<T>(sel as string) as T;
const tokenEls = (root: HTMLElement) => [...root.querySelectorAll<HTMLElement>(".fv-generated .fv-token")];
const tokenTexts = (root: HTMLElement) => tokenEls(root).map((t) => t.textContent);
const diffFlags = (root: HTMLElement) => tokenEls(root).map((t) => t.classList.contains("fv-diff"));

function moveSlider(root: HTMLElement, i: number): void {
  const slider = q<HTMLInputElement>(root, "input.fv-slider");
  slider.value = String(i);
  slider.dispatchEvent(new Event("input", { bubbles: true }));
}

describe("pure helpers", () => {
  it("diffs position-wise and marks everything after the first difference", () => {
    expect(diffTokens(["a", "b", "c"], ["a", "b", "c"])).toEqual({
      firstDiff: 3,
      diverged: [false, false, false],
      endsEarly: false,
    });
    expect(diffTokens(["a", "x", "c"], ["a", "b", "c"]).diverged).toEqual([false, true, true]);
    expect(diffTokens(["x", "b"], ["a", "b"]).diverged).toEqual([true, true]);
    const longer = diffTokens(["a", "b", "c"], ["a", "b"]);
    expect(longer.firstDiff).toBe(2);
    expect(longer.diverged).toEqual([false, false, true]);
    const shorter = diffTokens(["a"], ["a", "b"]);
    expect(shorter.diverged).toEqual([false]);
    expect(shorter.endsEarly).toBe(true);
    expect(diffTokens([], []).endsEarly).toBe(false);
    expect(diffTokens([], ["a"]).endsEarly).toBe(true);
  });

  it("describes the steering", () => {
    expect(describeSteering("add", 1234, "all")).toBe("add feature 1234 × value at all positions");
    expect(describeSteering("clamp", 7, "prompt")).toBe("clamp feature 7 to value at prompt positions");
    expect(describeSteering("ablate", 7, "generated")).toBe("ablate feature 7 (set to 0) at generated positions");
    expect(describeSteering("weird\nmode", NaN, "")).toBe("weird↵mode feature ? at all positions");
  });

  it("clamps indices and finds the nearest value", () => {
    expect(clampIndex(3, 5)).toBe(3);
    expect(clampIndex(9, 5)).toBe(4);
    expect(clampIndex(-2, 5)).toBe(0);
    expect(clampIndex(2.6, 5)).toBe(3);
    expect(clampIndex("x", 5)).toBe(0);
    expect(clampIndex(3, 0)).toBe(0);
    expect(nearestIndex(VALUES, 0.9)).toBe(2);
    expect(nearestIndex(VALUES, 1.1)).toBe(3);
    expect(nearestIndex(VALUES, -100)).toBe(0);
    expect(nearestIndex([], 1)).toBe(-1);
  });

  it("formats probabilities, nice ceilings and flowing text", () => {
    expect(formatProb(0.123)).toBe("12.3%");
    expect(formatProb(0.00042)).toBe("0.04%");
    expect(formatProb(1e-7)).toBe("<0.01%");
    expect(formatProb(0)).toBe("0%");
    expect(formatProb(NaN)).toBe("–");
    expect(niceCeil(0.9)).toBe(1);
    expect(niceCeil(0.31)).toBe(0.5);
    expect(niceCeil(0.06)).toBeCloseTo(0.1);
    expect(niceCeil(0.021)).toBeCloseTo(0.025);
    expect(niceCeil(0)).toBe(1);
    expect(flowText(" a\nb\tc")).toBe(" a↵\nb→c");
    expect(flowText("x\u200by")).toBe("x\\u200By");
  });
});

describe("rendering", () => {
  it("renders header, slider, texts, chart and state attributes", () => {
    const { root } = mount();
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.index).toBe("2");
    expect(root.dataset.value).toBe("0");
    expect(q(root, ".fv-interp-desc").textContent).toBe("add feature 1234 × value at all positions");
    expect(q(root, ".fv-interp-prompt-head").textContent).toBe("“Once upon a time”");
    const slider = q<HTMLInputElement>(root, "input.fv-slider");
    expect(slider.type).toBe("range");
    expect(slider.min).toBe("0");
    expect(slider.max).toBe("4");
    expect(slider.value).toBe("2");
    expect(slider.dataset.lmSuppressShortcuts).toBe("true"); // arrow keys reach the slider in Jupyter
    expect(q(root, ".fv-interp-min").textContent).toBe("-4");
    expect(q(root, ".fv-interp-max").textContent).toBe("4");
    expect(q(root, ".fv-interp-value-num").textContent).toBe("0");
    expect(q(root, ".fv-interp-kl-num").textContent).toBe("0 nats");
    expect(q(root, ".fv-generated .fv-prompt").textContent).toBe("Once upon a time");
    expect(tokenTexts(root)).toEqual([" the", " cat", " sat", "."]);
    expect(diffFlags(root)).toEqual([false, false, false, false]);
    expect(root.querySelectorAll(".fv-baseline .fv-base-token").length).toBe(4);
    // Chart: one line per token, legend via text, baseline dots at 0 (in range).
    expect(root.querySelectorAll(".fv-line").length).toBe(3);
    expect(root.querySelectorAll(".fv-base-dot").length).toBe(3);
    const legend = [...root.querySelectorAll(".fv-chart-token")].map((e) => e.textContent);
    expect(legend).toEqual(["·the", "·a", "↵"]);
    expect([...root.querySelectorAll(".fv-chart-prob")].map((e) => e.textContent)).toEqual(["50.0%", "20.0%", "10.0%"]);
    const cursor = root.querySelector(".fv-cursor")!;
    const baseDot = root.querySelector(".fv-base-dot")!;
    expect(cursor.getAttribute("x1")).toBe(Number(baseDot.getAttribute("cx")).toFixed(1));
    expect(root.querySelector(".fv-extend-low")).not.toBeNull();
    expect(root.querySelector(".fv-extend-high")).not.toBeNull();
    expect(q(root, ".fv-note").textContent).toBe("");
  });

  it("moving the slider updates the text immediately and saves index", () => {
    const { model, root } = mount();
    moveSlider(root, 0);
    expect(root.dataset.index).toBe("0");
    expect(root.dataset.value).toBe("-4");
    expect(tokenTexts(root)).toEqual([" a", " dog", " ran", "."]);
    expect(q(root, ".fv-interp-value-num").textContent).toBe("-4");
    expect(q(root, ".fv-interp-kl-num").textContent).toBe("1.5 nats");
    expect(model.state.index).toBe(0);
    expect(model.saves).toBe(1);
    expect([...root.querySelectorAll(".fv-chart-prob")].map((e) => e.textContent)).toEqual(["60.0%", "10.0%", "5.0%"]);
    // The same position again sends nothing.
    q<HTMLInputElement>(root, "input.fv-slider").dispatchEvent(new Event("change"));
    expect(model.saves).toBe(1);
    moveSlider(root, 4);
    expect(model.state.index).toBe(4);
    expect(model.saves).toBe(2);
    expect(q(root, ".fv-interp-kl-num").textContent).toBe("2.25 nats");
  });

  it("orders the legend by probability at the current value, each token keeping its colour", () => {
    const { root } = mount();
    const legend = () =>
      [...root.querySelectorAll<HTMLElement>(".fv-chart-item")].map((it) => ({
        token: it.querySelector(".fv-chart-token")!.textContent,
        prob: it.querySelector(".fv-chart-prob")!.textContent,
        colour: it.querySelector<HTMLElement>(".fv-chart-swatch")!.style.background,
        line: root.querySelector(`.fv-series[data-token="${it.dataset.token}"] .fv-line`)!.getAttribute("stroke"),
      }));
    const atZero = legend(); // index 2: 50% / 20% / 10%
    expect(atZero.map((e) => e.token)).toEqual(["·the", "·a", "↵"]);
    const colourOf = Object.fromEntries(atZero.map((e) => [e.token, e.colour]));
    expect(new Set(Object.values(colourOf)).size).toBe(3);
    moveSlider(root, 0); // -4: " a" leads with 60%
    const atLow = legend();
    expect(atLow.map((e) => [e.token, e.prob])).toEqual([
      ["·a", "60.0%"],
      ["·the", "10.0%"],
      ["↵", "5.0%"],
    ]);
    for (const e of atLow) expect(e.colour).toBe(colourOf[e.token]);
    for (const e of atLow) expect(parseColour(e.line)).toEqual(parseColour(e.colour));
    moveSlider(root, 4); // +4: " the" leads again
    expect(legend().map((e) => e.token)).toEqual(["·the", "·a", "↵"]);
    for (const e of legend()) expect(e.colour).toBe(colourOf[e.token]);
  });

  it("puts tokens without a probability last in the legend, ties in token order", () => {
    expect(tokenOrder([0.1, NaN, 0.3, 0.1], 4)).toEqual([2, 0, 3, 1]);
    expect(tokenOrder([0.2, 0.9, 0.5], 2)).toEqual([1, 0]);
  });

  it("follows index changes from Python (clamped)", () => {
    const { model, root } = mount();
    model.remoteSet("index", 1);
    expect(root.dataset.index).toBe("1");
    expect(q<HTMLInputElement>(root, "input.fv-slider").value).toBe("1");
    expect(tokenTexts(root)).toEqual([" the", " cat", " ran", "."]);
    model.remoteSet("index", 99);
    expect(root.dataset.index).toBe("4");
    expect(model.saves).toBe(0);
  });

  it("marks tokens from the first difference with the baseline", () => {
    const { root } = mount();
    moveSlider(root, 1);
    expect(diffFlags(root)).toEqual([false, false, true, true]);
    const first = tokenEls(root).filter((t) => t.classList.contains("fv-diff-first"));
    expect(first.map((t) => t.textContent)).toEqual([" ran"]);
    expect(first[0].title).toContain("unsteered: ·sat");
    expect(q(root, ".fv-generated").dataset.firstDiff).toBe("2");
    expect([...root.querySelectorAll(".fv-base-diff")].map((e) => e.textContent)).toEqual([" sat", "."]);
    moveSlider(root, 0);
    expect(diffFlags(root)).toEqual([true, true, true, true]);
    moveSlider(root, 3);
    expect(diffFlags(root)).toEqual([false, false, false, false, true]);
    moveSlider(root, 4);
    expect(diffFlags(root)).toEqual([false, false]);
    expect(root.querySelector(".fv-interp-end")).not.toBeNull();
    moveSlider(root, 2);
    expect(diffFlags(root)).toEqual([false, false, false, false]);
    expect(root.querySelector(".fv-interp-end")).toBeNull();
    expect(root.querySelectorAll(".fv-base-diff").length).toBe(0);
  });

  it("shows newlines as ↵ while still breaking the line", () => {
    const s = baseState();
    (s.new_tokens as string[][])[2] = [" the", "\n", "x"];
    const { root } = mount(s);
    expect(tokenTexts(root)).toEqual([" the", "↵\n", "x"]);
  });

  it("rebuilds when Python replaces the values", () => {
    const { model, root } = mount();
    model.state.values = [-6, -4, -2, 0, 2, 4];
    model.state.texts = ["z", ...(model.state.texts as string[])];
    model.state.new_tokens = [["z"], ...(model.state.new_tokens as string[][])];
    model.state.kl = [3, ...(model.state.kl as number[])];
    model.state.next_token_probs = denseTrait([[0.2, 0.2, 0.2], ...PROBS]);
    model.state.index = 1;
    model.emit("change:values");
    model.emit("change:index");
    expect(q<HTMLInputElement>(root, "input.fv-slider").max).toBe("5");
    expect(q(root, ".fv-interp-min").textContent).toBe("-6");
    expect(root.dataset.index).toBe("1");
    expect(root.dataset.value).toBe("-4");
    expect(tokenTexts(root)).toEqual([" a", " dog", " ran", "."]);
    expect(q(root, ".fv-note").textContent).toBe("");
  });

  it("accepts CSR probabilities", () => {
    const s = baseState();
    s.next_token_probs = csrTrait(PROBS);
    const { root } = mount(s);
    expect(root.querySelectorAll(".fv-line").length).toBe(3);
    expect([...root.querySelectorAll(".fv-chart-prob")].map((e) => e.textContent)).toEqual(["50.0%", "20.0%", "10.0%"]);
  });

  it("draws at most 8 lines and says how many are left out", () => {
    const s = baseState();
    const U = 11;
    s.next_token_strings = Array.from({ length: U }, (_, u) => `t${u}`);
    s.next_token_probs = denseTrait(VALUES.map(() => Array.from({ length: U }, (_, u) => (0.05 * (u + 1)) / 4)));
    s.baseline_probs = Array.from({ length: U }, () => 0.01);
    const { root } = mount(s);
    expect(root.querySelectorAll(".fv-line").length).toBe(8);
    expect(root.querySelectorAll(".fv-chart-item").length).toBe(8);
    expect(q(root, ".fv-chart-more").textContent).toContain("+3 more tokens");
  });

  it("leaves out the baseline dots when 0 is not in range", () => {
    const s = baseState();
    s.values = [1, 2, 3, 4, 5];
    const { root } = mount(s);
    expect(root.querySelectorAll(".fv-base-dot").length).toBe(0);
  });

  it("clicking the chart picks the nearest value", () => {
    const { model, root } = mount();
    const svgEl = root.querySelector<SVGSVGElement>(".fv-chart-svg")!;
    svgEl.getBoundingClientRect = () =>
      ({ left: 0, top: 0, width: 420, height: 160, right: 420, bottom: 160, x: 0, y: 0, toJSON() {} }) as DOMRect;
    const hit = root.querySelector(".fv-chart-hit")!;
    hit.dispatchEvent(new MouseEvent("click", { clientX: 410, clientY: 50, bubbles: true }));
    expect(model.state.index).toBe(4);
    hit.dispatchEvent(new MouseEvent("click", { clientX: 45, clientY: 50, bubbles: true }));
    expect(model.state.index).toBe(0);
  });

  it("hides extend buttons when ablating", () => {
    const s = baseState();
    s.mode = "ablate";
    s.values = [0];
    s.texts = ["x"];
    s.new_tokens = [[" x"]];
    s.kl = [0.1];
    s.next_token_probs = denseTrait([[0.1, 0.2, 0.3]]);
    s.index = 0;
    const { root } = mount(s);
    expect(q(root, ".fv-extend-low").style.display).toBe("none");
    expect(q(root, ".fv-extend-high").style.display).toBe("none");
    expect(q<HTMLInputElement>(root, "input.fv-slider").disabled).toBe(true);
    expect(q<HTMLButtonElement>(root, ".fv-play").disabled).toBe(true);
    expect(q(root, ".fv-interp-desc").textContent).toBe("ablate feature 1234 (set to 0) at all positions");
  });

  it("cleans up listeners and DOM on destroy", () => {
    page.expectTornDown(mount().model);
  });
});

describe("play", () => {
  it("advances index on timers and stops at the end", () => {
    vi.useFakeTimers();
    const { model, root } = mount();
    const play = q<HTMLButtonElement>(root, ".fv-play");
    play.click();
    expect(root.dataset.playing).toBe("true");
    expect(play.getAttribute("aria-pressed")).toBe("true");
    expect(root.dataset.index).toBe("2");
    vi.advanceTimersByTime(PLAY_STEP_MS);
    expect(root.dataset.index).toBe("3");
    expect(model.state.index).toBe(3);
    expect(tokenTexts(root)).toEqual(TOKENS[3]);
    vi.advanceTimersByTime(PLAY_STEP_MS);
    expect(root.dataset.index).toBe("4");
    expect(root.dataset.playing).toBe("false");
    vi.advanceTimersByTime(PLAY_STEP_MS * 5);
    expect(root.dataset.index).toBe("4");
    expect(vi.getTimerCount()).toBe(0);
    // Playing again from the end restarts at the first value.
    play.click();
    expect(root.dataset.index).toBe("0");
    vi.advanceTimersByTime(PLAY_STEP_MS);
    expect(root.dataset.index).toBe("1");
  });

  it("pauses on the button and on a slider move", () => {
    vi.useFakeTimers();
    const { root } = mount();
    const play = q<HTMLButtonElement>(root, ".fv-play");
    play.click();
    vi.advanceTimersByTime(PLAY_STEP_MS);
    play.click();
    expect(root.dataset.playing).toBe("false");
    vi.advanceTimersByTime(PLAY_STEP_MS * 3);
    expect(root.dataset.index).toBe("3");
    play.click();
    moveSlider(root, 0);
    expect(root.dataset.playing).toBe("false");
    vi.advanceTimersByTime(PLAY_STEP_MS * 3);
    expect(root.dataset.index).toBe("0");
  });

  it("stops when destroyed", () => {
    vi.useFakeTimers();
    const { root } = mount();
    q<HTMLButtonElement>(root, ".fv-play").click();
    page.unmount();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("extend, busy and error", () => {
  it("extend buttons set the extend trait", () => {
    const { model, root } = mount();
    q<HTMLButtonElement>(root, ".fv-extend-high").click();
    expect(model.state.extend).toBe("high");
    expect(model.saves).toBe(1);
    expect(q<HTMLButtonElement>(root, ".fv-extend-low").disabled).toBe(true);
    expect(q(root, ".fv-interp-status-text").textContent).toContain("higher");
    // Python: busy, compute, replace, reset.
    model.remoteSet("busy", true);
    expect(root.dataset.state).toBe("busy");
    expect(q(root, ".fv-interp-status").classList.contains("fv-show")).toBe(true);
    // The slider stays usable while Python computes.
    moveSlider(root, 1);
    expect(root.dataset.index).toBe("1");
    model.remoteSet("busy", false);
    model.remoteSet("extend", "");
    expect(root.dataset.state).toBe("ready");
    expect(q<HTMLButtonElement>(root, ".fv-extend-low").disabled).toBe(false);
    q<HTMLButtonElement>(root, ".fv-extend-low").click();
    expect(model.state.extend).toBe("low");
  });

  it("gives the buttons back when no kernel answers, and resends the same direction", () => {
    vi.useFakeTimers();
    const { model, root } = mount();
    q<HTMLButtonElement>(root, ".fv-extend-low").click();
    expect(q<HTMLButtonElement>(root, ".fv-extend-low").disabled).toBe(true);
    vi.advanceTimersByTime(EXTEND_TIMEOUT_MS);
    expect(q<HTMLButtonElement>(root, ".fv-extend-low").disabled).toBe(false);
    expect(q(root, ".fv-interp-status-text").textContent).toContain("kernel");
    model.sets = [];
    q<HTMLButtonElement>(root, ".fv-extend-low").click();
    expect(model.sets).toEqual([
      ["extend", ""],
      ["extend", "low"],
    ]);
  });

  it("shows busy from Python with disabled extend buttons", () => {
    const s = baseState();
    s.busy = true;
    const { model, root } = mount(s);
    expect(root.dataset.state).toBe("busy");
    expect(root.getAttribute("aria-busy")).toBe("true");
    expect(q<HTMLButtonElement>(root, ".fv-extend-high").disabled).toBe(true);
    q<HTMLButtonElement>(root, ".fv-extend-high").click();
    expect(model.state.extend).toBe("");
  });

  it("shows an error and keeps the rest usable", () => {
    const { model, root } = mount();
    model.remoteSet("error", `RuntimeError: ${XSS}`);
    expect(root.dataset.state).toBe("error");
    expect(q(root, ".fv-error").textContent).toBe(`RuntimeError: ${XSS}`);
    expect(root.querySelector("img")).toBeNull();
    moveSlider(root, 0);
    expect(tokenTexts(root)).toEqual(TOKENS[0]);
    model.remoteSet("error", "");
    expect(root.dataset.state).toBe("ready");
    expect(q(root, ".fv-error").textContent).toBe("");
  });

  it("says where the default sweep came from, as text", () => {
    const { model, root } = mount();
    expect(q(root, ".fv-scale-note").textContent).toBe("");
    model.remoteSet("note", `feature 3 never fires on this prompt ${XSS}`);
    expect(q(root, ".fv-scale-note").textContent).toBe(`Sweep: feature 3 never fires on this prompt ${XSS}.`);
    expect(root.querySelector("img")).toBeNull();
    model.remoteSet("note", "");
    expect(q(root, ".fv-scale-note").textContent).toBe("");
  });
});

describe("robustness", () => {
  it("shows the empty state without values", () => {
    const { root } = mount({ prompt: "p", values: [], index: 0 });
    expect(root.dataset.state).toBe("empty");
    expect(q(root, ".fv-message").textContent).toContain("No steering values");
    q<HTMLButtonElement>(root, ".fv-play").click();
    q<HTMLButtonElement>(root, ".fv-extend-high").click();
  });

  it("shows an empty model without throwing", () => {
    const { root } = mount({});
    expect(root.dataset.state).toBe("empty");
  });

  it("survives wrong lengths and bad buffers", () => {
    const s = baseState();
    s.texts = ["only one"];
    s.new_tokens = [[" a"], "not a list", null];
    s.kl = [1];
    s.baseline_probs = "nope";
    s.next_token_probs = { shape: [5, 3], format: "dense", data: f32([1, 2]) };
    const { root } = mount(s);
    expect(root.dataset.state).toBe("ready");
    const note = q(root, ".fv-note").textContent!;
    expect(note).toContain("texts has 1 entries");
    expect(note).toContain("next-token probabilities unavailable");
    expect(root.querySelectorAll(".fv-line").length).toBe(3);
    for (let i = 0; i < 5; i++) moveSlider(root, i);
    expect(q(root, ".fv-interp-kl-num").textContent).toBe("–");
    expect([...root.querySelectorAll(".fv-chart-prob")].map((e) => e.textContent)).toEqual(["–", "–", "–"]);
  });

  it("survives a probability matrix of the wrong shape and junk everywhere", () => {
    const s = baseState();
    s.next_token_probs = denseTrait([[0.5, 0.5]]);
    s.values = [1, "x", null, 3, 2];
    s.index = "two";
    s.feature = "f";
    s.mode = 7;
    s.new_tokens = { 0: ["a"] };
    s.baseline_tokens = [1, null, { a: 1 }];
    s.next_token_strings = [null, 3, " ok"];
    const { root } = mount(s);
    expect(root.dataset.index).toBe("0");
    const note = q(root, ".fv-note").textContent!;
    expect(note).toContain("shape 1×2");
    expect(note).toContain("not in ascending order");
    for (let i = 0; i < 5; i++) moveSlider(root, i);
    expect(root.dataset.index).toBe("4");
  });

  it("renders untrusted strings as text only", () => {
    const s = baseState();
    s.prompt = XSS;
    s.mode = XSS;
    s.positions = XSS;
    s.new_tokens = TOKENS.map(() => [XSS, " ok"]);
    s.texts = TOKENS.map(() => XSS);
    s.baseline_tokens = [XSS];
    s.baseline_text = XSS;
    s.next_token_strings = [XSS, "<script>alert(1)</script>", "<b>x</b>"];
    const { root } = mount(s);
    expect(root.querySelector("img")).toBeNull();
    expect(root.querySelector("script")).toBeNull();
    expect(root.querySelector("b")).toBeNull();
    expect(tokenTexts(root)[0]).toBe(XSS);
    expect(q(root, ".fv-generated .fv-prompt").textContent).toBe(XSS);
    expect(root.querySelector(".fv-chart-token")!.textContent).toContain("<img");
  });

  it("falls back to the text when a row has no tokens", () => {
    const s = baseState();
    s.new_tokens = [];
    const { root } = mount(s);
    moveSlider(root, 0);
    expect(tokenTexts(root)).toEqual([TOKENS[0].join("")]);
    expect(diffFlags(root)).toEqual([true]);
    moveSlider(root, 2);
    expect(diffFlags(root)).toEqual([false]);
  });

  it("reads traits directly", () => {
    const d = readInterpolation(new FakeModel(baseState()));
    expect(d.values).toEqual(VALUES);
    expect(d.probs[4][0]).toBeCloseTo(0.9);
    expect(d.hasProbs).toBe(true);
    expect(d.warnings).toEqual([]);
  });
});

describe("inputs that change (issue 23: never one feature's steering under another's number)", () => {
  const NEW_TEXTS = VALUES.map((v) => ` new ${v}`);
  const steered = (): Record<string, unknown> => ({
    ...baseState(),
    computed_for: { prompt: "Once upon a time", feature: 1234, mode: "add", positions: "all" },
  });

  /** What Python sends after re-steering feature 42 (one message: computed_for comes with the texts). */
  function pythonResult(model: FakeModel, feature: number): void {
    Object.assign(model.state, {
      texts: NEW_TEXTS,
      new_tokens: NEW_TEXTS.map((t) => [t]),
      computed_for: { prompt: "Once upon a time", feature, mode: "add", positions: "all" },
    });
    for (const t of ["texts", "new_tokens", "computed_for"]) model.emit(`change:${t}`);
  }

  it("a linked feature change shows 'computing', keeps naming the steered feature, then shows the new result", () => {
    const { model, root } = mount(steered());
    model.remoteSet("feature", 42); // fv.link: the heatmap selected feature 42, Python is steering it
    expect(q(root, ".fv-interp-desc").textContent).toBe("add feature 1234 × value at all positions");
    expect(tokenTexts(root)).toEqual(TOKENS[2]); // still feature 1234's texts, under feature 1234's name
    expect(root.dataset.state).toBe("busy");
    expect(root.classList.contains("fv-stale")).toBe(true);
    expect(root.getAttribute("aria-busy")).toBe("true");
    expect(root.dataset.feature).toBe("1234");
    expect(root.dataset.requested).toBe("42");
    expect(q(root, ".fv-interp-status").textContent).toContain("feature 42");
    expect(q<HTMLButtonElement>(root, ".fv-extend-high").disabled).toBe(true);
    model.remoteSet("busy", true);
    pythonResult(model, 42);
    model.remoteSet("busy", false);
    expect(q(root, ".fv-interp-desc").textContent).toBe("add feature 42 × value at all positions");
    expect(tokenTexts(root)).toEqual([NEW_TEXTS[2]]);
    expect(root.dataset.state).toBe("ready");
    expect(root.classList.contains("fv-stale")).toBe(false);
    expect(root.dataset.feature).toBe("42");
  });

  it("a prompt or mode change is stale too until its result arrives", () => {
    const { model, root } = mount(steered());
    model.remoteSet("prompt", "Another prompt");
    expect(q(root, ".fv-interp-prompt-head").textContent).toBe("“Once upon a time”");
    expect(q(root, ".fv-interp-status").textContent).toContain("the new prompt");
    model.remoteSet("prompt", "Once upon a time");
    model.remoteSet("mode", "clamp");
    expect(q(root, ".fv-interp-desc").textContent).toBe("add feature 1234 × value at all positions");
    expect(root.dataset.state).toBe("busy");
  });

  it("states saved before computed_for existed still show", () => {
    const { model, root } = mount(baseState()); // no computed_for
    model.remoteSet("feature", 42); // nothing to compare with: shown as it comes
    expect(root.dataset.state).toBe("ready");
    expect(q(root, ".fv-interp-desc").textContent).toBe("add feature 42 × value at all positions");
  });

  it("in an export (no kernel) a new feature says plainly it needs a kernel, with no stale texts", () => {
    const model = new LocalModel(steered(), {});
    page.render(model);
    const root = page.el.querySelector<HTMLElement>(".fv-interpolation")!;
    for (const b of [".fv-extend-low", ".fv-extend-high"]) {
      expect(q<HTMLButtonElement>(root, b).disabled).toBe(true);
      expect(q<HTMLButtonElement>(root, b).title).toMatch(/needs a running Python kernel.*exported file/);
    }
    expect(root.dataset.state).toBe("ready");
    model.set("feature", 42); // the export's link: a heatmap column was clicked
    model.save_changes();
    expect(root.dataset.state).toBe("unavailable");
    expect(q(root, ".fv-interp-body").style.display).toBe("none");
    expect(q(root, ".fv-message").textContent).toMatch(/^Steering feature 42 needs a running Python kernel/);
    expect(q(root, ".fv-message").textContent).toContain("only the steering of feature 1234");
    expect(root.textContent).not.toMatch(/is the kernel running/);
    model.set("feature", 1234); // back to the exported feature: its steering shows again
    expect(root.dataset.state).toBe("ready");
    expect(tokenTexts(root)).toEqual(TOKENS[2]);
  });
});
