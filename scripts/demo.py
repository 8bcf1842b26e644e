"""`make demo`: the kit on the embedded default, offline.

Interactive: opens JupyterLab on the tutorials (with --allow-root when run as root). HEADLESS=1 (--headless):
executes every tutorial notebook into demo-output/ (git-ignored) with widget state stored, printing each
notebook and each cell with its time as it runs, prints what the first one found, and exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"
sys.path.insert(0, str(ROOT / "scripts"))

from run_notebook import execute  # noqa: E402


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def headless() -> int:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    print(
        f"Running {len(notebooks)} tutorials into {OUT.relative_to(ROOT)}/ (about 12 min on a shared 2-core "
        "machine, see README) ...",
        flush=True,
    )
    start = time.perf_counter()
    for number, notebook in enumerate(notebooks, 1):
        target = OUT / notebook.name
        print(f"[{number}/{len(notebooks)}] {notebook.relative_to(ROOT)}", flush=True)
        began = time.perf_counter()
        nb = execute(notebook, target, progress=True)
        widgets = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        print(
            f"  wrote {target.relative_to(ROOT)} ({target.stat().st_size / 1e6:.2f} MB, "
            f"{len(widgets.get('state', {}))} widget models stored) in {_minutes(time.perf_counter() - began)}"
            f", {_minutes(time.perf_counter() - start)} so far",
            flush=True,
        )
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                text = output.get("data", {}).get("text/plain") or output.get("text")
                if notebook.name.startswith("01") and text and "frac_active" in text:
                    print(
                        "\n  top features on the demo prompts:\n"
                        + "\n".join("    " + line for line in text.splitlines())
                    )
    print(f"\nOpen the executed notebooks in JupyterLab to interact: .venv/bin/jupyter lab {OUT.relative_to(ROOT)}")
    return 0


def lab_command(notebook: Path) -> list[str]:
    """The `jupyter lab` command line: CurveZMQ-encrypted kernel channels (no plain-text TCP warning), and
    --allow-root when running as root (e.g. in a container), which Jupyter otherwise refuses."""
    command = [
        str(Path(sys.executable).parent / "jupyter"),
        "lab",
        str(notebook),
        "--KernelManager.transport_encryption=auto",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def interactive() -> int:
    print("Starting JupyterLab on the tutorials (Ctrl+C to stop) ...", flush=True)
    try:
        return subprocess.run(lab_command(ROOT / "notebooks" / "01_first_heatmap.ipynb"), check=False).returncode
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(headless() if "--headless" in sys.argv else interactive())
