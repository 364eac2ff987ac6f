"""DreamEditBench as a Hugging Face dataset (`tianleliphoebe/DreamEditBench_SelfContained`).

The dataset has one row per (subject, source image, task) with the columns `subject_names`,
`subject_images_1` ... `subject_images_4` (older revisions: `subject_name`, `subject_images`),
`source_images`, `identifier`, `source_prompt`, `target_prompt`, `add_bounding_box` and
`task_type`. Only subject-replacement rows are read.

Images are read as their encoded bytes (the `Image` feature with `decode=False`) and decoded by
egobench itself, so a row gives exactly the pixels and mask-cache key of the same file on disk.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from egobench.benches.images import decode_image
from egobench.errors import InputError

logger = logging.getLogger(__name__)

HUB_ID = "tianleliphoebe/DreamEditBench_SelfContained"
HUB_PREFIX = "hf:"

_SUBJECT_COLUMNS = ("subject_names", "subject_name")
_SOURCE_COLUMN = "source_images"
_PHOTO_COLUMN = re.compile(r"^subject_images(?:_(\d+))?$")
_FOUND_IN_IDENTIFIER = re.compile(r"found(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class HubRow:
    """One subject-replacement row: its subject, its `foundN` name and its source prompt."""

    index: int
    subject: str
    stem: str
    source_prompt: str


def is_hub_dataset_folder(folder: Path) -> bool:
    """Tell whether `folder` contains a dataset saved by `save_to_disk` or a copy of a hub dataset repository."""
    if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
        return True
    return any(folder.glob("*.parquet")) or any(folder.glob("data/*.parquet"))


class DreamEditHubDataset:
    """The replacement rows of a DreamEditBench dataset, from the hub (`hf:ID`) or a local folder."""

    def __init__(self, location: str | Path):
        self.location = str(location)
        dataset = _open_dataset(location)
        self._check_columns(dataset)
        self.subject_column = next(column for column in _SUBJECT_COLUMNS if column in dataset.column_names)
        self.photo_columns = _photo_columns(dataset.column_names)
        self.dataset = _without_image_decoding(dataset, [_SOURCE_COLUMN, *self.photo_columns])
        self.rows = self._replacement_rows()

    def rows_by_subject(self) -> dict[str, list[HubRow]]:
        """Return the replacement rows grouped by subject, subjects sorted by name, rows by `foundN`."""
        groups: dict[str, list[HubRow]] = {}
        for row in self.rows:
            groups.setdefault(row.subject, []).append(row)
        for subject, rows in groups.items():
            rows.sort(key=lambda row: int(row.stem.removeprefix("found")))
            stems = [row.stem for row in rows]
            if len(set(stems)) != len(stems):
                raise InputError(f"{self.location}: subject {subject!r} has two rows for the same source image")
        return dict(sorted(groups.items()))

    def photo_keys(self, row: HubRow) -> list[tuple[str, str]]:
        """Return (name, key) for each subject photo stored in the row, such as ('subject1', 'hf:3/subject_images_1')."""
        keys = []
        record = self.dataset.select_columns(self.photo_columns)[row.index]
        for column in self.photo_columns:
            if record[column] is not None:
                number = _PHOTO_COLUMN.match(column).group(1) or "1"
                keys.append((f"subject{number}", f"{HUB_PREFIX}{row.index}/{column}"))
        return keys

    def read(self, key: str) -> tuple[Image.Image, bytes]:
        """Return the RGB image and its encoded bytes for a key such as `hf:12/source_images`."""
        index_text, _, column = key.removeprefix(HUB_PREFIX).partition("/")
        value = self.dataset.select_columns([column])[int(index_text)][column]
        data = value.get("bytes") if value else None
        if data is None and value and value.get("path"):
            data = Path(value["path"]).read_bytes()
        if data is None:
            raise InputError(f"{self.location}: row {index_text} has no image in column {column!r}; use another revision")
        return decode_image(data, f"{self.location} row {index_text} {column}"), data

    def _check_columns(self, dataset) -> None:
        columns = set(dataset.column_names)
        missing = []
        if not columns & set(_SUBJECT_COLUMNS):
            missing.append("subject_names")
        if _SOURCE_COLUMN not in columns:
            missing.append(_SOURCE_COLUMN)
        if not _photo_columns(dataset.column_names):
            missing.append("subject_images_1")
        if missing:
            raise InputError(
                f"{self.location}: not a DreamEditBench dataset, missing column(s) {', '.join(missing)} "
                f"(found: {', '.join(sorted(columns))}); pass {HUB_PREFIX}{HUB_ID} or a copy of it"
            )

    def _replacement_rows(self) -> list[HubRow]:
        table = self.dataset.select_columns(
            [name for name in (self.subject_column, "task_type", "identifier", "source_prompt") if name in self.dataset.column_names]
        ).to_dict()
        count = len(table[self.subject_column])
        task_types = table.get("task_type", [None] * count)
        replacement_indices = [
            index for index in range(count) if task_types[index] is None or "replac" in str(task_types[index]).lower()
        ]
        if not replacement_indices:
            found = sorted({str(value) for value in task_types})
            raise InputError(f"{self.location}: no subject-replacement rows (task_type values: {', '.join(found)})")

        rows = []
        position_in_subject: dict[str, int] = {}
        for index in replacement_indices:
            subject = str(table[self.subject_column][index]).strip()
            position = position_in_subject.get(subject, 0)
            position_in_subject[subject] = position + 1

            # NOTE: the dataset has no file-name column. A `foundN` in `identifier` wins. Otherwise the
            # k-th replacement row of a subject is taken to be foundk, which assumes that the rows keep
            # the folder's found0..found9 order. This is not checked against the published dataset.
            match = _FOUND_IN_IDENTIFIER.search(str(table.get("identifier", [""] * count)[index] or ""))
            number = int(match.group(1)) if match else position

            rows.append(
                HubRow(
                    index=index,
                    subject=subject,
                    stem=f"found{number}",
                    source_prompt=str(table.get("source_prompt", [""] * count)[index] or ""),
                )
            )
        return rows


def _open_dataset(location: str | Path):
    # Imported here because importing `datasets` takes about half a second and only this path needs it.
    import datasets

    text = str(location)
    try:
        if text.startswith(HUB_PREFIX):
            return datasets.load_dataset(text.removeprefix(HUB_PREFIX), split="train")
        folder = Path(location)
        if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
            loaded = datasets.load_from_disk(str(folder))
        else:
            loaded = datasets.load_dataset(str(folder))
    except (OSError, ValueError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"{text}: could not load the dataset ({first_line}); download it once with network access "
            "(datasets caches it) or pass a folder saved with save_to_disk"
        ) from error

    if isinstance(loaded, datasets.DatasetDict):
        split = "train" if "train" in loaded else next(iter(loaded))
        return loaded[split]
    return loaded


def _photo_columns(column_names: list[str]) -> list[str]:
    matches = [(name, _PHOTO_COLUMN.match(name)) for name in column_names]
    return sorted((name for name, match in matches if match), key=lambda name: int(_PHOTO_COLUMN.match(name).group(1) or 0))


def _without_image_decoding(dataset, columns: list[str]):
    import datasets

    for column in columns:
        if isinstance(dataset.features.get(column), datasets.Image):
            dataset = dataset.cast_column(column, datasets.Image(decode=False))
    return dataset

