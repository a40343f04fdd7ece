"""Notebook pairs stay in sync, carry a kernelspec, hold no pipeline logic, and the runner reports failures."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbformat
import pytest

from deepfake_detection.notebook_runner import NOTEBOOK_DIR, NotebookFailed, inject_parameters, notebook_sources, run_notebook

SOURCES = notebook_sources()


def _code_cells(notebook) -> list[str]:
    return [c.source.strip() for c in notebook.cells if c.cell_type == "code"]


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_pair_in_sync_with_kernelspec(source: Path):
    twin = source.with_suffix(".ipynb")
    assert twin.exists(), f"{source.name} has no paired {twin.name}"
    from_py, from_ipynb = jupytext.read(source), nbformat.read(twin, as_version=4)
    assert _code_cells(from_py) == _code_cells(from_ipynb), f"{source.name} and {twin.name} differ in code"
    for notebook in (from_py, from_ipynb):
        assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_notebook_holds_no_pipeline_logic(source: Path):
    notebook = jupytext.read(source)
    assert notebook.cells[0].cell_type == "markdown", "first cell must say what the notebook answers"
    assert "parameters" in notebook.cells[1].metadata.get("tags", []), "second cell must be the parameters cell"
    for position, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.While)), \
                f"{source.name}: logic belongs in the package, not in a cell:\n{cell.source}"
        if position != 1:  # the parameters cell may list as many settings as it needs
            assert len(cell.source.strip().splitlines()) <= 12, f"{source.name}: cell too long:\n{cell.source}"


def test_notebooks_are_numbered_in_order():
    assert NOTEBOOK_DIR.is_dir()
    stems = [s.stem for s in SOURCES]
    assert stems == sorted(stems)


def test_runner_injects_parameters_and_reports_failure(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    source = folder / "01_demo.py"
    source.write_text(
        '# %% [markdown]\n# What this answers.\n\n'
        '# %% tags=["parameters"]\nVALUE = 1\n\n'
        '# %%\nassert VALUE == 2, "parameters were not injected"\n\n'
        '# %%\nraise ValueError("boom")\n'
    )
    notebook = jupytext.read(source)
    inject_parameters(notebook, {"VALUE": 2})
    assert notebook.cells[2].source.endswith("VALUE = 2")
    with pytest.raises(NotebookFailed, match=r"01_demo.py failed[\s\S]*boom"):
        run_notebook(source, {"VALUE": 2}, tmp_path / "build")
    assert (tmp_path / "build" / "01_demo.ipynb").exists()
