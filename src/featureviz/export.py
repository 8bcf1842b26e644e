"""One self-contained HTML file from live widgets: bundles, state and binary data inlined, no CDN, no kernel.

Everything a view does in the browser keeps working (hover, sorting, the interpolation slider, ...). Where a
widget would ask Python (the dashboard moving to another feature), the answers are precomputed at export
time (`Dashboard._export_pages`) and replayed by a small runtime (js/src/export_runtime.ts). What only a
kernel can do (search, steering another feature, more values) is disabled in the file and says so.

With link=True every feature a click can select (heatmap columns, contrast rows, scrubber features) gets its
dashboard page, within a stated size budget; features left out are named in a warning and in the file.

A box of featureviz widgets (`fv.Explorer`: a heatmap and a dashboard) is exported as its children side by side
in one row, linked to each other as in the kernel (with link=False too).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ipywidgets import Box
from ipywidgets.embed import dependency_state

from .paths import STATIC
from .validation import text
from .widgets.base import FeatureWidget

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ipywidgets import Widget

    from ._types import PathLike

_IPYWIDGETS_TRAITS = {"layout", "tabbable", "tooltip"}

# The file loads nothing: inline scripts and styles, bundles as blob: modules, images as data: URLs.
CSP = "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src data: blob:"
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>{title}</title>
<style>
:root {{ --jp-layout-color0: #ffffff; --jp-layout-color1: #ffffff; --jp-layout-color2: #eeeeee;
  --jp-ui-font-color0: #000000; --jp-ui-font-color1: #1f1f1f; --jp-ui-font-color2: #616161;
  --jp-border-color1: #bdbdbd; --jp-border-color2: #e0e0e0; color-scheme: light; }}
@media (prefers-color-scheme: dark) {{ :root {{ --jp-layout-color0: #111111; --jp-layout-color1: #1c1c1c;
  --jp-layout-color2: #2b2b2b; --jp-ui-font-color0: #ffffff; --jp-ui-font-color1: #e0e0e0;
  --jp-ui-font-color2: #a8a8a8; --jp-border-color1: #616161; --jp-border-color2: #3a3a3a; color-scheme: dark; }} }}
body {{ margin: 24px; background: var(--jp-layout-color0); color: var(--jp-ui-font-color1);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }}
h1 {{ font-size: 18px; font-weight: 600; }}
.fv-export-widget {{ margin: 0 0 28px 0; max-width: 1100px; }}
.fv-export-row {{ display: flex; flex-flow: row wrap; align-items: flex-start; gap: 0 12px; }}
.fv-export-row > .fv-export-widget {{ flex: 0 0 auto; width: min-content; max-width: 100%; }}
.fv-export-row > .fv-export-widget + .fv-export-widget {{ flex: 1 1 420px; width: auto; min-width: min(420px, 100%); }}
.fv-export-note {{ max-width: 1100px; color: var(--jp-ui-font-color2); font-size: 13px; }}
</style>
</head>
<body>
<h1>{title}</h1>
{note}<div id="featureviz-root"></div>
<script type="application/json" id="featureviz-data">{data}</script>
<script type="module">{runtime}</script>
</body>
</html>
"""


