import { describe, expect, it, vi } from "vitest";
import { tickIndices } from "../src/lib/checkpoint-controls";
import { MAX_SCROLL_EXTENT } from "../src/lib/grid-layout";
import { nearestIndex as nearest } from "../src/lib/numbers";
import { readScrubber } from "../src/lib/scrubber-data";
import { createScrubberView, PLAY_STEP_MS, type ScrubberView } from "../src/lib/scrubber-view";
import widget from "../src/scrubber";
import { csrTrait, denseTrait, FakeModel, f32, mouse, widgetPage } from "./helpers";

const XSS = "<img src=x onerror=alert(1)>";
const C = 3;
const T = 4;
const F = 3;

/** Frame c: token t, feature f -> distinct values; feature 2 only forms in the last checkpoint. */
function frameRows(): number[][] {
  const rows: number[][] = [];
  for (let c = 0; c < C; c++) {
    for (let t = 0; t < T; t++) {
      rows.push([(c + 1) * 0.25 * (t === 0 ? 1 : 0), t === c ? 0.5 : 0, c === C - 1 && t === 3 ? 1 : 0]);
    }
  }
  return rows;
}

function baseState(): Record<string, unknown> {
  return {
    labels: ["1.00M tokens", "2.00M tokens", "4.00M tokens"],
    x_values: [1e6, 2e6, 4e6],
    x_label: "training tokens",
    tokens: ["<bos>", " The", XSS, "\n"],
    prompt_lengths: [2, 2],
    feature_ids: [11, 42, 7],
    frames: denseTrait(frameRows()),
    match_cosine: denseTrait([
      [0.2, 0.9, 0.1],
      [0.6, 0.95, 0.3],
      [1, 1, 1],
    ]),
    metrics: { l0: [40, 25, 18], explained_variance: [0.5, 0.7, 0.8], inactive_fraction: [0.1, 0.05, 0.02] },
    vmin: 0,
    vmax: 1,
    title: "Features forming",
    index: 2,
    selected_feature: 11,
  };
}

// Geometry: gutter 120, header 56 + 8 (cosine strip), cells 12 x 14.
const GUTTER = 120;
const HEADER = 64;
const cellX = (col: number) => GUTTER + col * 12 + 6;
const cellY = (row: number) => HEADER + row * 14 + 7;

let view: ScrubberView | undefined;
// The view itself (tests read its data() and currentFrame()); unmount destroys it.
const page = widgetPage(
  {
    render({ model, el }) {
      const v = createScrubberView(model, el);
      view = v;
      return () => {
        v.destroy();
        view = undefined;
      };
    },
  },
  ".fv-scrubber",
  { canvas: true },
);

function mount(state = baseState()) {
  const { model, root } = page.mount(state);
  const canvas = root.querySelector<HTMLCanvasElement>(".fv-heatmap-canvas")!;
  const slider = root.querySelector<HTMLInputElement>("input.fv-slider")!;
  const play = root.querySelector<HTMLButtonElement>(".fv-play")!;
  return { model, root, canvas, slider, play, view: view! };
}

function cellFills(): string[] {
  // Fill colours of cell-sized rects (12 x 14), in drawing order.
  return page.canvas.calls
    .filter((c) => c.name === "fillRect" && c.args[2] === 12 && c.args[3] === 14)
    .map((c) => `${c.args[0]},${c.args[1]}:${String(c.fillStyle)}`);
}

