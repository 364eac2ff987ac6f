"""The layout of a run folder, shared by the runner, the scorer and the reports.

    RUN/
      manifest.json          config, seed, versions, model id, device, git commit, start and end time
      results.csv            one row per attempted pair: pair_id, status (done|failed), seconds, error
      metrics.csv            one row per scored pair: pair_id, method, bench, metric columns, encoders
      summary.csv            one row per metric: mean, std, ci_low, ci_high, count
      pairs/<pair_id>/
        edited.png           the method's output at the model's resolution
        source.png, reference.png, source_mask.png, reference_mask.png
                             the inputs exactly as the method saw them
        strip.png            source | source mask over source | reference | reference mask over reference | edited
        pair.json            the edit pair: ids, prompts, classes, the original image paths
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from egobench.errors import InputError

MANIFEST = "manifest.json"
RESULTS_CSV = "results.csv"
METRICS_CSV = "metrics.csv"
SUMMARY_CSV = "summary.csv"
PAIRS_DIR = "pairs"
PAIR_RECORD = "pair.json"

RESULTS_COLUMNS = ["pair_id", "status", "seconds", "error"]


@dataclass(frozen=True)
class PairFiles:
    """Paths of one pair's files inside a run folder."""

    folder: Path

    @property
    def edited(self) -> Path:
        return self.folder / "edited.png"

    @property
    def source(self) -> Path:
        return self.folder / "source.png"

    @property
    def reference(self) -> Path:
        return self.folder / "reference.png"

    @property
    def source_mask(self) -> Path:
        return self.folder / "source_mask.png"

    @property
    def reference_mask(self) -> Path:
        return self.folder / "reference_mask.png"

    @property
    def strip(self) -> Path:
        return self.folder / "strip.png"

    @property
    def record(self) -> Path:
        return self.folder / PAIR_RECORD


def pair_files(run_dir: str | Path, pair_id: str) -> PairFiles:
    return PairFiles(Path(run_dir) / PAIRS_DIR / pair_id)


def read_json_object(path: Path, fix: str) -> dict:
    """Read a JSON file whose top level must be an object; raise InputError ending with `fix` otherwise."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error}); {fix}") from error
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object at the top level; {fix}")
    return value
