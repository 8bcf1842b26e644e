"""Execute a tutorial notebook offline with widget state stored (what CI and `make demo HEADLESS=1` do).

    python scripts/run_notebook.py notebooks/01_first_heatmap.ipynb out.ipynb
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(source: Path, target: Path, timeout: int = 900) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel and save the result with widget state. The kernel works in the
    target's folder, so files a tutorial writes (e.g. saved dashboard data) land beside its output."""
    nb = nbformat.read(source, as_version=4)
    target.parent.mkdir(parents=True, exist_ok=True)
    env_before = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # the kernel inherits it: tutorials never reach a hub here
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                                resources={"metadata": {"path": str(target.resolve().parent)}})
        client.execute()
    finally:
        if env_before is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
    nbformat.write(nb, target)
    return nb


def main(argv: list[str]) -> None:
    source, target = Path(argv[0]), Path(argv[1])
    start = time.perf_counter()
    execute(source, target)
    size = target.stat().st_size
    print(f"executed {source} -> {target} in {time.perf_counter() - start:.1f} s ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(sys.argv[1:])
