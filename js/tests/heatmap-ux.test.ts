// Issue 18 item 2: the heatmap's perceptual colour ramp, normalisation options (global / per column / log,
// rescaled when columns are hidden), feature labels by id, keyboard selection and the resizable viewport.

import { describe, expect, it } from "vitest";
import widget from "../src/heatmap";
import { makeScale, parseColour, perceptualRamp, type RGB, toOklab } from "../src/lib/colour";
import { makeNormaliser } from "../src/lib/heatmap-scale";
import { labelsOf } from "../src/lib/traits";
import { denseTrait, tick, widgetPage } from "./helpers";

const WHITE: RGB = [255, 255, 255];
const DARK_BG: RGB = [17, 17, 17];

describe("perceptual ramp", () => {
  const lightness = (c: RGB) => toOklab(c)[0];
  it("starts at the background and moves steadily away from it in both themes", () => {
    for (const [bg, dark] of [
      [WHITE, false],
      [DARK_BG, true],
    ] as const) {
      const ramp = perceptualRamp(bg, dark);
      expect(ramp(0)).toEqual(bg);
      const ls = Array.from({ length: 11 }, (_, i) => lightness(ramp(i / 10)));
      // Light theme: darker with the value; dark theme: brighter. Strictly, at every step.
      for (let i = 1; i < ls.length; i++) {
        if (dark) expect(ls[i]).toBeGreaterThan(ls[i - 1]);
        else expect(ls[i]).toBeLessThan(ls[i - 1]);
      }
      // The far end is far from the page: OKLab lightness differs by more than half the range.
      expect(Math.abs(ls[10] - ls[0])).toBeGreaterThan(0.5);
    }
  });
  it("gives equal value steps similar colour steps (OKLab distance within 3x of each other)", () => {
    const ramp = perceptualRamp(WHITE, false);
    const d = (a: RGB, b: RGB) => {
      const [x, y] = [toOklab(a), toOklab(b)];
      return Math.hypot(x[0] - y[0], x[1] - y[1], x[2] - y[2]);
    };
    const steps = Array.from({ length: 10 }, (_, i) => d(ramp(i / 10), ramp((i + 1) / 10)));
    expect(Math.max(...steps) / Math.min(...steps)).toBeLessThan(3);
  });
  it("is what a perceptual scale paints; zero stays background", () => {
    const s = makeScale({ vmin: 0, vmax: 1, background: WHITE, dark: false, ramp: "perceptual" });
    expect(s.isBackground(0)).toBe(true);
    expect(parseColour(s.css(1))).toEqual(perceptualRamp(WHITE, false)(1));
  });
});

describe("normalisation", () => {
  const colMin = [0, 0, -2];
  const colMax = [10, 1, 4];
  it("global: one range over the shown columns, rescaled when one is hidden", () => {
    const all = makeNormaliser("global", colMin, colMax, [0, 1]);
    expect(all.norm(1, 1)).toBeCloseTo(0.1);
    expect(all.norm(10, 0)).toBe(1);
    const hidden = makeNormaliser("global", colMin, colMax, [1]); // the outlier column hidden
    expect(hidden.norm(1, 1)).toBe(1);
    expect(hidden.legend().max).toBe("1");
  });
  it("column: each column against its own max (and min when negative)", () => {
    const n = makeNormaliser("column", colMin, colMax, [0, 1, 2]);
    expect(n.norm(10, 0)).toBe(1);
    expect(n.norm(1, 1)).toBe(1);
    expect(n.norm(2, 2)).toBeCloseTo(0.5);
    expect(n.norm(-1, 2)).toBeCloseTo(-0.5);
    expect(n.diverging).toBe(true);
    expect(n.norm(0, 0)).toBe(0);
    expect(Number.isNaN(n.norm(NaN, 0))).toBe(true);
  });
  it("log: small values get a visible share of the ramp, order kept, ends at 1", () => {
    const n = makeNormaliser("log", colMin, colMax, [0, 1]);
    const lin = makeNormaliser("global", colMin, colMax, [0, 1]);
    expect(n.norm(10, 0)).toBeCloseTo(1);
    expect(n.norm(0.5, 1)).toBeGreaterThan(5 * lin.norm(0.5, 1));
    expect(n.norm(0.5, 1)).toBeLessThan(n.norm(1, 1));
    expect(n.norm(0, 1)).toBe(0);
  });
});

describe("feature labels by id", () => {
  it("maps a {id: label} dict (JSON keys are strings) onto the columns; lists still work", () => {
    const w: string[] = [];
    expect(labelsOf({ "7": "joy", "55": 3 }, [101, 7, 55], w)).toEqual(["", "joy", ""]);
    expect(labelsOf(["a", "b", "c"], [101, 7, 55], w)).toEqual(["a", "b", "c"]);
    expect(labelsOf(null, [1, 2], w)).toEqual(["", ""]);
    expect(w).toEqual([]);
  });
});

