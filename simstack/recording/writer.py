"""Write a run's results atomically: everything goes to a temporary sibling directory,
which replaces the target in one rename once every file is complete."""
from __future__ import annotations

import json
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from .results import FILES, Result

Charts = Callable[[Result, Path], object]  # draws a result's charts into a directory


class OutputError(Exception):
    """The output directory cannot be used (exists and is not a simstack result)."""


def _replaceable(d: Path) -> bool:
    return not d.exists() or (d.is_dir() and ((d / "summary.json").is_file() or not any(d.iterdir())))


def check_output_dir(directory) -> None:
    """Raise OutputError if ``directory`` exists and is not something ``write_results`` may replace."""
    d = Path(directory)
    if not _replaceable(d):
        raise OutputError(f"{d}: exists and is not a simstack result directory; not overwriting it")


@contextmanager
def staged(directory):
    """A hidden sibling ``.NAME.tmp-XXXX`` of ``directory`` to write a result into; it
    becomes ``directory`` by rename when the block ends normally, and is deleted if it
    raises, so ``directory`` is either the old content or the whole new result.
    ``OutputError`` if ``directory`` holds something other than a simstack result (no
    ``summary.json``) and is not empty."""
    target = Path(directory)
    check_output_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    tmp.mkdir()  # not tempfile.mkdtemp: that makes it 0700, and it becomes the output directory
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_in(tmp, target)


def write_results(result: Result, directory, charts: Charts | None = None) -> Path:
    """Write every file of the output contract into ``directory`` (replacing an older run),
    atomically (:func:`staged`); ``charts`` draws the ``charts/`` folder (see :func:`finish_result`)."""
    with staged(directory) as tmp:
        for key, name in FILES.items():
            df = getattr(result, key)
            if name.endswith(".csv"):
                df.to_csv(tmp / name, index=False)
            else:
                df.to_parquet(tmp / name, index=False)
        finish_result(result, tmp, charts)
    return Path(directory)


def finish_result(result: Result, tmp: Path, charts: Charts | None) -> None:
    """The charts, if given a function to draw them (``charts(result, tmp / "charts")``, from the
    frames in ``result`` or, those it lacks, the files in ``tmp``: the command writing the result
    passes ``simstack.analysis.chartset.write_charts``), then ``summary.json``, written last:
    its presence marks a complete result."""
    if charts:
        charts(result, tmp / "charts")
    (tmp / "summary.json").write_text(json.dumps(result.summary, indent=2, sort_keys=True, default=_default))


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write one file by rename from a sibling temporary file: ``path`` is the old or the whole new content."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    tmp.replace(path)


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an older result is renamed away first, deleted only
    once the new one is in place, and put back if that rename fails."""
    old = None
    try:
        if target.exists():
            old = target.with_name(f".{target.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
            target.rename(old)
        tmp.rename(target)
    except BaseException:
        if old is not None and not target.exists():
            old.rename(target)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "model_dump"):
        return o.model_dump()
    return str(o)
