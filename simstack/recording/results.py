"""A run's results: the frames of the output contract, the summary, and reading them back."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

FILES = {"events": "events.parquet", "footprint": "footprint.parquet", "checkpoints": "checkpoints.csv",
         "goroutines": "goroutines.parquet", "gc": "gc.parquet"}


@dataclass
class Result:
    """Frames of one simulated run (``simstack.run`` or ``read_results``)."""

    events: pd.DataFrame
    footprint: pd.DataFrame
    checkpoints: pd.DataFrame
    goroutines: pd.DataFrame
    gc: pd.DataFrame
    summary: dict = field(default_factory=dict)
    scenario: object | None = None
    # where the files are, for a run written straight to a directory (``simstack.run(output=)``),
    # whose events and goroutines frames stay there (None here): ``read_results`` or ``iter_table``
    directory: Path | None = None

    def headline(self) -> dict:
        """Peak and final StackInuse, growths, shrinks, bytes copied, events, wall time."""
        return dict(self.summary.get("headline", {}))

    @property
    def stack_sizes(self) -> pd.DataFrame:
        """Live user goroutines by stack size over time, long form: ``time``, ``size``, ``goroutines``
        (the footprint's ``n_<size>`` columns, whose set differs between runs)."""
        from .tidy import stack_sizes
        return stack_sizes(self.footprint)

    @property
    def checkpoint_stacks(self) -> pd.DataFrame:
        """The checkpoints' per-class stack histograms as a table: ``label``, ``time``, ``class``,
        ``size``, ``goroutines`` (``goroutine_stacks`` holds them as JSON)."""
        from .tidy import checkpoint_stacks
        return checkpoint_stacks(self.checkpoints)

    @property
    def all_goroutines(self) -> pd.DataFrame:
        """The goroutines table plus the runtime's own goroutines (class ``runtime``, rebuilt
        from their events), by goroutine id."""
        from .tidy import runtime_goroutines
        rt = runtime_goroutines(self.events)
        both = pd.concat([self.goroutines.astype({"class": "string"}), rt], ignore_index=True) if len(rt) \
            else self.goroutines
        return both.sort_values("goroutine", kind="stable").reset_index(drop=True)

    def events_nullable(self) -> pd.DataFrame:
        """A copy of ``events`` with ``<NA>`` instead of -1 in ``goroutine``, ``p``, ``order``, ``span``."""
        from .tidy import nullable_events
        return nullable_events(self.events)

    @property
    def complete(self) -> bool:
        return bool(self.summary.get("complete", False))

    def __repr__(self):
        h = self.headline()
        name = self.summary.get("scenario", {}).get("name", "?")
        n_events = len(self.events) if self.events is not None else h.get("events", 0)
        return (f"<Result {name}: {n_events:,} events, peak StackInuse {h.get('peak_stack_inuse', 0):,} B, "
                f"{h.get('grows', 0):,} grows, {h.get('shrinks', 0):,} shrinks>")


def register_result_accessor(name: str):
    """A class decorator that makes ``result.<name>`` an instance of the class made from the
    Result, as pandas' ``register_dataframe_accessor`` does: how ``simstack.analysis`` adds
    ``result.plot`` without the results knowing how they are drawn."""
    def register(cls):
        setattr(Result, name, _Accessor(cls))
        return cls
    return register


class _Accessor:
    """``Result.<name>``: the accessor class on the class, an accessor of the Result on an instance."""

    def __init__(self, cls):
        self.cls = cls
        self.__doc__ = cls.__doc__

    def __get__(self, result, owner=None):
        return self.cls if result is None else self.cls(result)


def read_results(directory, skip=(), columns: dict | None = None, filters: dict | None = None) -> Result:
    """Read what ``simstack run -o DIR`` (``write_results``) wrote; tables named in ``skip``
    (e.g. the possibly huge ``events``) are not read and come back as None.

    ``columns`` and ``filters`` map a table's name to the columns to read and to the rows
    to keep (``pandas.read_parquet``'s ``filters``: ``[("kind", "==", "grow")]``), so that
    a part of a file larger than memory can be read: row groups are read one at a time
    and only the rows kept are held.
    """
    d = Path(directory)
    summary_path = d / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(f"{d}: not a simstack result directory (no summary.json)")
    columns, filters = columns or {}, filters or {}
    frames = {}
    for key, name in FILES.items():
        path = d / name
        if key in skip:
            frames[key] = None
            continue
        if not path.is_file():
            raise FileNotFoundError(f"{d}: missing {name}")
        if name.endswith(".csv"):
            df = pd.read_csv(path)
            frames[key] = df if key not in columns else df[list(columns[key])]
        else:
            frames[key] = pd.read_parquet(path, columns=columns.get(key), filters=filters.get(key))
    summary = json.loads(summary_path.read_text())
    return Result(summary=summary, directory=d, **frames)


def iter_table(directory, key: str, columns=None, batch_size: int = 1 << 18):
    """A Parquet table of a result directory (``"events"``, ``"goroutines"`` ...) as frames of
    at most ``batch_size`` rows, in order: for passes over a file larger than memory."""
    import pyarrow.parquet as pq

    # pre_buffer (pyarrow's default) reads ahead whole files' worth of column chunks: 360 MB over 70M events
    pf = pq.ParquetFile(Path(directory) / FILES[key], pre_buffer=False)
    for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
        yield batch.to_pandas()
