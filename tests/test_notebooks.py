"""Every tutorial runs end to end offline, with widget state stored, and stays small."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("run_notebook", ROOT / "scripts" / "run_notebook.py")
run_notebook = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebook)


def test_there_are_tutorials():
    assert NOTEBOOKS, "notebooks/ holds no tutorials"


@pytest.mark.embedded
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_tutorial_runs_offline_with_widget_state(notebook, tmp_path):
    target = tmp_path / notebook.name
    nb = run_notebook.execute(notebook, target)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    views = [
        json.loads(json.dumps(o["data"]["application/vnd.jupyter.widget-view+json"]))["model_id"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert views and all(v in state for v in views), "every displayed widget has its state saved"
    assert target.stat().st_size < 5_000_000
    written = {p.name for p in tmp_path.iterdir()} - {notebook.name}
    assert written <= {"data"}, f"tutorials write their files under data/ (git-ignored): {written}"
