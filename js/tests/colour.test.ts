import { describe, expect, it } from "vitest";
import {
  ACCENT_DARK,
  ACCENT_LIGHT,
  createLegend,
  gradientCss,
  luminance,
  makeScale,
  NEG_LIGHT,
  POS_LIGHT,
  parseColour,
} from "../src/lib/colour";
import { readTheme } from "../src/lib/theme";

const WHITE: [number, number, number] = [255, 255, 255];
const DARK_BG: [number, number, number] = [17, 17, 17];

describe("parseColour", () => {
  it("parses hex and rgb forms", () => {
    expect(parseColour("#fff")).toEqual([255, 255, 255]);
    expect(parseColour(" #102030 ")).toEqual([16, 32, 48]);
    expect(parseColour("#10203080")).toEqual([16, 32, 48]);
    expect(parseColour("rgb(1, 2, 3)")).toEqual([1, 2, 3]);
    expect(parseColour("rgba(1 2 3 / 50%)")).toEqual([1, 2, 3]);
    expect(parseColour("not-a-colour")).toBeNull();
    expect(parseColour("")).toBeNull();
  });
});

describe("sequential scale", () => {
  const s = makeScale({ vmin: 0, vmax: 10, background: WHITE, dark: false });
  it("starts at the background so zeros disappear", () => {
    expect(s.diverging).toBe(false);
    expect(s.rgb(0)).toEqual(WHITE);
    expect(s.isBackground(0)).toBe(true);
    expect(s.isBackground(-5)).toBe(true); // clamped
    expect(s.css(0)).toBe("rgb(255,255,255)");
  });
  it("ends at the accent and clamps above vmax", () => {
    expect(s.rgb(10)).toEqual(ACCENT_LIGHT);
    expect(s.rgb(100)).toEqual(ACCENT_LIGHT);
    expect(s.css(10)).toBe(`rgb(${ACCENT_LIGHT.join(",")})`);
    expect(s.isBackground(10)).toBe(false);
  });
  it("is monotonic in distance from the background", () => {
    const d = (v: number) => Math.abs(luminance(s.rgb(v)) - luminance(WHITE));
    expect(d(2)).toBeLessThan(d(5));
    expect(d(5)).toBeLessThan(d(9));
  });
  it("uses a brighter accent on dark themes", () => {
    const dark = makeScale({ vmin: 0, vmax: 1, background: DARK_BG, dark: true });
    expect(dark.rgb(0)).toEqual(DARK_BG);
    expect(dark.rgb(1)).toEqual(ACCENT_DARK);
  });
  it("treats NaN as background and repairs a degenerate range", () => {
    expect(s.isBackground(NaN)).toBe(true);
    const bad = makeScale({ vmin: 1, vmax: 1, background: WHITE, dark: false });
    expect(bad.vmax).toBeGreaterThan(bad.vmin);
  });
});

describe("diverging scale", () => {
  const s = makeScale({ vmin: -2, vmax: 4, background: WHITE, dark: false });
  it("is blue at vmin, background at 0, red at vmax", () => {
    expect(s.diverging).toBe(true);
    expect(s.rgb(-2)).toEqual(NEG_LIGHT);
    expect(s.rgb(0)).toEqual(WHITE);
    expect(s.isBackground(0)).toBe(true);
    expect(s.rgb(4)).toEqual(POS_LIGHT);
    expect(s.css(-2)).toBe(`rgb(${NEG_LIGHT.join(",")})`);
    expect(s.css(4)).toBe(`rgb(${POS_LIGHT.join(",")})`);
  });
  it("scales each side independently", () => {
    expect(s.rgb(-1)).toEqual(s.rgb(-1));
    const half = s.rgb(2);
    expect(half[0]).toBeGreaterThan(POS_LIGHT[0]);
    expect(half[0]).toBeLessThanOrEqual(255);
  });
});

describe("legend", () => {
  it("shows min and max labels and a gradient", () => {
    const legend = createLegend();
    const s = makeScale({ vmin: -1, vmax: 2.5, background: WHITE, dark: false });
    legend.update(s);
    expect(legend.el.querySelector(".fv-legend-min")?.textContent).toBe("-1");
    expect(legend.el.querySelector(".fv-legend-max")?.textContent).toBe("2.5");
    expect(gradientCss(s)).toContain("linear-gradient");
  });
});

describe("theme", () => {
  it("falls back to a light theme without variables", () => {
    const el = document.createElement("div");
    document.body.appendChild(el);
    const t = readTheme(el);
    expect(t.dark).toBe(false);
    expect(t.background).toEqual([255, 255, 255]);
    expect(t.fontCode.length).toBeGreaterThan(0);
    el.remove();
  });
  it("detects dark themes from Jupyter variables", () => {
    const el = document.createElement("div");
    el.style.setProperty("--jp-layout-color0", "#111111");
    el.style.setProperty("--jp-ui-font-color1", "rgb(240, 240, 240)");
    el.style.setProperty("--jp-code-font-family", "Fira Code");
    document.body.appendChild(el);
    const t = readTheme(el);
    expect(t.dark).toBe(true);
    expect(t.background).toEqual([17, 17, 17]);
    expect(t.text).toEqual([240, 240, 240]);
    expect(t.fontCode).toBe("Fira Code");
    el.remove();
  });
  it("falls back to VS Code variables", () => {
    const el = document.createElement("div");
    el.style.setProperty("--vscode-editor-background", "#1e1e1e");
    document.body.appendChild(el);
    const t = readTheme(el);
    expect(t.dark).toBe(true);
    expect(t.background).toEqual([30, 30, 30]);
    el.remove();
  });
});
