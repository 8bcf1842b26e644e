"""Execute a tutorial notebook offline with widget state stored (what CI and `make demo HEADLESS=1` do), and
sign it so Jupyter trusts it.

    python scripts/run_notebook.py notebooks/01_first_heatmap.ipynb out.ipynb

Why sign: Jupyter renders only "safe" mimetypes of an untrusted notebook's outputs, and the widget view
(`application/vnd.jupyter.widget-view+json`) is not one, so an unsigned executed notebook shows each widget's
text/plain repr instead of the widget drawn from its stored state. Running a notebook and saving it in
Jupyter signs it; nbclient does not, so we do, in the user's signature store (the same `JUPYTER_DATA_DIR` that
`jupyter lab` reads).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from jupyter_core.paths import jupyter_data_dir
from nbclient import NotebookClient
from nbformat.sign import NotebookNotary


def sign(path: Path, data_dir: str | os.PathLike | None = None) -> None:
    """Mark the saved notebook at `path` trusted, like `jupyter trust` (which signs the file as read back).
    data_dir: the Jupyter data folder whose signature store to use (default: this user's, from the
    environment, as `jupyter lab` finds it)."""
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    data_dir = Path(data_dir if data_dir is not None else jupyter_data_dir())
    # Before the notary: without the folder (a fresh user) its store would fall back to memory, unsaved.
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with NotebookNotary(data_dir=str(data_dir)) as notary:
        notary.sign(nb)


def execute(source: Path, target: Path, timeout: int = 900, *, trust: bool = True,
            data_dir: str | os.PathLike | None = None) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel and save the result with widget state, signed (trusted) unless
    trust=False; data_dir as for `sign`. The kernel works in the target's folder, so files a tutorial writes
    (e.g. saved dashboard data) land beside its output."""
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
    if trust:
        sign(target, data_dir)
    return nb


def main(argv: list[str]) -> None:
    source, target = Path(argv[0]), Path(argv[1])
    start = time.perf_counter()
    execute(source, target)
    size = target.stat().st_size
    print(f"executed {source} -> {target} in {time.perf_counter() - start:.1f} s ({size / 1e6:.2f} MB, signed)")


if __name__ == "__main__":
    main(sys.argv[1:])
