"""Reading run folders (or bare `metrics.csv` files) into tables that reports and comparisons share."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from egobench.errors import InputError
from egobench.report.columns import METRIC_COLUMNS
from egobench.report.stats import MeanInterval, mean_interval
from egobench.run_folder import MANIFEST, METRICS_CSV, RESULTS_CSV, SUMMARY_CSV, read_json_object
from egobench.sweep import SWEEP_FILE

SUMMARY_COLUMNS = ("metric", "mean", "std", "ci_low", "ci_high", "count")


@dataclass
class Run:
    """One run's scores and description.

    `metrics` is indexed by pair id, with the metric columns as floats (NaN where a cell was empty)
    and the other columns as strings. `summary` is None when the run folder has no `summary.csv`,
    `results` is None when it has no `results.csv`, and `manifest` is empty when only a
    `metrics.csv` file was given.
    """

    path: Path
    metrics: pd.DataFrame
    manifest: dict = field(default_factory=dict)
    summary: pd.DataFrame | None = None
    results: pd.DataFrame | None = None

    @property
    def folder(self) -> Path:
        return self.path if self.path.is_dir() else self.path.parent

    @property
    def method(self) -> str:
        """The preset name from the manifest, else the `method` column, else the folder name."""
        if self.manifest.get("method"):
            return str(self.manifest["method"])
        if "method" in self.metrics.columns:
            names = [name for name in self.metrics["method"].unique() if name]
            if len(names) == 1:
                return names[0]
        return self.folder.name

    @property
    def pair_ids(self) -> list[str]:
        return list(self.metrics.index)

    def metric_names(self) -> list[str]:
        """Return the metric columns that hold at least one value, in table order."""
        return [name for name in METRIC_COLUMNS if name in self.metrics.columns and self.metrics[name].notna().any()]

    def values(self, metric: str) -> pd.Series:
        """Return the per-pair values of `metric`, NaN where a pair was not scored."""
        if metric not in self.metrics.columns:
            return pd.Series(np.nan, index=self.metrics.index, dtype=float)
        return self.metrics[metric]

    def summarize(self, metric: str) -> MeanInterval:
        """Return the mean and 95% interval of `metric`: the `summary.csv` row when there is one, else computed.

        NOTE: a `summary.csv` written before `metrics.csv` was rescored is trusted as it is.
        """
        if self.summary is not None and metric in self.summary.index:
            row = self.summary.loc[metric]
            count = 0 if math.isnan(row["count"]) else int(row["count"])
            return MeanInterval(row["mean"], row["std"], row["ci_low"], row["ci_high"], count)
        return mean_interval(self.values(metric).to_numpy())

    def setting(self, dotted_key: str):
        """Return a setting from the manifest's `config` (`ego.steps`), else a top-level manifest key (`seed`).

        Raises KeyError when neither contains the key.
        """
        node = self.manifest.get("config", {})
        for key in dotted_key.split("."):
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            return node
        if dotted_key in self.manifest:
            return self.manifest[dotted_key]
        raise KeyError(dotted_key)

    def status(self, pair_id: str) -> tuple[str, str]:
        """Return (status, error) from `results.csv`, or ("", "") when the pair has no row there."""
        if self.results is None or pair_id not in self.results.index:
            return "", ""
        row = self.results.loc[pair_id]
        return row.get("status", ""), row.get("error", "")


def expand_sweeps(paths: list[Path] | tuple[Path, ...]) -> tuple[list[Path], list[str]]:
    """Replace each sweep folder (one with sweep.json and no metrics.csv) by its run folders, in sweep order.

    Returns the run paths and the swept keys of every sweep found, first key first.
    """
    expanded: list[Path] = []
    keys: list[str] = []
    for path in map(Path, paths):
        record_path = path / SWEEP_FILE
        if not (path.is_dir() and record_path.is_file() and not (path / METRICS_CSV).is_file()):
            expanded.append(path)
            continue
        record = read_json_object(record_path, "rerun egobench sweep or repair the file")
        runs = record.get("runs")
        if not isinstance(runs, list) or not all(isinstance(run, dict) and "folder" in run for run in runs):
            raise InputError(f"{record_path}: expected a 'runs' list of {{'folder': ...}} records, as egobench sweep writes")
        expanded.extend(path / str(run["folder"]) for run in runs)
        keys.extend(key for key in record.get("keys", []) if key not in keys)
    return expanded, keys


def load_run(path: str | Path) -> Run:
    """Read a run folder, or a lone `metrics.csv` file, into a `Run`.

    Raises InputError naming the file when a required file is missing or a cell is not a number.
    """
    path = Path(path)
    if path.is_file():
        return Run(path=path, metrics=read_metrics(path))
    if not path.is_dir():
        raise InputError(f"{path}: not found; pass a run folder or a metrics.csv file")

    metrics_path = path / METRICS_CSV
    if not metrics_path.is_file():
        raise InputError(f"{metrics_path}: not found; score the run first so that it has per-pair metrics")
    run = Run(path=path, metrics=read_metrics(metrics_path))

    manifest_path = path / MANIFEST
    if manifest_path.is_file():
        run.manifest = read_json_object(manifest_path, "rerun or repair the run's manifest")
    summary_path = path / SUMMARY_CSV
    if summary_path.is_file():
        run.summary = _read_summary(summary_path)
    results_path = path / RESULTS_CSV
    if results_path.is_file():
        run.results = _read_results(results_path)
    return run


def read_metrics(path: Path) -> pd.DataFrame:
    """Read `metrics.csv` with pair ids as the index and metric cells as floats."""
    table = _read_csv(path)
    if "pair_id" not in table.columns:
        raise InputError(f"{path}: no pair_id column; a metrics.csv starts with pair_id,method,bench,...")
    duplicated = table["pair_id"][table["pair_id"].duplicated()].unique()
    if len(duplicated):
        raise InputError(f"{path}: pair ids listed twice: {', '.join(duplicated[:5])}; keep one row per pair")

    for name in METRIC_COLUMNS:
        if name in table.columns:
            table[name] = _to_float(table[name], path, name)
    return table.set_index("pair_id", drop=True)


def _read_summary(path: Path) -> pd.DataFrame:
    table = _read_csv(path)
    missing = [column for column in SUMMARY_COLUMNS if column not in table.columns]
    if missing:
        raise InputError(f"{path}: missing columns {', '.join(missing)}; delete it to recompute from metrics.csv")
    for column in SUMMARY_COLUMNS[1:]:
        table[column] = _to_float(table[column], path, column)
    return table.set_index("metric", drop=True)


def _read_results(path: Path) -> pd.DataFrame:
    table = _read_csv(path)
    if "pair_id" not in table.columns:
        raise InputError(f"{path}: no pair_id column; results.csv starts with pair_id,status,seconds,error")
    # A retried pair may appear more than once; the last attempt is the one that counts.
    return table.drop_duplicates("pair_id", keep="last").set_index("pair_id", drop=True)


def _read_csv(path: Path) -> pd.DataFrame:
    # Every cell is read as text first, so that a pair id such as "NA" or "001" stays as written.
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable CSV file ({error})") from error


def _to_float(column: pd.Series, path: Path, name: str) -> pd.Series:
    stripped = column.str.strip()
    numbers = pd.to_numeric(stripped.replace("", np.nan), errors="coerce")
    invalid = numbers.isna() & (stripped != "") & ~stripped.str.lower().isin(["nan"])
    if invalid.any():
        line = int(np.flatnonzero(invalid.to_numpy())[0]) + 2  # the header is line 1
        raise InputError(f"{path}: line {line}, column {name}: {column[invalid].iloc[0]!r} is not a number")
    return numbers.astype(float)