def export_html(
    widgets: Widget | Sequence[Widget],
    path: PathLike,
    *,
    title: str = "featureviz",
    link: bool = False,
    page_budget_mb: float = 10.0,
) -> Path:
    """Write `widgets` to one offline HTML file (no kernel, no network needed to open it).

    The file is written to a temporary file beside `path` and renamed, so a failed export leaves an existing
    report as it was; missing folders are created.

    Parameters
    ----------
    widgets : widget or list of widgets
        featureviz widgets, drawn from their current state; an `Explorer` (or another ipywidgets box of them)
        adds its children side by side, linked to each other.
    path : str or path
        The HTML file to write.
    title : str, default "featureviz"
        The page title.
    link : bool, default False
        Link their feature selection in the page, as `link` does in a kernel.
    page_budget_mb : float, default 10.0
        Caps the JSON of the dashboard pages stored (about 5-30 kB each): with link=True the pages of every
        feature another widget can select come first; those that do not fit are left out, named in a warning and
        in the file.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    widgets, groups = _expand_boxes(list(widgets) if isinstance(widgets, (list, tuple)) else [widgets])
    if not widgets:
        raise ValueError("nothing to export: pass at least one widget")
    if title:
        text(title, "title")  # a lone surrogate cannot be written: say so before anything is touched
    if not page_budget_mb > 0:
        raise ValueError(f"page_budget_mb must be a positive number of megabytes, got {page_budget_mb!r}")
    for widget in widgets:
        if not hasattr(widget, "_esm"):
            raise TypeError(f"export_html takes featureviz widgets, got {type(widget).__name__}")
    # What a click in one widget can select in the others (the dashboards need those pages): every linked one's.
    selectable = list(
        dict.fromkeys(
            f
            for w, group in zip(widgets, groups)
            if (link or group is not None) and w.has_trait("selected_feature")
            for f in w.feature_ids
        )
    )
    budget = page_budget_mb * 1e6
    bundles, saved, left_out = {}, [], []
    for widget, group in zip(widgets, groups):
        # ipywidgets' public embed state: the JSON state, binary parts split out as base64 with their paths
        embedded = dependency_state([widget], drop_defaults=False)[widget.model_id]
        state = embedded["state"]
        esm = state.pop("_esm")
        esm = esm if isinstance(esm, str) else Path(esm).read_text()
        bundle = hashlib.sha1(esm.encode()).hexdigest()[:12]  # a bundle shared by widgets is stored once
        bundles[bundle] = esm
        state = {k: v for k, v in state.items() if not k.startswith("_") and k not in _IPYWIDGETS_TRAITS}
        buffers = [{"path": b["path"], "data": b["data"]} for b in embedded.get("buffers", []) if b["path"][0] in state]
        responses, overrides, used, missing = (
            widget._export_responses(selectable, budget) if isinstance(widget, FeatureWidget) else ({}, {}, 0, [])
        )
        budget -= used
        left_out += [f for f in missing if f not in left_out]
        state.update(overrides)
        saved.append(
            {
                "bundle": bundle,
                "state": state,
                "buffers": buffers,
                "responses": responses,
                "hook": getattr(widget, "selection_hook", None),  # the runtime links selections within one hook
                "group": group,  # the children of one box: one row, linked to each other
            }
        )
    note = ""
    if left_out:
        message = (
            f"dashboard pages of {len(left_out)} selectable feature(s) were left out of this file to keep "
            f"it within page_budget_mb={page_budget_mb:g}: {_shorten(left_out)}; clicking them shows "
            f"that their page is missing (export with a larger page_budget_mb to include them)"
        )
        warnings.warn(f"export_html: {message}", stacklevel=2)
        note = f'<p class="fv-export-note" id="featureviz-note">Note: {html.escape(message)}.</p>\n'
    data = {"bundles": bundles, "widgets": saved, "link_selection": bool(link), "left_out": left_out}
    runtime = (STATIC / "export_runtime.js").read_text()
    if "</script" in runtime.lower():
        raise RuntimeError("the export runtime bundle contains '</script': it cannot be inlined safely")
    page = PAGE.format(csp=CSP, title=html.escape(title), note=note, data=_json_for_script(data), runtime=runtime)
    return _write_atomic(Path(path), page.encode("utf-8"))  # encoding fails (a lone surrogate) before any write


def _expand_boxes(items: list) -> tuple[list, list[int | None]]:
    """The widgets to export, a box of featureviz widgets (`fv.Explorer`) replaced by its children, and per
    widget the index of its box (None: given on its own)."""
    widgets, groups = [], []
    for index, item in enumerate(items):
        if isinstance(item, Box) and not hasattr(item, "_esm"):
            children = list(item.children)
            if not children or not all(isinstance(c, FeatureWidget) for c in children):
                names = sorted({type(c).__name__ for c in children if not isinstance(c, FeatureWidget)})
                raise TypeError(
                    f"export_html takes featureviz widgets, or a box (fv.Explorer) of them; "
                    f"{type(item).__name__} holds {', '.join(names) or 'nothing'}"
                )
            widgets += children
            groups += [index] * len(children)
        else:
            widgets.append(item)
            groups.append(None)
    return widgets, groups


def _shorten(features: list[int], shown: int = 30) -> str:
    listed = ", ".join(str(f) for f in features[:shown])
    return listed + (f" and {len(features) - shown} more" if len(features) > shown else "")


def _write_atomic(path: Path, content: bytes) -> Path:
    """Write beside `path` and rename over it: `path` is either its old self or complete, never truncated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would have made it (mkstemp makes 0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _json_for_script(data) -> str:
    """JSON that cannot close its <script> element: <, > and & become unicode escapes (still valid JSON)."""
    return (
        json.dumps(data, separators=(",", ":"), allow_nan=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