describe("scrubber render()", () => {
  it("renders the header, slider, heatmap, metrics and trajectory", () => {
    const { root, canvas, slider, play } = mount();
    expect(root.dataset.state).toBe("ready");
    expect(root.dataset.index).toBe("2");
    expect(root.dataset.checkpoints).toBe("3");
    expect(canvas).toBeTruthy();
    expect(slider.max).toBe("2");
    expect(slider.value).toBe("2");
    expect(play.textContent).toContain("play");
    // Jupyter's arrow-key shortcuts must not steal the keys from a focused slider.
    expect(slider.dataset.lmSuppressShortcuts).toBe("true");
    expect(page.el.querySelector(".fv-title")?.textContent).toBe("Features forming");
    expect(page.el.querySelector(".fv-scrub-label")?.textContent).toContain("4.00M tokens");
    const ticks = Array.from(page.el.querySelectorAll(".fv-tick-label")).map((t) => t.textContent);
    expect(ticks).toEqual(["1.00M tokens", "2.00M tokens", "4.00M tokens"]);
    const metrics = Array.from(page.el.querySelectorAll<HTMLElement>(".fv-metric"));
    expect(metrics.map((m) => m.dataset.metric)).toEqual(["l0", "explained_variance", "inactive_fraction"]);
    expect(metrics[0].querySelectorAll(".fv-point").length).toBe(3);
    expect(metrics[0].querySelector(".fv-cursor")?.getAttribute("x1")).toBeTruthy();
    expect(page.el.querySelector(".fv-trajectory .fv-panel-title")?.textContent).toContain("#11");
    expect(page.el.querySelectorAll(".fv-traj-activation .fv-line").length).toBe(2);
    expect(page.el.querySelectorAll(".fv-traj-cosine .fv-point").length).toBe(3);
    // Cells, labels and the cosine strip were drawn.
    expect(cellFills().length).toBeGreaterThan(0);
    expect(page.canvas.calls.some((c) => c.name === "fillText" && c.args[0] === "·The")).toBe(true);
    expect(page.canvas.calls.some((c) => c.name === "fillRect" && c.args[1] === 0 && c.args[3] === 6)).toBe(true);
  });

  it("works through the anywidget entry point", () => {
    const model = new FakeModel(baseState());
    const dispose = widget.render({ model, el: page.el });
    expect(page.el.querySelector<HTMLElement>(".fv-scrubber")?.dataset.state).toBe("ready");
    dispose();
    expect(page.el.querySelector(".fv-scrubber")).toBeNull();
    expect(model.listenerCount()).toBe(0);
  });

  it("decodes frames once and switches frames from the slider", () => {
    const { model, root, slider, view } = mount();
    const decoded = view.data()!;
    const last = Array.from(view.currentFrame()!);
    expect(last).toEqual(frameRows().slice(8, 12).flat());
    const before = cellFills();
    page.canvas.calls.length = 0;

    slider.value = "0";
    slider.dispatchEvent(new Event("input"));
    expect(model.state.index).toBe(0);
    expect(model.saves).toBeGreaterThan(0);
    expect(root.dataset.index).toBe("0");
    expect(page.el.querySelector(".fv-scrub-label")?.textContent).toContain("1.00M tokens");
    expect(Array.from(view.currentFrame()!)).toEqual(frameRows().slice(0, 4).flat());
    expect(Number(root.dataset.frameMs)).toBeGreaterThanOrEqual(0);
    // The frame drawn changed, the decoded data did not.
    expect(cellFills()).not.toEqual(before);
    expect(view.data()).toBe(decoded);
    expect(view.currentFrame()!.buffer).toBe(decoded.dense!.buffer);
    // Cursor of the metric charts follows.
    expect(page.el.querySelector<HTMLElement>(".fv-metric")?.dataset.index).toBe("0");
  });

  it("follows index changes from Python and clamps bad values", () => {
    const { model, root, view } = mount();
    model.remoteSet("index", 1);
    expect(root.dataset.index).toBe("1");
    expect(Array.from(view.currentFrame()!)).toEqual(frameRows().slice(4, 8).flat());
    model.remoteSet("index", 99);
    expect(root.dataset.index).toBe("2");
    expect(model.saves).toBe(0);
  });

  it("plays through checkpoints with a timer and stops at the last", () => {
    vi.useFakeTimers();
    const { model, root, play, slider } = mount();
    slider.value = "0";
    slider.dispatchEvent(new Event("input"));
    play.click();
    expect(root.dataset.playing).toBe("true");
    expect(play.textContent).toContain("pause");
    vi.advanceTimersByTime(PLAY_STEP_MS + 5);
    expect(root.dataset.index).toBe("1");
    expect(model.state.index).toBe(1);
    vi.advanceTimersByTime(PLAY_STEP_MS);
    expect(root.dataset.index).toBe("2");
    expect(root.dataset.playing).toBe("false");
    vi.advanceTimersByTime(PLAY_STEP_MS * 3);
    expect(root.dataset.index).toBe("2");
    // At the end, play starts again from the first checkpoint; pause stops it.
    play.click();
    expect(root.dataset.index).toBe("0");
    play.click();
    expect(root.dataset.playing).toBe("false");
    vi.advanceTimersByTime(PLAY_STEP_MS * 3);
    expect(root.dataset.index).toBe("0");
  });

  it("clicking a column selects its feature and plots its trajectory", () => {
    const { model, root, canvas } = mount();
    mouse(canvas, "click", cellX(2), cellY(1));
    expect(model.state.selected_feature).toBe(7);
    expect(model.saves).toBe(1);
    expect(root.dataset.selectedFeature).toBe("7");
    expect(page.el.querySelector(".fv-trajectory .fv-panel-title")?.textContent).toContain("#7");
    // Max of feature 7 per checkpoint: 0, 0, 1.
    const act = page.el.querySelector(".fv-traj-activation")!;
    expect(act.querySelector(".fv-mini-readout")?.textContent).toContain("max 1");
    // Header click works too.
    mouse(canvas, "click", cellX(1), 20);
    expect(model.state.selected_feature).toBe(42);
    // Python may select as well.
    model.remoteSet("selected_feature", 11);
    expect(root.dataset.selectedFeature).toBe("11");
  });

  it("clicking a metric point jumps to that checkpoint", () => {
    const { model, root } = mount();
    const point = page.el.querySelector<SVGElement>('.fv-metric[data-metric="l0"] .fv-point[data-index="1"]')!;
    point.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(root.dataset.index).toBe("1");
    expect(model.state.index).toBe(1);
    const r = (i: number) =>
      page.el.querySelector(`.fv-metric[data-metric="l0"] .fv-point[data-index="${i}"]`)?.getAttribute("r");
    expect([r(0), r(1), r(2)]).toEqual(["2", "3.5", "2"]);
    page.el.querySelector<HTMLElement>('.fv-tick-label[data-index="0"]')!.click();
    expect(root.dataset.index).toBe("0");
  });

  it("shows token, feature, value and match cosine on hover; untrusted tokens stay text", () => {
    const { canvas } = mount();
    const tooltip = page.el.querySelector<HTMLElement>(".fv-tooltip")!;
    mouse(canvas, "mousemove", cellX(0), cellY(0));
    expect(tooltip.style.display).toBe("block");
    expect(tooltip.textContent).toContain("#11");
    expect(tooltip.textContent).toContain("value0.75");
    expect(tooltip.textContent).toContain("match cos1");
    mouse(canvas, "mousemove", cellX(1), cellY(2));
    expect(tooltip.textContent).toContain("<img·src=x·onerror=alert(1)>");
    expect(page.el.querySelector("img")).toBeNull();
    mouse(canvas, "mouseleave", 0, 0);
    expect(tooltip.style.display).toBe("none");
    // Labels with markup stay text too.
    page.unmount();
    mount({ ...baseState(), labels: [XSS, "b", "c"], title: XSS, metrics: { [XSS]: [1, 2, 3] } });
    expect(page.el.querySelector("img")).toBeNull();
    expect(page.el.querySelector(".fv-title")?.textContent).toBe(XSS);
  });

  it("caps the scroll spacer for very long prompts and keeps the last token reachable", () => {
    // 600,000 tokens x 14 px = 8.4M px: past MAX_SCROLL_EXTENT (the token grid scales scrolling).
    const n = 600_000;
    const { canvas } = mount({
      ...baseState(),
      labels: ["only"],
      x_values: [1],
      tokens: new Array(n).fill(" tok"),
      prompt_lengths: [n],
      feature_ids: [5],
      frames: { shape: [n, 1], format: "dense", data: new Float32Array(n) },
      match_cosine: undefined,
      metrics: {},
      index: 0,
      selected_feature: -1,
    });
    const scroller = page.el.querySelector<HTMLElement>(".fv-scroll")!;
    expect(page.el.querySelector<HTMLElement>(".fv-spacer")!.style.height).toBe(`${MAX_SCROLL_EXTENT}px`);
    scroller.scrollTop = MAX_SCROLL_EXTENT - 480;
    scroller.dispatchEvent(new Event("scroll"));
    mouse(canvas, "mousemove", cellX(0), 480 - 7);
    expect(page.el.querySelector(".fv-tooltip")?.textContent).toContain(`${n - 1} of ${n}`);
  });

  it("shows an error state for a truncated frames buffer without throwing", () => {
    const state = baseState();
    const frames = denseTrait(frameRows());
    frames.data = f32(frameRows().flat().slice(0, 20));
    const { root } = mount({ ...state, frames });
    expect(root.dataset.state).toBe("error");
    expect(page.el.querySelector(".fv-message")?.textContent).toMatch(/frames/);
    expect(page.el.querySelector<HTMLElement>(".fv-scroll")!.style.display).toBe("none");
  });

  it("shows an error when frames do not split into checkpoints x tokens", () => {
    const { root, model } = mount({ ...baseState(), tokens: ["a", "b", "c"], prompt_lengths: [3] });
    expect(root.dataset.state).toBe("error");
    expect(page.el.querySelector(".fv-message")?.textContent).toContain("3 checkpoints × 3 tokens");
    // A fixed payload from Python recovers the view.
    model.remoteSet("tokens", ["a", "b", "c", "d"]);
    model.remoteSet("prompt_lengths", [4]);
    view!.flush();
    expect(root.dataset.state).toBe("ready");
  });

  it("survives garbage traits", () => {
    const { root } = mount({
      ...baseState(),
      frames: { shape: [12, 3], format: "csr", data: f32([1]), indices: "x", indptr: null },
    });
    expect(root.dataset.state).toBe("error");
    page.unmount();
    const m2 = mount({
      ...baseState(),
      match_cosine: { shape: [2, 2], data: f32([1, 2, 3, 4]) },
      metrics: { l0: [1], bad: "nope" },
      x_values: [3, 2, 1],
    });
    expect(m2.root.dataset.state).toBe("ready");
    expect(page.el.querySelector(".fv-note")?.textContent).toContain("match_cosine");
    expect(page.el.querySelectorAll(".fv-metric").length).toBe(1);
    expect(m2.view.data()!.xIsIndex).toBe(true);
  });

  it("shows an empty state with no checkpoints", () => {
    const { root } = mount({
      ...baseState(),
      labels: [],
      x_values: [],
      frames: { shape: [0, 3], format: "dense", data: f32([]) },
      match_cosine: { shape: [0, 3], format: "dense", data: f32([]) },
      metrics: {},
      index: 0,
    });
    expect(root.dataset.state).toBe("empty");
  });
});

