"""API docs (issue 15.6): every public function has numpydoc Parameters (where it takes any) and Returns
sections, every public widget documents its own class and its __init__ arguments. `make docs` renders them
with pdoc."""

import inspect
from itertools import pairwise

import anywidget
import pytest

import featureviz as fv
import featureviz.vision as V

PUBLIC = [
    (f"{m.__name__}.{n}", getattr(m, n)) for m in (fv, V) for n in m.__all__ if not inspect.ismodule(getattr(m, n))
]
FUNCTIONS = [(n, o) for n, o in PUBLIC if inspect.isfunction(o)]
WIDGETS = [(n, o) for n, o in PUBLIC if inspect.isclass(o) and issubclass(o, anywidget.AnyWidget)]


def _section(doc: str, name: str) -> bool:
    lines = inspect.cleandoc(doc or "").splitlines()
    return any(line == name and following.startswith("---") for line, following in pairwise(lines))


@pytest.mark.parametrize("name, function", FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_public_function_has_numpydoc_sections(name, function):
    takes_arguments = bool(inspect.signature(function).parameters)
    assert _section(function.__doc__, "Parameters") or not takes_arguments, f"{name}: no Parameters section"
    assert _section(function.__doc__, "Returns"), f"{name}: no Returns section"


@pytest.mark.parametrize("name, widget", WIDGETS, ids=[n for n, _ in WIDGETS])
def test_widget_documents_itself_and_its_arguments(name, widget):
    assert "__doc__" in vars(widget) and widget.__doc__, f"{name} inherits AnyWidget's docstring"
    assert _section(widget.__init__.__doc__, "Parameters"), f"{name}.__init__: no Parameters section"
    documented = inspect.cleandoc(widget.__init__.__doc__)
    for parameter in list(inspect.signature(widget.__init__).parameters)[1:]:
        assert parameter in documented, f"{name}.__init__ does not document {parameter}"
