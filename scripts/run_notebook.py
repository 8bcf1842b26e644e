"""Execute a tutorial notebook offline with widget state stored (what CI and `make demo HEADLESS=1` do), and
sign it so Jupyter trusts it.

    python scripts/run_notebook.py notebooks/01_first_heatmap.ipynb out.ipynb

It prints one line per code cell as it runs (its first line and how long it took).

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
from traitlets.config import Config

# The kernel's channels are CurveZMQ-encrypted when the kernelspec supports it (ipykernel does): no plain-text
# traffic over local TCP, and no "Kernel is running over TCP without encryption" warning per notebook.
KERNEL_CONFIG = Config({"KernelManager": {"transport_encryption": "auto"}})


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


class CellProgress:
    """Prints a line per code cell while a notebook runs: its number, its first line of code, and how long it
    took (written when the cell starts and finished when it ends, so a long cell shows what it is doing)."""

    def __init__(self, nb: nbformat.NotebookNode, indent: str = "  ") -> None:
        self.total = sum(1 for c in nb.cells if c.cell_type == "code" and c.source.strip())
        self.count, self.indent, self.started_at = 0, indent, time.perf_counter()

    def start(self, cell, cell_index: int) -> None:
        self.count += 1
        self.started_at = time.perf_counter()
        lines = [line.strip() for line in cell.source.splitlines()]
        first = next((line for line in lines if line and not line.startswith("#")), "")
        first = first if len(first) <= 60 else first[:57] + "..."
        print(f"{self.indent}cell {self.count:>2}/{self.total}  {first:<60}", end="", flush=True)

    def end(self, cell, cell_index: int, execute_reply) -> None:
        print(f" {time.perf_counter() - self.started_at:6.1f} s", flush=True)


def execute(
    source: Path,
    target: Path,
    timeout: int = 900,
    *,
    trust: bool = True,
    data_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel and save the result with widget state, signed (trusted) unless
    trust=False; data_dir as for `sign`; progress=True prints a line per cell (CellProgress). The kernel works
    in the target's folder, so files a tutorial writes (e.g. its data/ folder) land beside its output."""
    nb = nbformat.read(source, as_version=4)
    target.parent.mkdir(parents=True, exist_ok=True)
    env_before = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # the kernel inherits it: tutorials never reach a hub here
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            store_widget_state=True,
            resources={"metadata": {"path": str(target.resolve().parent)}},
            config=KERNEL_CONFIG,
        )
        if progress:
            cells = CellProgress(nb)
            client.on_cell_execute, client.on_cell_executed = cells.start, cells.end
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
    execute(source, target, progress=True)
    size = target.stat().st_size
    print(f"executed {source} -> {target} in {time.perf_counter() - start:.1f} s ({size / 1e6:.2f} MB, signed)")


if __name__ == "__main__":
    main(sys.argv[1:])
