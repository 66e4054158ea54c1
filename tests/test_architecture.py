"""The layers of docs/architecture.md, kept by import-linter: `lint-imports` (the contracts in
pyproject.toml) passes on the package, and fails when a lower part imports a higher one."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")


def _lint(package_root: Path) -> subprocess.CompletedProcess:
    assert LINT, "lint-imports is missing: pip install -e '.[dev]' (import-linter)"
    return subprocess.run([LINT, "--no-cache", str(ROOT / "pyproject.toml")], cwd=package_root,
                          env={"PYTHONPATH": str(package_root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


def test_the_package_keeps_every_contract():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize("module, line, broken, upward", [
    # results that know how they are drawn (the circle recording -> plot -> analysis -> recording)
    ("recording/results.py", "from ..analysis import chartkit", "recording does not know how results are drawn", True),
    # the model importing the engine that drives it
    ("runtime/runtime.py", "from ..engine import simulation", "the runtime model imports no other part", True),
    # the model importing its own checker (a module beside it, so no layer is crossed)
    ("runtime/stack.py", "from .invariants import check_state", "the model does not know its checker", False),
    # a chart module importing the engine, even inside a function
    ("analysis/plots.py", "def _f():\n    from ..engine import simulation", "analysis works from frames", True),
    # anything importing the command line
    ("sweep/params.py", "from .. import cli", "nothing imports the command line", True),
])
def test_an_import_against_the_layers_breaks_a_contract(tmp_path, module, line, broken, upward):
    shutil.copytree(ROOT / "simstack", tmp_path / "simstack", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    path = tmp_path / "simstack" / module
    path.write_text(path.read_text() + "\n" + line + "\n")
    out = _lint(tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    named = [ln for ln in out.stdout.splitlines() if broken in ln]
    assert named and named[0].rstrip().endswith("BROKEN"), out.stdout  # the summary line of the contract
    assert ("layers only look down (docs/architecture.md) BROKEN" in out.stdout) == upward, out.stdout


# --- one source for each fact --------------------------------------------------------
def test_the_scenario_names_the_versions_platforms_and_event_kinds_the_model_has():
    from simstack.recording import recorder
    from simstack.runtime import profiles, tracebuf
    from simstack.scenario import model

    assert model.VERSIONS == tuple(profiles.VERSIONS) and model.PLATFORMS == tuple(profiles.PLATFORMS)
    assert model.EVENT_KINDS is tracebuf.EVENT_KINDS is recorder.EVENT_KINDS


def test_size_columns_is_defined_once_and_skips_columns_that_name_no_size():
    """The chart's and the recorder's copies had no ``isdigit`` test: a column such as
    ``n_total`` made them raise (int('total')); the tidy/data copy skipped it."""
    import pandas as pd

    from simstack.analysis import charts, data
    from simstack.recording import recorder, tidy

    frame = pd.DataFrame(columns=["time", "n_16384", "n_2048", "n_total", "stack_inuse", "n_4096"])
    assert tidy.size_columns(frame) == ["n_2048", "n_4096", "n_16384"]
    assert data.size_columns is charts.size_columns is recorder.size_columns is tidy.size_columns


def test_each_helper_is_defined_once():
    import re

    src = {p: p.read_text() for p in (ROOT / "simstack").rglob("*.py")}
    for name in ("round2", "size_columns", "growth_shrink_series", "write_charts"):
        defs = [str(p.relative_to(ROOT)) for p, text in src.items() if re.search(rf"^def _?{name}\(", text, re.M)]
        assert len(defs) == 1, (name, defs)
    for name in ("VERSIONS", "PLATFORMS", "EVENT_KINDS"):
        defs = [str(p.relative_to(ROOT)) for p, text in src.items()
                if re.search(rf"^{name}(: \w+)? = [\(\{{]", text, re.M)]
        assert len(defs) == 1, (name, defs)
