"""The example notebooks (docs/examples, jupytext Markdown) run top to bottom, so they never rot.

Each is executed in a Jupyter kernel (nbclient) with small numbers: a cell setting them is
inserted after the notebook's cell tagged ``parameters`` (papermill's convention), and its
results go to a temporary folder.
"""

from __future__ import annotations

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "docs" / "examples"
SMALL = {
    "baseline.md": {"RUNS": 40, "WORKERS": 1},
    "sweep_discovery.md": {"SOBOL_POINTS": 4, "LHS_POINTS": 30, "REPS": 4, "WORKERS": 1},
    "counterfactual.md": {"RUNS": 40, "WORKERS": 1},
}


def test_every_example_is_listed_here():
    assert sorted(p.name for p in EXAMPLES.glob("*.md") if p.name != "README.md") == sorted(
        SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_example_notebook_runs(name, tmp_path):
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    notebook = jupytext.read(EXAMPLES / name)
    cells = notebook.cells
    where = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(where) == 1, f"{name}: one code cell must be tagged 'parameters'"
    values = {**SMALL[name], "OUT": str(tmp_path / "out")}
    source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    cells.insert(where[0] + 1, nbformat.v4.new_code_cell(source))
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, f"{name} showed no figure"
    assert (tmp_path / "out").exists()
