import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import widget from "../src/heatmap";
import { formatUncertain, formatValue } from "../src/lib/format";
import { MAX_SCROLL_EXTENT, toContentScroll, toScrollerScroll } from "../src/lib/grid-layout";
import { type CtxCall, denseTrait, FakeModel, mouse, tick, widgetPage } from "./helpers";
import { u8Payload } from "./quantised";

const XSS = "<img src=x onerror=alert(1)>";
// 6 tokens (2 prompts) x 3 features.
const ROWS = [
  [0, 0.5, 0.9],
  [0.1, 0, 0.9],
  [0, 0, 0.9],
  [0, 0.25, 0.9],
  [0.75, 0, 0.9],
  [0, 1, 0.9],
];

function baseState(): Record<string, unknown> {
  return {
    matrix: denseTrait(ROWS),
    tokens: ["<bos>", " The", " cat", "\n", XSS, " sat"],
    prompt_lengths: [3, 3],
    prompt_groups: ["happy", "angry"],
    feature_ids: [101, 7, 55],
    feature_labels: ["", "dog", ""],
    column_stats: { max: [0.75, 1, 0.9], mean: [0.14, 0.29, 0.9], count: [2, 3, 6] },
    always_on: [false, false, true],
    vmin: 0,
    vmax: 1,
    sort_by: "index",
    hide_always_on: false,
    transpose: false,
    selected_feature: -1,
    title: "Test heatmap",
  };
}

// Geometry with groups: gutter = 64 (group names) + 8 (strip) + 120 (labels).
const GUTTER = 192;
// Feature 7 has a label ("dog"): the header grows to fit "7 dog" rotated.
const HEADER = 104;
const PLAIN_HEADER = 56;
const CW = 12;
const CH = 14;

const page = widgetPage(widget, ".fv-heatmap", { canvas: true });

function mount(state = baseState()) {
  const { model, root } = page.mount(state);
  const canvas = page.el.querySelector<HTMLCanvasElement>(".fv-heatmap-canvas")!;
  return { model, root, canvas };
}

const cellX = (lane: number) => GUTTER + lane * CW + CW / 2;
const cellY = (row: number) => HEADER + row * CH + CH / 2;

