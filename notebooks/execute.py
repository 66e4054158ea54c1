"""Run each notebook top to bottom and save it with its outputs, as committed.

    python notebooks/execute.py [NAME.ipynb ...]

The same execution as tests/test_notebooks.py (nbclient, kernel ``python3``, from this
folder), so the outputs in the repository are what a fresh run produces.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent
NAMES = ["quickstart.ipynb", "whatif-study.ipynb", "runtime-mechanics.ipynb", "fit-service.ipynb"]


def execute(path: Path) -> None:
    """Execute ``path`` in a fresh kernel from this folder and write it back with its outputs."""
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(nb, path)


if __name__ == "__main__":
    for name in sys.argv[1:] or NAMES:
        execute(HERE / name)
        print(f"{name}: executed and saved")
