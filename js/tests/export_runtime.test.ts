// The HTML export's kernel-free runtime: buffers restored, trait changes answered from precomputed
// responses, selections linked only between widgets of one hook.

import { describe, expect, it } from "vitest";
import { LocalModel, linkSelections, restoreBuffers } from "../src/export_runtime";
import { KERNEL_FREE } from "../src/lib/traits";

function b64(bytes: number[]): string {
  return btoa(String.fromCharCode(...bytes));
}

describe("restoreBuffers", () => {
  it("puts each decoded buffer back at its path", () => {
    const state = { matrix: { shape: [1, 2], data: null }, frames: [{ data: null }] };
    restoreBuffers(state, [
      { path: ["matrix", "data"], data: b64([1, 2, 3, 4]) },
      { path: ["frames", 0, "data"], data: b64([255]) },
    ]);
    const m = state.matrix.data as unknown as DataView;
    expect(m).toBeInstanceOf(DataView);
    expect([...new Uint8Array(m.buffer)]).toEqual([1, 2, 3, 4]);
    expect((state.frames[0].data as unknown as DataView).getUint8(0)).toBe(255);
  });
});

describe("LocalModel", () => {
  it("is marked kernel-free and fires change events", () => {
    const model = new LocalModel({ feature: 1 }, {});
    expect(model.get(KERNEL_FREE)).toBe(true);
    const seen: unknown[] = [];
    const cb = (v: unknown) => seen.push(v);
    model.on("change:feature", cb);
    model.set("feature", 2);
    model.off("change:feature", cb);
    model.set("feature", 3);
    expect(seen).toEqual([2]);
  });

  it("answers a saved change from the precomputed responses, and only those", () => {
    const pages = { "7": { page: { feature: 7, top: [] } } };
    const model = new LocalModel({ feature: 1, page: { feature: 1 } }, { feature: pages });
    const saved: string[][] = [];
    model.onSave = (changed) => saved.push(changed);
    model.set("feature", 7);
    model.save_changes();
    expect(model.get("page")).toEqual({ feature: 7, top: [] });
    model.set("feature", 8); // not exported: the page stays, the view says it has none
    model.save_changes();
    expect(model.get("page")).toEqual({ feature: 7, top: [] });
    expect(saved).toEqual([["feature"], ["feature"]]);
  });
});

describe("linkSelections", () => {
  it("passes a selection only to widgets of the same hook", () => {
    const heatmap = new LocalModel({ selected_feature: -1 }, {});
    const dashboard = new LocalModel({ feature: 0 }, {});
    const other = new LocalModel({ selected_feature: -1 }, {});
    linkSelections(
      [heatmap, dashboard, other],
      ["blocks.0.hook_resid_post", "blocks.0.hook_resid_post", "blocks.3.hook_resid_post"],
    );
    heatmap.set("selected_feature", 5);
    heatmap.save_changes();
    expect(dashboard.get("feature")).toBe(5);
    expect(other.get("selected_feature")).toBe(-1);
    dashboard.set("feature", 9); // and back, without looping
    dashboard.save_changes();
    expect(heatmap.get("selected_feature")).toBe(9);
  });

  it("selects the circuit node of the hook and feature, or clears it when the graph lacks it", () => {
    const heatmap = new LocalModel({ selected_feature: -1 }, {});
    const circuit = new LocalModel(
      { graph: { nodes: [{ id: "h:3" }] }, selected_node: "", selected_source: "", selected_feature: -1 },
      {},
    );
    linkSelections([heatmap, circuit], ["h", null]);
    heatmap.set("selected_feature", 3);
    heatmap.save_changes();
    expect(circuit.get("selected_node")).toBe("h:3");
    expect(circuit.get("selected_source")).toBe("h");
    heatmap.set("selected_feature", 4);
    heatmap.save_changes();
    expect(circuit.get("selected_node")).toBe("");
    expect(circuit.get("selected_feature")).toBe(-1);
  });

  it("without link=True links only the widgets of one box (an exported fv.Explorer)", () => {
    const heatmap = new LocalModel({ selected_feature: -1 }, {});
    const dashboard = new LocalModel({ feature: 0 }, {});
    const alone = new LocalModel({ selected_feature: -1 }, {});
    linkSelections([heatmap, dashboard, alone], ["h", "h", "h"], [0, 0, null], false);
    heatmap.set("selected_feature", 5);
    heatmap.save_changes();
    expect(dashboard.get("feature")).toBe(5);
    expect(alone.get("selected_feature")).toBe(-1);
    alone.set("selected_feature", 7);
    alone.save_changes();
    expect(heatmap.get("selected_feature")).toBe(5);
    expect(dashboard.get("feature")).toBe(5);
  });
});
