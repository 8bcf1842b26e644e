import { describe, expect, it } from "vitest";
import widget from "../src/dashboard";
import { readPage } from "../src/lib/dashboard-data";
import { normShares } from "../src/lib/dashboard-decoder-norms";
import { widgetPage } from "./helpers";

const XSS = "<img src=x onerror=alert(1)>";
const HOOKS = ["model.layers.8:input", "model.layers.15:input", "model.layers.22:input"];

/** A crosscoder page shaped like DashboardData.page(feature) (the crosscoder panel's data only). */
function crosscoderPage(norms: unknown): Record<string, unknown> {
  return {
    feature: 3,
    n_tokens: 1000,
    density: 0.01,
    max: 2,
    histogram: { counts: [3, 1], edges: [0, 1, 2] },
    top: [{ value: 2, tokens: ["a", " b"], acts: [0, 2], center: 1 }],
    intervals: [],
    logits_top: [],
    logits_bottom: [],
    nearest: [],
    decoder_norms: norms,
  };
}

const page = widgetPage(widget, ".fv-dashboard");
const mount = (norms: unknown) =>
  page.mount({ feature: 3, page: crosscoderPage(norms), feature_ids: [3], search: "", search_results: [], title: "x" });

describe("crosscoder panel: decoder norm per layer", () => {
  it("reads the norms and skips malformed entries", () => {
    const r = readPage(
      crosscoderPage([
        { hook: HOOKS[0], norm: 0.5 },
        { hook: HOOKS[1], norm: "x" },
        { hook: 7, norm: 1 },
        { hook: HOOKS[2], norm: -1 },
        { hook: HOOKS[2], norm: 1.5 },
      ]),
    );
    expect(r.kind).toBe("page");
    if (r.kind !== "page") return;
    expect(r.page.decoderNorms).toEqual([
      { hook: HOOKS[0], norm: 0.5 },
      { hook: HOOKS[2], norm: 1.5 },
    ]);
    expect(r.page.warnings.join(" ")).toContain("decoder_norms: skipped 3 malformed entries");
  });

  it("draws one bar per hook, scaled to the largest norm", () => {
    const { root } = mount([
      { hook: HOOKS[0], norm: 0.25 },
      { hook: HOOKS[1], norm: 1 },
      { hook: XSS, norm: 0 },
    ]);
    const section = root.querySelector(".fv-dash-decoder-norms") as HTMLElement;
    expect(section.querySelector(".fv-dash-h")?.textContent).toBe("Decoder norm per layer");
    const rows = [...section.querySelectorAll<HTMLElement>(".fv-decnorm")];
    expect(rows.map((r) => r.querySelector(".fv-decnorm-hook")?.textContent)).toEqual([HOOKS[0], HOOKS[1], XSS]);
    expect(rows.map((r) => (r.querySelector(".fv-decnorm-bar") as HTMLElement).style.width)).toEqual([
      "25.0%",
      "100.0%",
      "0.0%",
    ]);
    expect(rows[1].querySelector(".fv-decnorm-value")?.textContent).toBe("1");
    expect(rows[0].title).toContain("20% of the total");
    expect(section.querySelector("img")).toBeNull(); // the hook name stays text
  });

  it("is absent for one-hook sources", () => {
    const { root } = mount([]);
    expect(root.querySelector(".fv-dash-decoder-norms")).toBeNull();
    expect(root.querySelector(".fv-dash-stats")).not.toBeNull();
  });

  it("scales all-zero norms to empty bars", () => {
    expect(normShares([{ hook: "a", norm: 0 }])).toEqual([0]);
  });
});
