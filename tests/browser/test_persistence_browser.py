"""Widget persistence in JupyterLab and Notebook 7 (headless Debian Chromium).

1. A saved, executed notebook (nbclient with widget state stored, as `scripts/run_notebook.py` and `make demo`
   write them) opens with its widgets drawn from the stored state, without running a cell. This needs the
   notebook signed (trusted): Jupyter renders only "safe" mimetypes of untrusted outputs, and the widget view is
   not one, so an unsigned notebook shows the text/plain repr instead (see scripts/run_notebook.py).
2. One widget displayed in two cells is one model: a click in either view selects in the other and in the
   kernel, and a selection set from Python reaches both views.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import urllib.parse
from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary

pytestmark = pytest.mark.browser

_spec = importlib.util.spec_from_file_location(
    "run_notebook", Path(__file__).resolve().parents[2] / "scripts" / "run_notebook.py"
)
run_notebook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebook)

SAVED_NAME = "saved_heatmap.ipynb"
# The saved notebook: two short prompts, 8 columns, and a selection made after display (so the stored state,
# not the display-time state, is what must come back).
SAVED_CELLS = [
    """\
import json
import featureviz as fv
model, source = fv.load_default()
acts = fv.activations(model, source, ["I love this!", "I hate waiting."])
h = fv.Heatmap(acts, top_k=8)
print("TOKENS=" + json.dumps(h.tokens))
print("FEATURES=" + json.dumps(h.feature_ids))
h""",
    'h.selected_feature = h.feature_ids[2]\nprint("SELECTED=%d" % h.selected_feature)',
]
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"


def _printed(nb, key: str) -> str:
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    m = re.search(rf"^{key}=(.*)$", text, re.M)
    assert m, f"no {key}= in the saved notebook's output:\n{text}"
    return m.group(1)


@pytest.fixture(scope="module")
def saved_notebook(tmp_path_factory):
    """The tiny notebook executed once by run_notebook.execute (widget state stored, signed in a scratch
    signature store), with what it printed."""
    tmp = tmp_path_factory.mktemp("saved-notebook")
    source, target = tmp / "source.ipynb", tmp / "out" / SAVED_NAME
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in SAVED_CELLS]
    nbformat.write(nb, source)
    sigs = tmp / "signatures"
    saved = run_notebook.execute(source, target, timeout=600, data_dir=sigs)
    with NotebookNotary(data_dir=str(sigs)) as notary:
        assert notary.check_signature(nbformat.read(target, as_version=4)), "run_notebook.execute did not sign"
    state = saved.metadata["widgets"][STATE_MIME]["state"]
    view_ids = [
        o["data"][VIEW_MIME]["model_id"]
        for c in saved.cells
        for o in c.get("outputs", [])
        if VIEW_MIME in o.get("data", {})
    ]
    # The heatmap, and the model-loading progress bar (a tqdm widget) before it.
    assert view_ids and all(v in state for v in view_ids), "a displayed widget's state is not stored"
    info = {
        "path": target,
        "size": target.stat().st_size,
        "tokens": json.loads(_printed(saved, "TOKENS")),
        "features": json.loads(_printed(saved, "FEATURES")),
        "selected": int(_printed(saved, "SELECTED")),
    }
    print(f"\nsaved notebook {info['size'] / 1e3:.0f} KB, {len(state)} widget models stored")
    return info


def test_saved_notebook_renders_widgets_from_stored_state(nb, open_notebook, saved_notebook):
    server = nb.server
    target = server.root / SAVED_NAME
    shutil.copy(saved_notebook["path"], target)
    # A user's own executed notebook is trusted: signed in this server's store (the same call `make demo` uses).
    run_notebook.sign(target, server.data_dir)
    listing = json.loads(server.api(f"/api/contents/{urllib.parse.quote(SAVED_NAME)}"))
    code = [c for c in listing["content"]["cells"] if c["cell_type"] == "code"]
    assert code and all(c["metadata"].get("trusted") for c in code), "the server does not trust the notebook"

    # No kernel wait: the widget manager restores the stored state once the kernel has started, and no cell runs.
    saved = open_notebook(server, SAVED_NAME, wait_kernel=False)
    try:
        heatmap = saved.heatmap
        heatmap.wait_for(state="attached", timeout=60_000)
        saved.page.wait_for_function(
            "el => el.dataset.state === 'ready' && !!el.parentElement.dataset.firstPaintMs",
            arg=heatmap.element_handle(),
            timeout=60_000,
        )
        # Drawn from the stored state: its columns, and the selection made after display.
        g = saved.geometry()
        assert g["visible"] and set(g["visible"]) <= set(saved_notebook["features"])
        assert g["selected"] == saved_notebook["selected"]
        pixels = saved.grid_colours(len(saved_notebook["tokens"]))
        assert all(p[3] == 255 for p in pixels), "cells are not painted (transparent pixels)"
        distinct = {tuple(p[:3]) for p in pixels}
        assert len(distinct) >= 5, f"only {len(distinct)} distinct cell colours"
        # Not the text/plain fallback, and no cell was run: the prompts keep the saved execution counts.
        outputs = saved.cell(0).locator(".jp-OutputArea-output").all_inner_texts()
        assert not any(t.strip().startswith("Heatmap(") for t in outputs), outputs
        prompts = [saved.cell(i).locator(".jp-InputArea-prompt").inner_text().strip() for i in range(len(SAVED_CELLS))]
        assert prompts == [f"[{i + 1}]:" for i in range(len(SAVED_CELLS))], prompts
        print(
            f"\n[{nb.frontend}] saved notebook ({saved_notebook['size'] / 1e3:.0f} KB) drew the heatmap from "
            f"stored state: {len(distinct)} colours, selected {g['selected']}"
        )
        saved.check_page_errors()
    finally:
        saved.page.close()
        for s in json.loads(server.api("/api/sessions")):  # its (idle) kernel is not needed any more
            if s.get("path", "").endswith(SAVED_NAME):
                server.api(f"/api/sessions/{s['id']}", method="DELETE")


def _wait_selected(page, views, feature: int) -> None:
    for view in views:
        page.wait_for_function(
            "([el, f]) => el.dataset.selectedFeature === String(f)", arg=[view.element_handle(), feature]
        )


def _click_feature(nb, view, avoid: int) -> int:
    """Click, in `view`, the cell (row 1) of a visible column whose feature is not `avoid`; return it."""
    g = nb.geometry(view)
    col = next(i for i, f in enumerate(g["visible"]) if f != avoid)
    view.locator("canvas.fv-heatmap-canvas").click(position=nb.cell_point(1, col, view))
    return g["visible"][col]


def test_one_widget_in_two_cells_stays_in_sync(nb):
    tokens = json.loads(nb.outputs["TOKENS"])
    index, _ = nb.run_code("h")  # a second view of the setup cell's heatmap
    view1, view2 = nb.heatmap, nb.cell(index).locator(".fv-heatmap")
    view2.wait_for(state="attached")
    nb.page.wait_for_function("el => el.dataset.state === 'ready'", arg=view2.element_handle())
    pixels = nb.grid_colours(len(tokens), view2)
    assert all(p[3] == 255 for p in pixels) and len({tuple(p[:3]) for p in pixels}) >= 5
    start = nb.geometry(view1)["selected"]
    assert nb.geometry(view2)["selected"] == start

    # Browser -> other view and kernel, from either view.
    feature = _click_feature(nb, view1, avoid=start)
    _wait_selected(nb.page, (view1, view2), feature)
    assert int(nb.output_value(nb.run_cell(nb.PRINT_SELECTED), "SELECTED")) == feature
    feature2 = _click_feature(nb, view2, avoid=feature)
    _wait_selected(nb.page, (view1, view2), feature2)
    assert int(nb.output_value(nb.run_cell(nb.PRINT_SELECTED), "SELECTED")) == feature2

    # Python -> both views.
    feature3 = int(nb.output_value(nb.run_cell(nb.SET_SELECTED), "SET"))
    assert feature3 != feature2
    _wait_selected(nb.page, (view1, view2), feature3)
    print(
        f"\n[{nb.frontend}] two views in sync: {start} -> {feature} (view 1) -> {feature2} (view 2) "
        f"-> {feature3} (Python)"
    )
