// Issue 18 item 6: scrubber ticks that never overlap, one number format, a key for the max / mean lines.

import { describe, expect, it } from "vitest";
import { fitTicks } from "../src/lib/checkpoint-controls";
import { formatCompact } from "../src/lib/format";
import { createMiniChart } from "../src/lib/mini-chart";
import { createScrubberView } from "../src/lib/scrubber-view";
import { denseTrait, tick, widgetPage } from "./helpers";

describe("formatCompact", () => {
  it("writes every axis number one way", () => {
    expect(formatCompact(122880)).toBe("123k");
    expect(formatCompact(3e6)).toBe("3.0M");
    expect(formatCompact(1234000)).toBe("1.23M");
    expect(formatCompact(45600)).toBe("45.6k");
    expect(formatCompact(999_999)).toBe("1.0M");
    expect(formatCompact(-2.5e9)).toBe("-2.5B");
    expect(formatCompact(512)).toBe("512");
    expect(formatCompact(0.925)).toBe("0.925");
  });
});

describe("fitTicks", () => {
  it("keeps the ends and only ticks clear of their neighbours", () => {
    // 7 labels 40 px wide on 200 px: centred middles need 48 px each, so every other one goes.
    const pos = [0, 33, 67, 100, 133, 167, 200];
    const kept = fitTicks(pos, Array(7).fill(40));
    expect(kept[0]).toBe(0);
    expect(kept.at(-1)).toBe(6);
    const n = pos.length;
    const box = (i: number) => {
      const l = i === 0 ? pos[i] : i === n - 1 ? pos[i] - 40 : pos[i] - 20;
      return [l, l + 40];
    };
    for (let k = 1; k < kept.length; k++) expect(box(kept[k])[0]).toBeGreaterThanOrEqual(box(kept[k - 1])[1] + 8);
    // Wide enough: all stay; too narrow for both ends: the first only.
    expect(fitTicks([0, 500, 1000], [40, 40, 40])).toEqual([0, 1, 2]);
    expect(fitTicks([0, 30], [40, 40])).toEqual([0]);
  });
});

describe("mini chart", () => {
  it("formats its axes compactly and keys its lines when there are several", () => {
    const chart = createMiniChart("activation", "fv-test", {}, () => undefined);
    chart.build({
      x: [122880, 3e6],
      series: [
        { name: "max", values: [1, 2], colour: [200, 0, 0] },
        { name: "mean", values: [0.5, 1], colour: [0, 0, 200], dashed: true },
      ],
    });
    const ticks = [...chart.el.querySelectorAll(".fv-tick")].map((t) => t.textContent);
    expect(ticks).toContain("123k");
    expect(ticks).toContain("3.0M");
    const items = [...chart.el.querySelectorAll(".fv-mini-key-item")];
    expect(items.map((i) => i.textContent)).toEqual(["max", "mean"]);
    expect(items[1].querySelector("line")?.getAttribute("stroke-dasharray")).toBe("3 2");
    expect(items[0].querySelector("line")?.getAttribute("stroke-dasharray")).toBeNull();
    chart.build({ x: [1, 2], series: [{ name: "l0", values: [3, 4], colour: [0, 0, 0] }] });
    expect(chart.el.querySelectorAll(".fv-mini-key-item").length).toBe(0);
  });
});

const page = widgetPage(
  {
    render({ model, el }) {
      const v = createScrubberView(model, el);
      return () => v.destroy();
    },
  },
  ".fv-scrubber",
  { canvas: true },
);

describe("scrubber ticks in a narrow output", () => {
  it("hides the ticks that would overlap and shows them again when there is room", async () => {
    const C = 12;
    const labels = Array.from({ length: C }, (_, i) => `${((i + 1) * 0.25).toFixed(2)}M tokens`);
    const width = { value: 180 };
    const proto = HTMLElement.prototype;
    const original = Object.getOwnPropertyDescriptor(proto, "clientWidth");
    Object.defineProperty(proto, "clientWidth", {
      configurable: true,
      get(this: HTMLElement) {
        return this.classList.contains("fv-ticks") ? width.value : 0;
      },
    });
    try {
      const { model, root } = page.mount({
        labels,
        x_values: labels.map((_, i) => (i + 1) * 250_000),
        x_label: "training tokens",
        tokens: ["a", "b"],
        prompt_lengths: [2],
        feature_ids: [1],
        frames: denseTrait(Array.from({ length: 2 * C }, () => [0.5])),
        metrics: {},
        vmin: 0,
        vmax: 1,
        title: "",
        index: 0,
        selected_feature: -1,
      });
      const ticks = [...root.querySelectorAll<HTMLElement>(".fv-tick-label")];
      expect(ticks.length).toBe(6); // tickIndices(12, 7)
      const shown = ticks.filter((t) => t.style.display !== "none");
      // "0.25M tokens" ~ 72 px: on 180 px only the two ends fit.
      expect(shown.map((t) => t.dataset.index)).toEqual(["0", String(C - 1)]);
      // Wider (new labels rebuild the ticks; a real resize re-thins through a ResizeObserver): all six fit.
      width.value = 2000;
      model.remoteSet("labels", [...labels]);
      await tick();
      const wide = [...root.querySelectorAll<HTMLElement>(".fv-tick-label")];
      expect(wide.filter((t) => t.style.display !== "none").length).toBe(6);
    } finally {
      if (original) Object.defineProperty(proto, "clientWidth", original);
      else delete (proto as unknown as Record<string, unknown>).clientWidth;
    }
  });
});
