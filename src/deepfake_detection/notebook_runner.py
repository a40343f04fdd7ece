"""Run the paired notebooks headless, in numeric order, with parameters injected after the parameters cell.

Executed copies go to a build folder (`build/notebooks/` by default), never back into `notebooks/`, so
a run leaves the repository clean. A failing cell stops the run and names the notebook and the cell.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KERNEL_NAME = "python3"


@dataclass
class NotebookRun:
    """Outcome of one executed notebook."""

    name: str
    seconds: float
    output: Path


class NotebookFailed(RuntimeError):
    """A cell raised: carries the notebook name and the traceback text."""


def notebook_dir(start: Path | None = None) -> Path:
    """The checkout's notebooks/ folder (config.project_root), wherever the package is installed."""
    from deepfake_detection.config import project_root

    return project_root(start) / "notebooks"


def notebook_sources(folder: Path | None = None) -> list[Path]:
    """The jupytext `.py` notebooks, in the numeric order of their names (01_, 02_, ...)."""
    return sorted(p for p in (folder or notebook_dir()).glob("[0-9][0-9]_*.py"))


def inject_parameters(notebook, parameters: dict) -> None:
    """Insert a code cell assigning `parameters` right after the cell tagged `parameters` (papermill style)."""
    import nbformat

    lines = [f"{name} = {value!r}" for name, value in parameters.items()]
    cell = nbformat.v4.new_code_cell("# Parameters injected by the notebook runner\n" + "\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    position = next((i + 1 for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])), 0)
    notebook.cells.insert(position, cell)


def run_notebook(source: Path, parameters: dict, out_dir: Path, timeout_s: int = 1800) -> NotebookRun:
    """Execute one jupytext notebook with nbclient in the repo root; raise NotebookFailed on a cell error."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernel inherits it: no TF C++ chatter in outputs
    notebook = jupytext.read(source)
    inject_parameters(notebook, parameters)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{source.stem}.ipynb"
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": str(source.parents[1])}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        nbformat.write(notebook, output)
        raise NotebookFailed(f"{source.name} failed (partial output in {output}):\n{exc}") from exc
    finally:
        seconds = time.perf_counter() - start
    nbformat.write(notebook, output)
    return NotebookRun(source.stem, seconds, output)


def run_notebooks(parameters: dict, out_dir: Path = Path("build/notebooks"), only: list[str] | None = None,
                  folder: Path | None = None) -> list[NotebookRun]:
    """Run every notebook (or those whose name starts with one of `only`) in order; stop at the first failure."""
    runs = []
    for source in notebook_sources(folder):
        if only and not any(source.stem.startswith(prefix) for prefix in only):
            continue
        log.info("running %s", source.name)
        runs.append(run_notebook(source, parameters, out_dir))
        log.info("%s finished in %.1f s", source.name, runs[-1].seconds)
    return runs