// 4 tokens x 3 features; feature 55 is always-on with a large max.
function state(): Record<string, unknown> {
  return {
    matrix: denseTrait([
      [0, 0.5, 40],
      [0.1, 0, 30],
      [0, 1, 35],
      [2, 0, 38],
    ]),
    tokens: [" a", " b", " c", " d"],
    prompt_lengths: [4],
    prompt_groups: [""],
    feature_ids: [101, 7, 55],
    feature_labels: {},
    column_stats: { min: [0, 0, 30], max: [2, 1, 40], mean: [0.5, 0.4, 36], count: [2, 2, 4] },
    always_on: [false, false, true],
    vmin: 0,
    vmax: 40,
    sort_by: "index",
    hide_always_on: false,
    transpose: false,
    selected_feature: -1,
    title: "",
    color_scale: "global",
    height: 300,
  };
}

const page = widgetPage(widget, ".fv-heatmap", { canvas: true });
const GUTTER = 120;
const HEADER = 56;
const CW = 12;
const CH = 14;

/** fillStyle of the cell (row, lane) in the last paint. */
function cellColour(row: number, lane: number): string | undefined {
  const calls = page.canvas.calls.filter(
    (c) => c.name === "fillRect" && c.args[0] === GUTTER + lane * CW && c.args[1] === HEADER + row * CH,
  );
  return calls.at(-1)?.fillStyle as string | undefined;
}

describe("heatmap colour scale, labels, keys and height", () => {
  it("per column makes each feature's max the ramp's end; global keeps them apart", async () => {
    const { model, root } = page.mount(state());
    // index order: lanes 7, 55, 101. Feature 7's max (1) sits at row 2; feature 101's max (2) at row 3.
    expect(root.dataset.visibleColumns).toBe("7,55,101");
    const global7 = cellColour(2, 0);
    const global55 = cellColour(0, 1);
    expect(global7).not.toBe(global55); // 1 vs 40 on one range
    model.remoteSet("color_scale", "column");
    await tick();
    expect(cellColour(2, 0)).toBe(cellColour(0, 1));
    expect(cellColour(3, 2)).toBe(cellColour(0, 1));
    expect(page.el.querySelector(".fv-legend-max")?.textContent).toBe("col. max");
  });

  it("hiding the always-on column rescales the global range", async () => {
    const { model } = page.mount(state());
    expect(page.el.querySelector(".fv-legend-max")?.textContent).toBe("40");
    const before = cellColour(2, 0);
    model.remoteSet("hide_always_on", true);
    await tick();
    expect(page.el.querySelector(".fv-legend-max")?.textContent).toBe("2");
    expect(cellColour(2, 0)).not.toBe(before); // feature 7's 1.0 is now half the range, not 1/40
  });

  it("the colour select writes color_scale", () => {
    const { model } = page.mount(state());
    const select = page.el.querySelector<HTMLSelectElement>("select.fv-color-scale")!;
    select.value = "log";
    select.dispatchEvent(new Event("change"));
    expect(model.get("color_scale")).toBe("log");
  });

  it("shows labels from Python by feature id in the header and tooltip", async () => {
    const { model, root } = page.mount(state());
    model.remoteSet("feature_labels", { "7": "joy" });
    await tick();
    expect(Number(root.dataset.headerHeight)).toBeGreaterThan(HEADER);
    expect(page.canvas.calls.some((c) => c.name === "fillText" && c.args[0] === "7 joy")).toBe(true);
  });

  it("arrow keys move the selected feature along the lanes; Enter selects the first", async () => {
    const { model, root } = page.mount(state());
    const canvas = page.el.querySelector<HTMLCanvasElement>(".fv-heatmap-canvas")!;
    expect(canvas.tabIndex).toBe(0);
    expect(canvas.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    const key = async (k: string) => {
      const e = new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true });
      canvas.dispatchEvent(e);
      await tick();
      return e.defaultPrevented;
    };
    expect(await key("Enter")).toBe(true);
    expect(model.get("selected_feature")).toBe(7);
    await key("ArrowRight");
    expect(model.get("selected_feature")).toBe(55);
    await key("ArrowRight");
    await key("ArrowRight"); // stops at the last lane
    expect(model.get("selected_feature")).toBe(101);
    await key("ArrowLeft");
    expect(model.get("selected_feature")).toBe(55);
    await key("Home");
    expect(model.get("selected_feature")).toBe(7);
    expect(root.dataset.selectedFeature).toBe("7");
    expect(await key("a")).toBe(false); // other keys stay the notebook's
    // Transposed, features run down: ArrowDown moves on, ArrowRight does nothing.
    model.remoteSet("transpose", true);
    await tick();
    await key("ArrowDown");
    expect(model.get("selected_feature")).toBe(55);
    expect(await key("ArrowRight")).toBe(false);
  });

  it("sizes the resizable viewport from the height trait", async () => {
    const { model } = page.mount({
      ...state(),
      tokens: Array(40).fill(" x"),
      prompt_lengths: [40],
      matrix: denseTrait(Array.from({ length: 40 }, () => [1, 2, 3])),
    });
    const scroller = page.el.querySelector<HTMLElement>(".fv-scroll")!;
    expect(scroller.classList.contains("fv-resizable")).toBe(true);
    expect(scroller.style.height).toBe("300px"); // 40 rows = 616 px of content, capped at height
    model.remoteSet("height", 200);
    await tick();
    expect(scroller.style.height).toBe("200px");
  });

  it("gives a short heatmap only its content's height", () => {
    page.mount(state());
    const scroller = page.el.querySelector<HTMLElement>(".fv-scroll")!;
    expect(scroller.style.height).toBe(`${HEADER + 4 * CH + 2}px`);
  });
});
