"""A user's own edit pairs, listed in a CSV or JSONL manifest.

Columns (CSV header or JSON keys):
- required: `source_image`, `reference_image`, `source_class`, `reference_class`.
- `pair_id`: default `<source stem>-<reference stem>`.
- `source_prompt`, `reference_prompt`: default `a photo of a <class>`.
- `target_prompt`: default, the source prompt with the source class replaced by the reference class.
- `source_mask`, `reference_mask`: mask image files. Without one, the segmenter computes the mask.
- `source_box`, `reference_box`: `left,top,right,bottom` in pixels of the original image, to seed
  the segmenter.

Paths are relative to the manifest's folder, which is the data root unless `--data-root` names
another; a path that leaves the data root is rejected. Validation reads every row first and then
reports all bad rows in one error.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from egobench.benches import register_bench
from egobench.benches.base import Bench, EditPair, safe_id
from egobench.benches.dreambooth import photo_prompt
from egobench.benches.images import read_image_file
from egobench.benches.masks import Box, Segmenter
from egobench.benches.paths import path_inside
from egobench.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("source_image", "reference_image", "source_class", "reference_class")
OPTIONAL_COLUMNS = (
    "pair_id",
    "source_prompt",
    "reference_prompt",
    "target_prompt",
    "source_mask",
    "reference_mask",
    "source_box",
    "reference_box",
)
DEFAULT_MANIFESTS = ("pairs.csv", "pairs.jsonl")

_PAIR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@register_bench("folder")
class FolderBench(Bench):
    """Your own pairs from a CSV or JSONL manifest (`--manifest`, or pairs.csv/pairs.jsonl in `--data-root`)."""

    groups_label = "source classes"

    def __init__(
        self,
        *,
        data_root: str | Path | None = None,
        manifest: str | Path | None = None,
        seed: int = 0,
        segmenter: Segmenter | str = "grabcut",
    ):
        super().__init__(segmenter)
        # The pairs are listed explicitly; `seed` is accepted so that a run's seed can be passed to any benchmark.
        del seed
        self.manifest = _find_manifest(data_root, manifest)
        self.data_root = Path(os.path.abspath(data_root)) if data_root is not None else Path(os.path.abspath(self.manifest.parent))
        self._pairs = read_manifest(self.manifest, self.data_root)

    def pairs(self) -> list[EditPair]:
        return list(self._pairs)

    def read_image(self, key: str) -> tuple[Image.Image, bytes]:
        return read_image_file(key)


def _find_manifest(data_root: str | Path | None, manifest: str | Path | None) -> Path:
    if manifest is not None:
        path = Path(manifest)
        if not path.is_file():
            raise InputError(f"{path}: manifest not found; check the --manifest path")
        return path
    if data_root is None:
        raise ConfigError("folder needs --manifest (a CSV or JSONL file of pairs) or --data-root containing pairs.csv")
    for name in DEFAULT_MANIFESTS:
        if (Path(data_root) / name).is_file():
            return Path(data_root) / name
    raise InputError(f"{data_root}: no {' or '.join(DEFAULT_MANIFESTS)} found; pass --manifest")


def read_manifest(path: Path, data_root: Path) -> list[EditPair]:
    """Read and validate a manifest, returning its pairs in file order.

    Raise one `InputError` listing every bad row: missing values, files not found or unreadable,
    paths leaving the data root, malformed boxes and duplicate or unsafe pair ids.
    """
    records, problems = _read_records(path)
    if not records and not problems:
        raise InputError(f"{path}: the manifest lists no pairs; add one row per edit")

    columns = set().union(*(record.keys() for _, record in records)) if records else set()
    unknown = sorted(columns - set(REQUIRED_COLUMNS) - set(OPTIONAL_COLUMNS))
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)} (allowed: {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})")

    base = Path(os.path.abspath(path.parent))
    pairs, first_line_of_id = [], {}
    for line, record in records:
        row_problems = []
        pair = _pair_from_record(record, base, data_root, row_problems)
        if pair is not None:
            if pair.pair_id in first_line_of_id:
                row_problems.append(f"pair_id {pair.pair_id!r} already used on line {first_line_of_id[pair.pair_id]}")
            else:
                first_line_of_id[pair.pair_id] = line
        problems += [f"line {line}: {problem}" for problem in row_problems]
        if pair is not None and not row_problems:
            pairs.append(pair)

    if problems:
        raise InputError(f"{path}: {len(problems)} problem(s): {'; '.join(problems)}; fix them and run again")
    return pairs


def _read_records(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path)
    raise InputError(f"{path}: unsupported manifest type {suffix or '(none)'}; use a .csv or .jsonl file")


def _read_csv(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    records, problems = [], []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)} in the header; add them")
        for row in reader:
            if None in row:
                problems.append(f"line {reader.line_num}: {len(row[None])} more values than header columns")
                continue
            records.append((reader.line_num, {key.strip(): (value or "").strip() for key, value in row.items()}))
    return records, problems


def _read_jsonl(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    records, problems = [], []
    for line, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(f"line {line}: not valid JSON ({error.msg})")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {line}: expected a JSON object")
            continue
        records.append((line, {key: _text(value) for key, value in record.items()}))
    return records, problems


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value).strip()


def _pair_from_record(record: dict, base: Path, data_root: Path, problems: list[str]) -> EditPair | None:
    missing = [name for name in REQUIRED_COLUMNS if not record.get(name)]
    if missing:
        problems.append(f"missing value(s) for {', '.join(missing)}")
        return None

    source_image = _existing_file(record, "source_image", base, data_root, problems, image=True)
    reference_image = _existing_file(record, "reference_image", base, data_root, problems, image=True)
    source_mask = _existing_file(record, "source_mask", base, data_root, problems, image=False)
    reference_mask = _existing_file(record, "reference_mask", base, data_root, problems, image=False)
    source_box = _box(record, "source_box", problems)
    reference_box = _box(record, "reference_box", problems)

    pair_id = record.get("pair_id") or safe_id(
        f"{Path(record['source_image']).stem}-{Path(record['reference_image']).stem}"
    )
    if not _PAIR_ID.match(pair_id):
        problems.append(f"pair_id {pair_id!r} may only contain letters, digits, '.', '_' and '-'")
    if source_image is None or reference_image is None:
        return None

    source_class, reference_class = record["source_class"], record["reference_class"]
    source_prompt = record.get("source_prompt") or photo_prompt(source_class)
    return EditPair(
        pair_id=pair_id,
        source_image=str(source_image),
        reference_image=str(reference_image),
        source_class=source_class,
        reference_class=reference_class,
        source_prompt=source_prompt,
        reference_prompt=record.get("reference_prompt") or photo_prompt(reference_class),
        target_prompt=record.get("target_prompt") or _swap_class(source_prompt, source_class, reference_class),
        source_mask=str(source_mask) if source_mask else None,
        reference_mask=str(reference_mask) if reference_mask else None,
        group=source_class,
        source_box=source_box,
        reference_box=reference_box,
    )


def _existing_file(record, column, base, data_root, problems, image: bool) -> Path | None:
    value = record.get(column)
    if not value:
        return None
    try:
        path = path_inside(data_root, str(base / value) if not Path(value).is_absolute() else value, column)
    except InputError:
        problems.append(f"{column} {value!r} leaves the data root {data_root}")
        return None
    if not path.is_file():
        problems.append(f"{column} {value!r} not found")
        return None
    try:
        with Image.open(path) as opened:
            opened.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        kind = "image" if image else "mask image"
        problems.append(f"{column} {value!r} is not a readable {kind}")
        return None
    return path


def _box(record: dict, column: str, problems: list[str]) -> Box | None:
    value = record.get(column)
    if not value:
        return None
    parts = [part.strip() for part in value.strip("[]()").split(",")]
    try:
        numbers = [int(float(part)) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or numbers[0] < 0 or numbers[1] < 0 or numbers[2] <= numbers[0] or numbers[3] <= numbers[1]:
        problems.append(f"{column} {value!r} must be left,top,right,bottom with right > left and bottom > top")
        return None
    return tuple(numbers)


def _swap_class(prompt: str, source_class: str, reference_class: str) -> str:
    pattern = re.compile(rf"\b{re.escape(source_class)}\b", re.IGNORECASE)
    if pattern.search(prompt):
        return pattern.sub(reference_class, prompt, count=1)
    return photo_prompt(reference_class)