describe("heatmap render()", () => {
  it("renders the DOM hooks and geometry", () => {
    const { root, canvas } = mount();
    expect(root).toBeTruthy();
    expect(canvas).toBeTruthy();
    expect(page.el.querySelector(".fv-tooltip")).toBeTruthy();
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.cellWidth).toBe(String(CW));
    expect(root.dataset.cellHeight).toBe(String(CH));
    expect(root.dataset.gutterWidth).toBe(String(GUTTER));
    expect(root.dataset.headerHeight).toBe(String(HEADER));
    // sort_by "index": ascending feature id.
    expect(root.dataset.visibleColumns).toBe("7,55,101");
    expect(page.el.querySelector(".fv-title")?.textContent).toBe("Test heatmap");
    expect(Number(page.el.dataset.firstPaintMs)).toBeGreaterThanOrEqual(0);
    expect(performance.getEntriesByName("featureviz:heatmap:first-paint").length).toBeGreaterThan(0);
    // Cells were drawn and labels painted through fillText.
    expect(page.canvas.calls.some((c) => c.name === "fillRect")).toBe(true);
    expect(page.canvas.calls.some((c) => c.name === "fillText" && c.args[0] === "·The")).toBe(true);
    expect(page.canvas.calls.some((c) => c.name === "fillText" && c.args[0] === "happy")).toBe(true);
  });

  it("shows a tooltip on hover and hides it on mouse leave", () => {
    const { canvas } = mount();
    const tooltip = page.el.querySelector<HTMLElement>(".fv-tooltip")!;
    // Row 4 is the XSS token (prompt 1, position 1); lane 2 is feature 101.
    mouse(canvas, "mousemove", cellX(2), cellY(4));
    expect(tooltip.style.display).toBe("block");
    const text = tooltip.textContent ?? "";
    expect(text).toContain("<img·src=x·onerror=alert(1)>");
    expect(text).toContain("#101");
    expect(text).toContain("1 · angry");
    expect(text).toContain("1 of 3");
    expect(text).toContain("0.75");
    // Lane 0 is feature 7, labelled "dog"; row 5 has value 1.
    mouse(canvas, "mousemove", cellX(0), cellY(5));
    expect(tooltip.textContent).toContain("#7 dog");
    expect(tooltip.textContent).toContain("value1");
    // Whitespace visible for a newline token (row 3, lane 1 -> feature 55).
    mouse(canvas, "mousemove", cellX(1), cellY(3));
    expect(tooltip.textContent).toContain("↵");
    expect(tooltip.textContent).toContain("#55");
    mouse(canvas, "mouseleave", 0, 0);
    expect(tooltip.style.display).toBe("none");
  });

  it("never creates elements from token text", () => {
    const { canvas } = mount();
    mouse(canvas, "mousemove", cellX(0), cellY(4));
    mouse(canvas, "mousemove", 10, cellY(4)); // gutter
    expect(page.el.querySelectorAll("img").length).toBe(0);
    expect(document.querySelectorAll("img").length).toBe(0);
    // The tooltip only contains our own structural elements.
    const tags = new Set(Array.from(page.el.querySelectorAll(".fv-tooltip *")).map((n) => n.tagName));
    expect([...tags].every((t) => t === "DIV" || t === "SPAN")).toBe(true);
  });

  it("selects a feature on click via model.set + save_changes", () => {
    const { model, canvas } = mount();
    mouse(canvas, "click", cellX(1), cellY(2));
    expect(model.get("selected_feature")).toBe(55);
    expect(model.saves).toBe(1);
    // Clicking the selected column again keeps it selected (no toggle).
    mouse(canvas, "click", cellX(1), cellY(0));
    expect(model.get("selected_feature")).toBe(55);
    // Header click selects too.
    mouse(canvas, "click", cellX(2), 10);
    expect(model.get("selected_feature")).toBe(101);
    expect(model.saves).toBe(2);
    // Gutter/corner clicks select nothing.
    mouse(canvas, "click", 10, cellY(1));
    mouse(canvas, "click", 10, 10);
    expect(model.get("selected_feature")).toBe(101);
    expect(model.saves).toBe(2);
  });

  it("redraws and highlights when Python changes selected_feature", async () => {
    const { model, root } = mount();
    await tick();
    page.canvas.calls.length = 0;
    model.remoteSet("selected_feature", 101);
    await tick();
    expect(root.dataset.selectedFeature).toBe("101");
    expect(root.dataset.selectedLane).toBe("2");
    const outline = page.canvas.calls.find(
      (c: CtxCall) => c.name === "strokeRect" && c.args[0] === GUTTER + 2 * CW + 1 && c.args[1] === HEADER + 1,
    );
    expect(outline).toBeTruthy();
    model.remoteSet("selected_feature", 99999); // unknown feature: no highlight, no error
    await tick();
    expect(root.dataset.selectedLane).toBe("-1");
  });

  it("scrolls a selected feature into view", async () => {
    const n = 400;
    const state = baseState();
    state.matrix = { shape: [2, n], format: "dense", data: new Float32Array(2 * n) };
    state.tokens = ["a", "b"];
    state.prompt_lengths = [2];
    state.prompt_groups = [""];
    state.feature_ids = Array.from({ length: n }, (_, i) => i);
    state.feature_labels = Array(n).fill("");
    state.column_stats = undefined;
    state.always_on = Array(n).fill(false);
    const { model, root } = mount(state);
    const scroller = page.el.querySelector<HTMLElement>(".fv-scroll")!;
    expect(root.dataset.visibleColumns?.split(",")[0]).toBe("0");
    model.remoteSet("selected_feature", 350);
    await tick();
    expect(scroller.scrollLeft).toBeGreaterThan(0);
    expect(root.dataset.visibleColumns?.split(",")).toContain("350");
  });

  it("binds the toolbar controls to two-way traits", async () => {
    const { model, root } = mount();
    const select = page.el.querySelector<HTMLSelectElement>("select.fv-sort-by")!;
    select.value = "max";
    select.dispatchEvent(new Event("change"));
    expect(model.get("sort_by")).toBe("max");
    expect(model.saves).toBe(1);
    await tick();
    expect(root.dataset.visibleColumns).toBe("7,55,101");
    model.remoteSet("sort_by", "count");
    await tick();
    expect(select.value).toBe("count");
    expect(root.dataset.visibleColumns).toBe("55,7,101");

    const hide = page.el.querySelector<HTMLInputElement>("input.fv-hide-always-on")!;
    expect(hide.disabled).toBe(false);
    hide.checked = true;
    hide.dispatchEvent(new Event("change"));
    expect(model.get("hide_always_on")).toBe(true);
    await tick();
    expect(root.dataset.visibleColumns).toBe("7,101");

    const transpose = page.el.querySelector<HTMLInputElement>("input.fv-transpose")!;
    transpose.checked = true;
    transpose.dispatchEvent(new Event("change"));
    expect(model.get("transpose")).toBe(true);
    await tick();
    expect(root.dataset.transpose).toBe("true");
    expect(root.dataset.visibleColumns).toBe("7,101");
    expect(Number(root.dataset.headerHeight)).toBeGreaterThan(HEADER);
  });

  it("disables hide-always-on when no feature is always on", async () => {
    const state = baseState();
    state.always_on = [false, false, false];
    mount(state);
    const hide = page.el.querySelector<HTMLInputElement>("input.fv-hide-always-on")!;
    expect(hide.disabled).toBe(true);
    expect(hide.closest("label")?.classList.contains("fv-disabled")).toBe(true);
  });

  it("supports transposed hover and click", async () => {
    const state = baseState();
    state.transpose = true;
    state.prompt_groups = ["", ""];
    const { model, canvas, root } = mount(state);
    const gutter = Number(root.dataset.gutterWidth);
    const header = Number(root.dataset.headerHeight);
    // Rows are features (7, 55, 101), columns are tokens.
    mouse(canvas, "mousemove", gutter + 4 * CW + 6, header + 2 * CH + 7);
    expect(page.el.querySelector(".fv-tooltip")?.textContent).toContain("#101");
    expect(page.el.querySelector(".fv-tooltip")?.textContent).toContain("<img·src");
    expect(page.el.querySelector(".fv-tooltip")?.textContent).toContain("0.75");
    mouse(canvas, "click", 20, header + 1 * CH + 7); // feature label in the gutter
    expect(model.get("selected_feature")).toBe(55);
  });

  it("shows a message for malformed or empty data and recovers", async () => {
    const state = baseState();
    state.matrix = { shape: [6, 3], format: "dense", data: new Uint8Array(10) };
    const { model, root } = mount(state);
    const message = page.el.querySelector<HTMLElement>(".fv-message")!;
    expect(root.dataset.state).toBe("error");
    expect(message.textContent).toMatch(/Cannot show heatmap/);
    expect(page.el.querySelector<HTMLElement>(".fv-scroll")!.style.display).toBe("none");
    model.remoteSet("matrix", denseTrait(ROWS));
    await tick();
    expect(root.dataset.state).toBe("ready");
    expect(message.style.display).toBe("none");
    model.remoteSet("matrix", { shape: [0, 3], format: "dense", data: new ArrayBuffer(0) });
    model.remoteSet("tokens", []);
    model.remoteSet("prompt_lengths", []);
    await tick();
    expect(root.dataset.state).toBe("empty");
    expect(message.textContent).toMatch(/Nothing to show/);
  });

  it("tolerates inconsistent auxiliary traits", () => {
    const state = baseState();
    state.tokens = ["only one"];
    state.prompt_lengths = [2, 2];
    state.feature_ids = "nonsense";
    state.column_stats = null;
    state.vmin = "x";
    const { root } = mount(state);
    expect(root.dataset.state).toBe("ready");
    expect(page.el.querySelector(".fv-note")?.textContent).toMatch(/tokens has 1 entries/);
  });

  it("cleans up listeners and DOM", () => {
    page.expectTornDown(mount().model);
  });

  it("draws only the visible window of 2048 tokens x 512 features", () => {
    const nR = 2048;
    const nC = 512;
    const data = new Float32Array(nR * nC);
    for (let i = 0; i < data.length; i += 7) data[i] = (i % 13) / 13;
    const state = baseState();
    state.matrix = { shape: [nR, nC], format: "dense", data: new DataView(data.buffer) };
    state.tokens = Array.from({ length: nR }, (_, i) => ` t${i}`);
    state.prompt_lengths = Array(16).fill(128);
    state.prompt_groups = Array.from({ length: 16 }, (_, i) => ["happy", "angry", ""][i % 3]);
    state.feature_ids = Array.from({ length: nC }, (_, i) => i * 3);
    state.feature_labels = Array(nC).fill("");
    state.column_stats = undefined;
    state.always_on = Array(nC).fill(false);
    const { root } = mount(state);
    const rects = page.canvas.calls.filter((c) => c.name === "fillRect").length;
    // Only the visible window is drawn (fallback viewport 800 x 480).
    expect(rects).toBeLessThan(5000);
    expect(root.dataset.visibleColumns!.split(",").length).toBeLessThan(60);
  });
});

