import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PLAY_STEP_MS } from "../src/lib/scrubber-view";
import { decodeImages, readVision, rgba } from "../src/lib/vision-data";
import { createGalleryView, createVisionScrubberView, type VisionView } from "../src/lib/vision-view";
import gallery from "../src/vision_gallery";
import scrubber from "../src/vision_scrubber";
import { denseTrait, FakeModel, stubCanvas } from "./helpers";

const XSS = "<img src=x onerror=alert(1)>";
const [C, U, N, H, W] = [3, 3, 2, 2, 2];

/** Pixel value encodes (checkpoint, unit, image): every byte of image (c, u, n) is 100c + 10u + n. */
function pixels(withCheckpoints: boolean): DataView {
  const nC = withCheckpoints ? C : 1;
  const out = new Uint8Array(nC * U * N * H * W * 3);
  for (let c = 0; c < nC; c++)
    for (let u = 0; u < U; u++)
      for (let n = 0; n < N; n++)
        out.fill(100 * c + 10 * u + n, ((c * U + u) * N + n) * H * W * 3, ((c * U + u) * N + n + 1) * H * W * 3);
  return new DataView(out.buffer);
}

const galleryState = (): Record<string, unknown> => ({
  images: { shape: [U, N, H, W, 3], format: "rgb_u8", data: pixels(false) },
  activations: denseTrait([
    [1, 2],
    [3, 4],
    [5, 6],
  ]),
  units: [4, 9, 17],
  unit_labels: ["channel 4", XSS, "channel 17"],
  selected_unit: -1,
  title: XSS,
  display_size: 40,
});

const scrubberState = (): Record<string, unknown> => ({
  ...galleryState(),
  images: { shape: [C, U, N, H, W, 3], format: "rgb_u8", data: pixels(true) },
  activations: denseTrait([
    [1, 2, 3, 4, 5, 6],
    [2, 3, 4, 5, 6, 7],
    [9, 8, 7, 6, 5, 4],
  ]),
  probe_mean: denseTrait([
    [0.1, 0.2, 0.3],
    [0.4, 0.5, 0.6],
    [0.7, 0.8, 0.9],
  ]),
  probe_max: denseTrait([
    [1, 1, 1],
    [2, 2, 2],
    [3, 3, 3],
  ]),
  weight_cosine: denseTrait([
    [NaN, NaN, NaN],
    [0.5, 0.6, 0.7],
    [0.9, 0.95, 0.99],
  ]),
  labels: ["step 0", "step 50", "step 800"],
  x_values: [0, 50, 800],
  x_label: "step",
  index: 2,
  selected_unit: 9,
});

class FakeImageData {
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
}

let canvasStub: ReturnType<typeof stubCanvas>;
let el: HTMLElement;
let view: VisionView | null = null;
beforeEach(() => {
  canvasStub = stubCanvas();
  vi.stubGlobal("ImageData", FakeImageData);
  el = document.createElement("div");
  document.body.appendChild(el);
});
afterEach(() => {
  view?.destroy();
  view = null;
  canvasStub.restore();
  vi.unstubAllGlobals();
  vi.useRealTimers();
  el.remove();
});

/** First byte of each image painted since the last call, in paint order. */
function painted(): number[] {
  const out = canvasStub.calls
    .filter((c) => c.name === "putImageData")
    .map((c) => (c.args[0] as FakeImageData).data[0]);
  canvasStub.calls.length = 0;
  return out;
}

describe("vision data", () => {
  it("decodes RGB bytes and rejects a buffer that does not fit its shape", () => {
    const ok = decodeImages({ shape: [1, 2, 2, 3], format: "rgb_u8", data: new Uint8Array(12) });
    expect(ok.ok).toBe(true);
    const bad = decodeImages({ shape: [1, 2, 2, 3], format: "rgb_u8", data: new Uint8Array(11) });
    expect(bad).toEqual({ ok: false, error: "images.data has 11 bytes but shape [1, 2, 2, 3] needs 12" });
    expect(decodeImages({ shape: [2, 2, 4], data: new Uint8Array(16) }).ok).toBe(false);
  });

  it("reads activations per checkpoint, unit and image, and expands RGB to RGBA", () => {
    const r = readVision(new FakeModel(scrubberState()), true);
    if (!r.ok) throw new Error(r.error);
    expect(r.data.activation(1, 2, 1)).toBe(7);
    expect(r.data.probeMean(2, 1)).toBeCloseTo(0.8);
    expect(Number.isNaN(r.data.cosine(0, 0))).toBe(true);
    const px = rgba(r.data, 2, 1, 1);
    expect(Array.from(px.slice(0, 8))).toEqual([211, 211, 211, 255, 211, 211, 211, 255]);
  });
});

