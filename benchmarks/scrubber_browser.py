"""Browser benchmark: CheckpointScrubber frame switches for 512 tokens x 256 features x 10 checkpoints in
headless Debian Chromium (no Jupyter: the built bundle is imported into a blank page with a fake model).

    .venv/bin/python benchmarks/scrubber_browser.py [--switches 50] [--density 0.05] [--format dense|csr]

Needs the bundle (cd js && npm run build) and /usr/bin/chromium (driven by the Python playwright package
through executable_path; never `playwright install`). Not a timed test: prints numbers only.
Numbers: frame = root.dataset.frameMs (performance.now() around the redraw of one checkpoint switch, in the
page; target < 50 ms); switch+frame = slider input event -> next animation frame (includes the browser's
style / layout / paint of the whole page).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "src" / "featureviz" / "static" / "scrubber.js"
CHROMIUM = os.environ.get("FEATUREVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

# Runs in the page: build the traits, render, switch frames, return timings.
PAGE_SCRIPT = """
async ({src, C, T, F, density, format, switches}) => {
  const url = URL.createObjectURL(new Blob([src], {type: "text/javascript"}));
  const widget = (await import(url)).default;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
  const rows = C * T;
  const dense = new Float32Array(rows * F);
  for (let i = 0; i < dense.length; i++) if (rand() < density) dense[i] = rand() * 5;
  let frames;
  if (format === "csr") {
    const data = [], indices = [], indptr = [0];
    for (let r = 0; r < rows; r++) {
      for (let f = 0; f < F; f++) { const v = dense[r * F + f]; if (v !== 0) { data.push(v); indices.push(f); } }
      indptr.push(data.length);
    }
    frames = {shape: [rows, F], format: "csr", data: new DataView(new Float32Array(data).buffer),
              indices: new DataView(new Int32Array(indices).buffer),
              indptr: new DataView(new Int32Array(indptr).buffer)};
  } else {
    frames = {shape: [rows, F], format: "dense", data: new DataView(dense.buffer)};
  }
  const cos = new Float32Array(C * F).map((_, i) => Math.min(1, 0.3 + (Math.floor(i / F) / (C - 1)) * 0.7));
  const per = 32;
  const state = {
    labels: Array.from({length: C}, (_, c) => `${((c + 1) * 1.2).toFixed(2)}M tokens`),
    x_values: Array.from({length: C}, (_, c) => (c + 1) * 1.2e6), x_label: "training tokens",
    tokens: Array.from({length: T}, (_, t) => ` tok${t}`),
    prompt_lengths: Array.from({length: T / per}, () => per),
    feature_ids: Array.from({length: F}, (_, f) => f * 7),
    frames, match_cosine: {shape: [C, F], format: "dense", data: new DataView(cos.buffer)},
    metrics: {l0: Array.from({length: C}, (_, c) => 60 - c * 4),
              explained_variance: Array.from({length: C}, (_, c) => 0.5 + c * 0.04)},
    vmin: 0, vmax: 5, title: "benchmark", index: C - 1, selected_feature: 0,
  };
  const handlers = {};
  const model = {
    get: (k) => state[k], set: (k, v) => { state[k] = v; (handlers["change:" + k] || []).forEach((cb) => cb()); },
    save_changes() {}, on: (e, cb) => (handlers[e] = handlers[e] || []).push(cb),
    off: (e, cb) => { if (handlers[e]) handlers[e] = handlers[e].filter((x) => x !== cb); },
  };
  const el = document.createElement("div");
  document.body.appendChild(el);
  const t0 = performance.now();
  widget.render({model, el});
  const renderMs = performance.now() - t0;
  const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));
  await nextFrame(); await nextFrame();
  const root = el.querySelector(".fv-scrubber");
  const slider = el.querySelector("input.fv-slider");
  const frameMs = [], wallMs = [];
  for (let k = 0; k < switches; k++) {
    const i = k % C === (Number(root.dataset.index)) ? (k + 1) % C : k % C;
    const w0 = performance.now();
    slider.value = String(i);
    slider.dispatchEvent(new Event("input"));
    const ms = Number(root.dataset.frameMs);
    await nextFrame();
    wallMs.push(performance.now() - w0);
    if (root.dataset.index !== String(i)) throw new Error(`index ${root.dataset.index} != ${i}`);
    frameMs.push(ms);
  }
  const canvas = el.querySelector(".fv-heatmap-canvas");
  return {renderMs, frameMs, wallMs, state: root.dataset.state, canvas: [canvas.width, canvas.height]};
}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--switches", type=int, default=50)
    ap.add_argument("--density", type=float, default=0.05)
    ap.add_argument("--format", choices=["dense", "csr"], default="dense")
    ap.add_argument("--checkpoints", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--features", type=int, default=256)
    args = ap.parse_args()
    if not BUNDLE.exists():
        print(f"{BUNDLE} is missing: run `cd js && npm run build`", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto("about:blank")
        res = page.evaluate(
            PAGE_SCRIPT,
            {
                "src": BUNDLE.read_text(),
                "C": args.checkpoints,
                "T": args.tokens,
                "F": args.features,
                "density": args.density,
                "format": args.format,
                "switches": args.switches,
            },
        )
        version = browser.version
        browser.close()
    frame = res["frameMs"]
    wall = res["wallMs"]
    print(
        f"chromium {version}; {args.tokens} tokens x {args.features} features x {args.checkpoints} checkpoints "
        f"({args.format}, density {args.density}); canvas {res['canvas'][0]}x{res['canvas'][1]}; state {res['state']}"
    )
    print(f"render (decode + first draw): {res['renderMs']:.1f} ms")
    print(
        f"frame switch (data-frame-ms) over {len(frame)}: median {statistics.median(frame):.2f} ms, "
        f"max {max(frame):.2f} ms (target < 50 ms)"
    )
    print(f"switch -> next animation frame: median {statistics.median(wall):.2f} ms, max {max(wall):.2f} ms")
    print(
        "JSON="
        + json.dumps(
            {
                "median_frame_ms": statistics.median(frame),
                "max_frame_ms": max(frame),
                "median_wall_ms": statistics.median(wall),
                "render_ms": res["renderMs"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
