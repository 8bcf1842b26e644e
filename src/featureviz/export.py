"""One self-contained HTML file from live widgets: bundles, state and binary data inlined, no CDN, no kernel.

Everything a view does in the browser keeps working (hover, sorting, the interpolation slider, ...). Where a
widget would ask Python (the dashboard moving to another feature), the answers are precomputed at export
time by the widget's `_export_responses()` and replayed by a small runtime (js/src/export_runtime.ts).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from pathlib import Path

from ipywidgets.widgets.widget import _remove_buffers

STATIC = Path(__file__).parent / "static"
_IPYWIDGETS_TRAITS = {"layout", "tabbable", "tooltip"}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src data: blob:">
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
</style>
</head>
<body>
<h1>{title}</h1>
<div id="featureviz-root"></div>
<script type="application/json" id="featureviz-data">{data}</script>
<script type="module">{runtime}</script>
</body>
</html>
"""


def export_html(widgets, path, *, title: str = "featureviz", link: bool = False) -> Path:
    """Write `widgets` (one or a list) to one offline HTML file; link=True links their feature selection."""
    widgets = list(widgets) if isinstance(widgets, (list, tuple)) else [widgets]
    if not widgets:
        raise ValueError("nothing to export: pass at least one widget")
    bundles, saved = {}, []
    for widget in widgets:
        if not hasattr(widget, "_esm"):
            raise TypeError(f"export_html takes featureviz widgets, got {type(widget).__name__}")
        state = widget.get_state()
        esm = state.pop("_esm")
        esm = esm if isinstance(esm, str) else Path(esm).read_text()
        bundle = hashlib.sha1(esm.encode()).hexdigest()[:12]  # a bundle shared by widgets is stored once
        bundles[bundle] = esm
        state = {k: v for k, v in state.items() if not k.startswith("_") and k not in _IPYWIDGETS_TRAITS}
        state, paths, buffers = _remove_buffers(state)
        responses = widget._export_responses() if hasattr(widget, "_export_responses") else {}
        saved.append({
            "bundle": bundle,
            "state": state,
            "buffers": [{"path": p, "data": base64.b64encode(bytes(b)).decode()} for p, b in zip(paths, buffers)],
            "responses": responses,
        })
    data = {"bundles": bundles, "widgets": saved, "link_selection": bool(link)}
    runtime = (STATIC / "export_runtime.js").read_text()
    if "</script" in runtime.lower():
        raise RuntimeError("the export runtime bundle contains '</script': it cannot be inlined safely")
    page = PAGE.format(title=html.escape(title), data=_json_for_script(data), runtime=runtime)
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path


def _json_for_script(data) -> str:
    """JSON that cannot close its <script> element: <, > and & become unicode escapes (still valid JSON)."""
    return (json.dumps(data, separators=(",", ":"), allow_nan=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
