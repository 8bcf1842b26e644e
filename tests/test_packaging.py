"""Installs: the build hook knows every JS bundle, and the README and every Colab cell install from the one
source URL in pyproject.toml (featureviz is not on PyPI: `pip install featureviz` must appear nowhere)."""

import re
import sys
from pathlib import Path

import nbformat
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SOURCE = PYPROJECT["project"]["urls"]["Source"]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
UNREGISTERED = re.compile(r"pip install[^\n]*\sfeatureviz(\s|$|\[)")


def test_build_hook_ensures_one_bundle_per_view():
    views = {f"src/featureviz/static/{p.stem}.js" for p in (ROOT / "js" / "src").glob("*.ts")}
    hook = PYPROJECT["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    assert set(hook["ensured-targets"]) == views, "a new js/src/*.ts needs its bundle in ensured-targets"
    assert set(hook["skip-if-exists"]) == views
    assert "hatch-jupyter-builder" in " ".join(PYPROJECT["build-system"]["requires"])


def test_readme_installs_from_the_source_url():
    readme = (ROOT / "README.md").read_text()
    assert f"pip install git+{SOURCE}\n" in readme
    assert not UNREGISTERED.search(readme)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_colab_cell_installs_from_the_source_url(notebook):
    nb = nbformat.read(notebook, as_version=4)
    colab = next(c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source)
    assert 'USE_HUB = "google.colab" in sys.modules' in colab.source
    assert f"%pip install -q git+{SOURCE}\n" in colab.source + "\n"
    text = "\n".join(c.source for c in nb.cells)
    assert not UNREGISTERED.search(text), "featureviz is not on PyPI"
    assert text.count("USE_HUB =") == 1, "USE_HUB is set once, in the Colab cell"