// Huge heatmaps: the view paints only the visible window into a viewport-sized
// canvas, and the scroll spacer is capped (MAX_SCROLL_EXTENT) with scaled
// scrolling past the browsers' element-size limits, so hover/click stay exact.
const PLAIN_GUTTER = 120; // no groups
// Chromium: a canvas side above 32,767 px or over 268M pixels fails silently.
const MAX_CANVAS_SIDE = 32_767;
const MAX_CANVAS_PIXELS = 268_435_456;

/** A dense_u8 matrix whose value at (r, c) is code(r, c) * scale[c]. */
const code = (r: number, c: number) => (r * 7 + c * 3) % 256;

function hugeState(nTokens: number, nFeatures: number, promptLength: number, transpose = false) {
  const codes = new Uint8Array(nTokens * nFeatures);
  for (let r = 0, i = 0; r < nTokens; r++) for (let c = 0; c < nFeatures; c++, i++) codes[i] = code(r, c);
  const scale = new Float32Array(nFeatures).map((_, c) => 0.5 / (1 + (c % 4)));
  return {
    matrix: u8Payload(nTokens, nFeatures, codes, scale, new Float32Array(nFeatures)),
    scale,
    tokens: new Array(nTokens).fill(" tok"),
    prompt_lengths: new Array(nTokens / promptLength).fill(promptLength),
    prompt_groups: [],
    feature_ids: Array.from({ length: nFeatures }, (_, i) => i),
    feature_labels: new Array(nFeatures).fill(""),
    column_stats: {
      max: new Array(nFeatures).fill(1),
      mean: new Array(nFeatures).fill(0.5),
      count: new Array(nFeatures).fill(nTokens),
    },
    always_on: new Array(nFeatures).fill(false),
    vmin: 0,
    vmax: 127.5,
    sort_by: "index",
    hide_always_on: false,
    transpose,
    selected_feature: -1,
    title: "",
  };
}