describe("scrubber theme", () => {
  it("follows dark and light notebook themes", async () => {
    // happy-dom does not inherit custom properties, so they go on the root itself.
    const { root } = mount();
    expect(root.dataset.theme).toBe("light");
    const switchTheme = async () => {
      document.body.classList.toggle("fv-theme-switch");
      await new Promise((r) => setTimeout(r, 30));
      view!.flush();
    };
    root.style.setProperty("--jp-layout-color0", "#111111");
    root.style.setProperty("--jp-ui-font-color1", "rgb(240, 240, 240)");
    page.canvas.calls.length = 0;
    await switchTheme();
    expect(root.dataset.theme).toBe("dark");
    expect(page.canvas.calls.some((c) => c.name === "fillRect" && c.fillStyle === "rgb(17,17,17)")).toBe(true);
    root.style.removeProperty("--jp-layout-color0");
    root.style.removeProperty("--jp-ui-font-color1");
    await switchTheme();
    expect(root.dataset.theme).toBe("light");
    expect(page.canvas.calls.some((c) => c.name === "fillRect" && c.fillStyle === "rgb(255,255,255)")).toBe(true);
  });
});

describe("scrubber data", () => {
  it("decodes CSR frames like dense ones, with per-checkpoint column stats", () => {
    const dense = readScrubber(new FakeModel(baseState()));
    const sparse = readScrubber(new FakeModel({ ...baseState(), frames: csrTrait(frameRows()) }));
    expect(dense.ok && sparse.ok).toBe(true);
    if (!dense.ok || !sparse.ok) return;
    expect(Array.from(sparse.data.dense!)).toEqual(Array.from(dense.data.dense!));
    // Feature 11 (column 0) max per checkpoint: 0.25, 0.5, 0.75; mean = max / 4.
    expect(Array.from([0, 1, 2].map((c) => dense.data.colMax[c * F]))).toEqual([0.25, 0.5, 0.75]);
    expect(dense.data.colMean[2 * F]).toBeCloseTo(0.75 / T);
    expect(dense.data.cosine[0 * F + 1]).toBeCloseTo(0.9);
    expect(dense.data.x).toEqual([1e6, 2e6, 4e6]);
  });

  it("spreads slider ticks without crowding the last", () => {
    expect(tickIndices(3, 7)).toEqual([0, 1, 2]);
    expect(tickIndices(10, 7)).toEqual([0, 2, 4, 6, 9]);
    expect(tickIndices(100, 7)).toEqual([0, 17, 34, 51, 68, 85, 99]);
    expect(tickIndices(1, 7)).toEqual([0]);
    expect(tickIndices(0, 7)).toEqual([]);
  });

  it("nearest picks the closest x", () => {
    expect(nearest([0, 10, 20], 12)).toBe(1);
    expect(nearest([], 1)).toBe(-1);
  });
});
