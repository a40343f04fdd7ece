"""Notebook pairs stay in sync, carry a kernelspec, hold no pipeline logic, and the runner reports failures."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbformat
import pytest

from deepfake_detection.notebook_runner import (
    NotebookFailed,
    inject_parameters,
    notebook_dir,
    notebook_sources,
    run_notebook,
    run_notebooks,
)

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


def test_notebooks_are_numbered_01_to_n_and_none_is_skipped():
    on_disk = sorted(p.name for p in notebook_dir().glob("*.py"))
    assert sorted(s.name for s in SOURCES) == on_disk, "a notebook the runner does not pick up"
    assert [int(s.name.split("_")[0]) for s in SOURCES] == list(range(1, len(on_disk) + 1))
    stems = [s.stem for s in SOURCES]
    # the submission is made from every trained model; single-video detection comes after, with the shipped zoo
    assert stems.index("08_stack_and_submit") > max(i for i, stem in enumerate(stems) if "_train_" in stem)


def test_runner_runs_notebooks_in_numeric_order(tmp_path):
    folder, ran = tmp_path / "notebooks", tmp_path / "ran.txt"
    folder.mkdir()
    for stem in ("03_last", "01_first", "02_middle"):  # created out of order
        (folder / f"{stem}.py").write_text(
            '# %% [markdown]\n# Says its name.\n\n# %% tags=["parameters"]\nRAN = ""\n\n'
            f'# %%\nopen(RAN, "a").write("{stem}\\n")\n')
    runs = run_notebooks({"RAN": str(ran)}, tmp_path / "build", folder=folder)
    assert [r.name for r in runs] == ran.read_text().split() == ["01_first", "02_middle", "03_last"]
    ran.unlink()
    assert [r.name for r in run_notebooks({"RAN": str(ran)}, tmp_path / "build", only=["02"], folder=folder)] == \
        ran.read_text().split() == ["02_middle"]


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


def test_notebooks_are_found_from_the_checkout_not_from_the_module_file(tmp_path, monkeypatch):
    """A wheel install puts the package in site-packages: the checkout is found from the working directory."""
    from deepfake_detection.config import project_root

    repo = project_root()
    assert (repo / "notebooks" / "01_eda.py").is_file()
    monkeypatch.chdir(repo / "src")
    assert notebook_dir() == repo / "notebooks"  # found upwards from a subfolder
    fake = tmp_path / "checkout"
    (fake / "notebooks").mkdir(parents=True)
    (fake / "pyproject.toml").write_text('[project]\nname = "deepfake-detection"\n')
    assert notebook_dir(fake / "notebooks") == fake / "notebooks"
    (fake / "pyproject.toml").write_text('[project]\nname = "another-project"\n')
    assert notebook_dir(fake / "notebooks") == repo / "notebooks"  # not this project: the package's own checkout