function mountHuge(state: ReturnType<typeof hugeState>) {
  const model = new FakeModel(state);
  const t0 = performance.now();
  page.render(model);
  const ms = performance.now() - t0;
  const root = page.el.querySelector<HTMLElement>(".fv-heatmap")!;
  const canvas = page.el.querySelector<HTMLCanvasElement>(".fv-heatmap-canvas")!;
  const scroller = page.el.querySelector<HTMLElement>(".fv-scroll")!;
  const spacer = page.el.querySelector<HTMLElement>(".fv-spacer")!;
  return { model, root, canvas, scroller, spacer, ms };
}

async function scrollTo(scroller: HTMLElement, top: number, left = 0) {
  scroller.scrollTop = top;
  scroller.scrollLeft = left;
  scroller.dispatchEvent(new Event("scroll"));
  await tick();
}

function expectBoundedCanvas(canvas: HTMLCanvasElement) {
  expect(canvas.width).toBeGreaterThan(0);
  expect(canvas.height).toBeGreaterThan(0);
  expect(canvas.width).toBeLessThanOrEqual(MAX_CANVAS_SIDE);
  expect(canvas.height).toBeLessThanOrEqual(MAX_CANVAS_SIDE);
  expect(canvas.width * canvas.height).toBeLessThanOrEqual(MAX_CANVAS_PIXELS);
}

const tooltipText = () => page.el.querySelector(".fv-tooltip")?.textContent ?? "";
const fillRects = () => page.canvas.calls.filter((c) => c.name === "fillRect").length;