describe("Gallery", () => {
  it("draws one tile per unit with one canvas per image, labels as text", () => {
    const model = new FakeModel(galleryState());
    view = createGalleryView(model, el);
    const tiles = el.querySelectorAll<HTMLElement>(".fv-vtile");
    expect(Array.from(tiles, (t) => t.dataset.unit)).toEqual(["4", "9", "17"]);
    expect(tiles[1].querySelector(".fv-vcaption")!.textContent).toBe(`${XSS.slice(0, 23)}…`); // clipped, as text
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector(".fv-title")!.textContent).toBe(XSS);
    expect(tiles[0].querySelectorAll("canvas.fv-vimage").length).toBe(2);
    expect(painted()).toEqual([0, 1, 10, 11, 20, 21]);
    expect(view.root.dataset.state).toBe("ready");
  });

  it("click selects a unit, arrow keys move the selection, Python's choice shows", () => {
    const model = new FakeModel(galleryState());
    view = createGalleryView(model, el);
    el.querySelectorAll<HTMLElement>(".fv-vtile")[1].click();
    expect(model.state.selected_unit).toBe(9);
    expect(model.saves).toBe(1);
    expect(el.querySelector(".fv-selected")!.getAttribute("data-unit")).toBe("9");
    const grid = el.querySelector<HTMLElement>(".fv-vgrid")!;
    grid.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight" }));
    expect(model.state.selected_unit).toBe(17);
    grid.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight" }));
    expect(model.state.selected_unit).toBe(17); // stays at the last unit
    grid.dispatchEvent(new KeyboardEvent("keydown", { key: "Home" }));
    expect(model.state.selected_unit).toBe(4);
    model.remoteSet("selected_unit", 17);
    expect(view.root.dataset.selectedUnit).toBe("17");
    expect(el.querySelector(".fv-selected")!.getAttribute("data-unit")).toBe("17");
  });

  it("hover shows unit, image and activation", () => {
    view = createGalleryView(new FakeModel(galleryState()), el);
    const canvas = el.querySelectorAll<HTMLElement>(".fv-vtile")[2].querySelectorAll("canvas")[1];
    canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: 5, clientY: 5 }));
    const text = el.querySelector(".fv-tooltip")!.textContent;
    expect(text).toContain("channel 17");
    expect(text).toContain("2 of 2");
    expect(text).toContain("6");
  });

  it("says what is wrong with bad data instead of throwing", () => {
    const state = galleryState();
    state.activations = denseTrait([[1, 2]]);
    view = createGalleryView(new FakeModel(state), el);
    expect(view.root.dataset.state).toBe("error");
    expect(el.querySelector(".fv-message")!.textContent).toContain("activations is 1×2, expected 3×2");
  });

  it("is an anywidget module", () => {
    const model = new FakeModel(galleryState());
    const cleanup = gallery.render({ model, el });
    expect(el.querySelectorAll(".fv-vtile").length).toBe(3);
    cleanup();
    expect(el.querySelector(".fv-vision")).toBeNull();
    expect(model.listenerCount()).toBe(0);
  });
});

describe("VisionScrubber", () => {
  it("shows the checkpoint in `index`, repaints on the slider and syncs index both ways", () => {
    const model = new FakeModel(scrubberState());
    view = createVisionScrubberView(model, el);
    expect(painted()).toEqual([200, 201, 210, 211, 220, 221]);
    expect(el.querySelector(".fv-scrub-label")!.textContent).toContain("step 800");
    const slider = el.querySelector<HTMLInputElement>("input.fv-slider")!;
    slider.value = "1";
    slider.dispatchEvent(new Event("input"));
    expect(model.state.index).toBe(1);
    expect(painted()).toEqual([100, 101, 110, 111, 120, 121]);
    model.remoteSet("index", 0);
    expect(view.root.dataset.index).toBe("0");
    expect(painted()).toEqual([0, 1, 10, 11, 20, 21]);
  });

  it("plays through the checkpoints and stops at the last", () => {
    vi.useFakeTimers();
    const model = new FakeModel({ ...scrubberState(), index: 0 });
    view = createVisionScrubberView(model, el);
    el.querySelector<HTMLButtonElement>("button.fv-play")!.click();
    expect(view.root.dataset.playing).toBe("true");
    vi.advanceTimersByTime(PLAY_STEP_MS);
    expect(model.state.index).toBe(1);
    vi.advanceTimersByTime(PLAY_STEP_MS * 3);
    expect(model.state.index).toBe(2);
    expect(view.root.dataset.playing).toBe("false");
  });

  it("plots the selected unit's curve over training and follows a click", () => {
    const model = new FakeModel(scrubberState());
    view = createVisionScrubberView(model, el);
    expect(el.querySelector(".fv-trajectory .fv-panel-title")!.textContent).toBe(`${XSS} against step`);
    expect(el.querySelectorAll(".fv-traj-activation .fv-point").length).toBe(9); // 3 series x 3 checkpoints
    expect(el.querySelectorAll(".fv-traj-cosine .fv-point").length).toBe(2); // no cosine at the first checkpoint
    el.querySelectorAll<HTMLElement>(".fv-vtile")[2].click();
    expect(model.state.selected_unit).toBe(17);
    expect(el.querySelector(".fv-trajectory .fv-panel-title")!.textContent).toBe("channel 17 against step");
  });

  it("is an anywidget module that cleans up", () => {
    const model = new FakeModel(scrubberState());
    const cleanup = scrubber.render({ model, el });
    expect(el.querySelectorAll(".fv-vtile").length).toBe(3);
    cleanup();
    expect(model.listenerCount()).toBe(0);
  });
});
