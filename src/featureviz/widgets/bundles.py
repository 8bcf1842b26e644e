"""Where each widget's JS view comes from: the esbuild bundle in featureviz/static/.

A source checkout without a JS build still imports (the analysis functions need no browser); its widgets
then show one line saying how to build the views instead of failing at import time.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..paths import STATIC


def bundle(name: str) -> Path | str:
    """The bundle for js/src/<name>.ts, or a tiny view that explains it is missing."""
    path = STATIC / f"{name}.js"
    if path.exists():
        return path
    message = json.dumps(f"featureviz: the {name} view is not built (run `make js`, or `npm run build` in js/).")
    return f"export default {{ render({{ el }}) {{ el.textContent = {message}; }} }};"