describe("huge heatmaps", () => {
  it("100,000 tokens x 512 features: paints a bounded window, hover is exact at the far end", async () => {
    const state = hugeState(100_000, 512, 100);
    const { root, canvas, scroller, spacer, ms } = mountHuge(state);
    console.info(`100k x 512 dense_u8: first paint ${ms.toFixed(0)} ms in happy-dom`);
    expect(root.dataset.state).toBe("ready");
    expect(page.el.dataset.firstPaintMs).toBeDefined();
    expectBoundedCanvas(canvas);
    expect(fillRects()).toBeLessThan(5000);
    // 1.4M px tall: under the cap, so scrolling is 1:1.
    expect(spacer.style.height).toBe(`${PLAIN_HEADER + 100_000 * CH}px`);
    page.canvas.calls.length = 0;
    await scrollTo(scroller, PLAIN_HEADER + 100_000 * CH - 480, 512 * CW + PLAIN_GUTTER - 800);
    expect(fillRects()).toBeLessThan(5000);
    expectBoundedCanvas(canvas);
    // Bottom-right visible cell: token 99,999 (prompt 999, position 99), feature 511.
    mouse(canvas, "mousemove", 800 - CW / 2, 480 - CH / 2);
    const text = tooltipText();
    expect(text).toContain("999");
    expect(text).toContain("99 of 100");
    expect(text).toContain("#511");
    const v = code(99_999, 511) * state.scale[511];
    expect(text).toContain(`value${formatUncertain(v, state.scale[511] / 2)}`);
  });

  it("10,000 tokens x 2,000 features: click selects the right feature after scrolling right", async () => {
    const { model, root, canvas, scroller } = mountHuge(hugeState(10_000, 2_000, 50));
    expectBoundedCanvas(canvas);
    await scrollTo(scroller, 0, 1_500 * CW);
    expect(root.dataset.visibleColumns!.split(",")[0]).toBe("1500");
    mouse(canvas, "click", PLAIN_GUTTER + 3 * CW + 2, 10); // header of the 4th visible column
    expect(model.get("selected_feature")).toBe(1503);
    await tick();
    expect(root.dataset.selectedLane).toBe("1503");
  });

  it("3,000,000 tokens: the spacer is capped and scrolling is scaled, every row reachable", async () => {
    const n = 3_000_000;
    const { canvas, scroller, spacer } = mountHuge(hugeState(n, 2, 100));
    const contentH = PLAIN_HEADER + n * CH; // 42M px: beyond every browser's element-size limit
    expect(spacer.style.height).toBe(`${MAX_SCROLL_EXTENT}px`);
    expectBoundedCanvas(canvas);
    // Bottom: the last token.
    await scrollTo(scroller, MAX_SCROLL_EXTENT - 480);
    mouse(canvas, "mousemove", PLAIN_GUTTER + CW / 2, 480 - CH / 2);
    expect(tooltipText()).toContain("29999"); // prompt 29,999
    expect(tooltipText()).toContain("99 of 100");
    // Middle: proportional.
    const mid = Math.round((MAX_SCROLL_EXTENT - 480) / 2);
    await scrollTo(scroller, mid);
    const top = toContentScroll(mid, contentH, MAX_SCROLL_EXTENT, 480);
    const row = Math.floor(top / CH);
    mouse(canvas, "mousemove", PLAIN_GUTTER + CW + CW / 2, PLAIN_HEADER + 1);
    expect(tooltipText()).toContain(`${Math.floor(row / 100)}`);
    expect(tooltipText()).toContain(`${row % 100} of 100`);
    expect(tooltipText()).toContain(formatValue(code(row, 1) * 0.25));
    expect(fillRects()).toBeLessThan(20_000);
  });

  it("3,000,000 tokens transposed: the horizontal spacer is capped too", async () => {
    const { canvas, scroller, spacer, root } = mountHuge(hugeState(3_000_000, 2, 100, true));
    expect(spacer.style.width).toBe(`${MAX_SCROLL_EXTENT}px`);
    expectBoundedCanvas(canvas);
    await scrollTo(scroller, 0, MAX_SCROLL_EXTENT - 800);
    const gutter = Number(root.dataset.gutterWidth);
    const header = Number(root.dataset.headerHeight);
    mouse(canvas, "mousemove", 800 - CW / 2, header + CH / 2);
    expect(tooltipText()).toContain("99 of 100");
    expect(tooltipText()).toContain("#0");
    expect(gutter).toBeGreaterThan(0);
  });
});

describe("scaled scroll mapping", () => {
  it("is the identity under the cap and maps ends to ends above it", () => {
    expect(toContentScroll(1234, 5000, 5000, 400)).toBe(1234);
    expect(toScrollerScroll(1234, 5000, 5000, 400)).toBe(1234);
    const content = 42_000_056;
    expect(toContentScroll(0, content, MAX_SCROLL_EXTENT, 480)).toBe(0);
    expect(toContentScroll(MAX_SCROLL_EXTENT - 480, content, MAX_SCROLL_EXTENT, 480)).toBe(content - 480);
    expect(toScrollerScroll(content - 480, content, MAX_SCROLL_EXTENT, 480)).toBe(MAX_SCROLL_EXTENT - 480);
    // Round trip within one scaled step.
    const k = (content - 480) / (MAX_SCROLL_EXTENT - 480);
    for (const c of [1, 777, 1_000_000, 30_000_000]) {
      const back = toContentScroll(
        toScrollerScroll(c, content, MAX_SCROLL_EXTENT, 480),
        content,
        MAX_SCROLL_EXTENT,
        480,
      );
      expect(Math.abs(back - c)).toBeLessThanOrEqual(k);
    }
  });
});

describe("codebase hygiene", () => {
  it("never uses innerHTML / outerHTML / insertAdjacentHTML", () => {
    const srcDir = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith(".ts")) files.push(p);
      }
    };
    walk(srcDir);
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const text = readFileSync(f, "utf8").replace(/^\s*\/\/.*$/gm, "");
      expect(text, f).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    }
  });
});
