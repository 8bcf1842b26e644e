"""Browser benchmark: Heatmap first paint for 2,048 tokens x 512 features in JupyterLab (headless Debian
Chromium), and the size of the binary matrix payload against json.dumps of the same values as nested lists.

    .venv/bin/python benchmarks/heatmap_browser.py [--frontend lab|notebook] [--repeats 5] [--density 0.05]

Reuses the server / browser recipe of tests/browser/conftest.py. Not a timed test: prints numbers only.
The Heatmap picks the smallest encoding (src/featureviz/widgets/arrays.py): CSR (exact) when sparse, else
uint8 codes with a per-column scale ("dense_u8", within scale / 2); float32_bytes is the exact dense size.
Numbers: first paint = el.dataset.firstPaintMs (render() start -> first canvas paint, in the page);
end to end = Ctrl+Enter -> data-state "ready" (kernel builds the widget, comm transfer, render).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fv_browser_recipe", ROOT / "tests" / "browser" / "conftest.py")
recipe = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = recipe  # dataclasses need the module registered
_spec.loader.exec_module(recipe)

SETUP = """\
import json, time
import numpy as np, torch
import featureviz as fv
from featureviz.analysis.activations import ActivationResult
from featureviz.widgets.arrays import payload_bytes
N_PROMPTS, PER_PROMPT, N_FEATURES, DENSITY = 16, 128, 512, {density}
g = torch.Generator().manual_seed(0)
values = torch.rand(N_PROMPTS * PER_PROMPT, N_FEATURES, generator=g)
values = torch.where(torch.rand(values.shape, generator=g) < DENSITY, values * 5, torch.zeros(()))
acts = ActivationResult(
    prompts=[f"prompt {{p}}" for p in range(N_PROMPTS)],
    str_tokens=[[f" tok{{p}}_{{i}}" for i in range(PER_PROMPT)] for p in range(N_PROMPTS)],
    token_ids=[torch.arange(PER_PROMPT) for _ in range(N_PROMPTS)],
    values=values, offsets=np.arange(N_PROMPTS + 1) * PER_PROMPT,
    hook_name="synthetic", source_kind="sae",
)
h0 = fv.Heatmap(acts, top_k=N_FEATURES)
binary = payload_bytes(h0.matrix)
as_json = len(json.dumps(acts.values[:, h0.feature_ids].tolist()).encode())
print("SHAPE=%dx%d" % tuple(h0.matrix["shape"]))
print("FORMAT=" + h0.matrix["format"])
print("BINARY_BYTES=%d" % binary)
print("FLOAT32_BYTES=%d" % (4 * h0.matrix["shape"][0] * h0.matrix["shape"][1]))
print("JSON_BYTES=%d" % as_json)"""
SHOW = "h = fv.Heatmap(acts, top_k=N_FEATURES)\nh"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frontend", choices=list(recipe.FRONTENDS), default="lab")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--density", type=float, default=0.05, help="fraction of non-zero activations (SAE-like)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    recipe.CELLS[:] = [SETUP.format(density=args.density), SHOW]
    tmp = Path(tempfile.mkdtemp(prefix="fv-bench-"))
    server = recipe.start_server(args.frontend, tmp)
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                str(tmp / "profile"),
                executable_path=recipe.CHROMIUM,
                headless=True,
                args=recipe.CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900},
                timeout=60_000,
            )
            ctx.set_default_timeout(recipe.DEFAULT_TIMEOUT)
            try:
                page = ctx.new_page()
                nb = recipe.NotebookSession(args.frontend, server, page)
                page.goto(server.notebook_url(), wait_until="domcontentloaded", timeout=60_000)
                page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)
                recipe._wait_kernel_ready(page)
                out = nb.run_cell(0, timeout=recipe.FIRST_CELL_TIMEOUT)
                info = {
                    k: nb.output_value(out, k)
                    for k in ("SHAPE", "FORMAT", "BINARY_BYTES", "FLOAT32_BYTES", "JSON_BYTES")
                }
                heatmap = nb.cell(1).locator(".fv-heatmap")
                paints, e2e = [], []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    nb.run_cell(1, timeout=120_000)
                    page.wait_for_function(
                        "el => el.dataset.state === 'ready' && !!el.parentElement.dataset.firstPaintMs",
                        arg=heatmap.element_handle(),
                        timeout=120_000,
                    )
                    e2e.append((time.perf_counter() - t0) * 1000)
                    paints.append(float(heatmap.evaluate("el => el.parentElement.dataset.firstPaintMs")))
            finally:
                ctx.close()
    finally:
        server.stop()

    binary, as_json = int(info["BINARY_BYTES"]), int(info["JSON_BYTES"])
    result = {
        "frontend": args.frontend,
        "shape": info["SHAPE"],
        "format": info["FORMAT"],
        "density": args.density,
        "first_paint_ms": {"median": statistics.median(paints), "all": paints},
        "end_to_end_ms": {"median": round(statistics.median(e2e)), "all": [round(x) for x in e2e]},
        "binary_bytes": binary,
        "json_bytes": as_json,
        "float32_bytes": int(info["FLOAT32_BYTES"]),
        "json_over_binary": round(as_json / binary, 2),
        "binary_over_json": round(binary / as_json, 4),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
