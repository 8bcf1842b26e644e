"""`make demo`: the kit on the embedded default, offline.

Interactive: opens JupyterLab on the tutorials. HEADLESS=1 (--headless): executes every tutorial notebook into
.demo-output/ with widget state stored, prints what the first one found, and exits.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from run_notebook import execute  # noqa: E402


def headless() -> None:
    out = ROOT / ".demo-output"
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        target = out / notebook.name
        print(f"running {notebook.relative_to(ROOT)} ...", flush=True)
        nb = execute(notebook, target)
        widgets = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        print(f"  wrote {target.relative_to(ROOT)} ({target.stat().st_size / 1e6:.2f} MB, "
              f"{len(widgets.get('state', {}))} widget models stored)")
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                text = output.get("data", {}).get("text/plain") or output.get("text")
                if notebook.name.startswith("01") and text and "frac_active" in text:
                    print("\n  top features on the demo prompts:\n" + "\n".join("    " + l for l in text.splitlines()))
    print(f"\nOpen the executed notebooks in JupyterLab to interact: .venv/bin/jupyter lab {out.relative_to(ROOT)}")


def interactive() -> None:
    print("Starting JupyterLab on the tutorials (Ctrl+C to stop) ...", flush=True)
    jupyter = Path(sys.executable).parent / "jupyter"
    subprocess.run([str(jupyter), "lab", str(ROOT / "notebooks" / "01_first_heatmap.ipynb")], check=False)


if __name__ == "__main__":
    headless() if "--headless" in sys.argv else interactive()
