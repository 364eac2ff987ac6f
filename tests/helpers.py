"""Builders shared by the tests: synthetic photos, loaded pairs and a DreamEditBench-layout folder."""

from __future__ import annotations

from pathlib import Path


from egobench.benches.base import LoadedPair
from egobench.profiling.synthetic_pair import object_photo, synthetic_pair


def loaded_pair(size: int = 128, pair_id: str = "pair-0") -> LoadedPair:
    """A source with a red object on the left and a reference with a blue object in the centre."""
    return synthetic_pair(size, pair_id)


def dreamedit_layout(root: Path, subjects: dict[str, int], references: int = 2) -> tuple[Path, Path]:
    """Write `replacement_source/<subject>/foundN.jpg` and DreamBooth-style `<subject>/NN.jpg` photos."""
    data_root = root / "dreamedit"
    subject_root = root / "dreambooth"
    rows = ["subject_name,class"]
    for index, (subject, count) in enumerate(subjects.items()):
        folder = data_root / "replacement_source" / subject
        folder.mkdir(parents=True)
        for number in range(count):
            colour = (60 + 30 * number % 190, 200 - 20 * index % 150, 90)
            object_photo(160, colour, (0.25, 0.25, 0.75, 0.75), seed=number).save(folder / f"found{number}.jpg")
        (subject_root / subject).mkdir(parents=True)
        for number in range(references):
            object_photo(160, (30, 30 + 40 * number, 220), (0.2, 0.2, 0.8, 0.8), seed=100 + number).save(subject_root / subject / f"{number:02d}.jpg")
        rows.append(f"{subject},{subject.rstrip('0123456789')}")
    (subject_root / "classes.csv").write_text("\n".join(rows) + "\n")
    return data_root, subject_root
