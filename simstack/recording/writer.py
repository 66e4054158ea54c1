"""Write a run's results atomically: everything goes to a temporary sibling directory,
which replaces the target in one rename once every file is complete."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from .results import FILES, Result


class OutputError(Exception):
    """The output directory cannot be used (exists and is not a simstack result)."""


def _replaceable(d: Path) -> bool:
    return not d.exists() or (d.is_dir() and ((d / "summary.json").is_file() or not any(d.iterdir())))


def write_results(result: Result, directory, charts: bool = True) -> Path:
    """Write every file of the output contract into ``directory`` (replacing an older run)."""
    target = Path(directory)
    if not _replaceable(target):
        raise OutputError(f"{target}: exists and is not a simstack result directory; not overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        for key, name in FILES.items():
            df = getattr(result, key)
            if name.endswith(".csv"):
                df.to_csv(tmp / name, index=False)
            else:
                df.to_parquet(tmp / name, index=False)
        if charts:
            from ..analysis.charts import write_charts
            write_charts(result, tmp / "charts")
        # summary.json last: its presence marks a complete result
        (tmp / "summary.json").write_text(json.dumps(result.summary, indent=2, sort_keys=True, default=_default))
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "model_dump"):
        return o.model_dump()
    return str(o)
