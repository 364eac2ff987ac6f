"""The Hugging Face path of DreamEditBench, on small datasets with the hub dataset's schema built here."""

import re

import datasets
import numpy as np
import pytest
from bench_data import SUBJECT_CLASSES

from egobench.benches import create_bench
from egobench.benches.dreambooth import photo_prompt
from egobench.errors import InputError

FEATURES = datasets.Features(
    {
        "subject_names": datasets.Value("string"),
        "subject_images_1": datasets.Image(),
        "subject_images_2": datasets.Image(),
        "subject_images_3": datasets.Image(),
        "subject_images_4": datasets.Image(),
        "source_images": datasets.Image(),
        "identifier": datasets.Value("string"),
        "source_prompt": datasets.Value("string"),
        "target_prompt": datasets.Value("string"),
        "add_bounding_box": datasets.Sequence(datasets.Value("int64")),
        "task_type": datasets.Value("string"),
    }
)



def _image(path):
    return {"bytes": path.read_bytes(), "path": path.name}


def build_hub_dataset(data_root, subjects_root, identifiers=None) -> datasets.Dataset:
    """Turn the generated local folders into rows of the hub dataset's schema, with addition rows mixed in."""
    rows = []
    # Subjects in an order other than sorted, so that grouping must not rely on row order across subjects.
    for subject in ("dog3", "cat", "backpack_dog"):
        photos = sorted((subjects_root / subject).glob("*.jpg"))
        sources = sorted(
            (data_root / "replacement_source" / subject).glob("found*.jpg"),
            key=lambda path: int(re.search(r"\d+", path.name).group()),
        )
        for path in sources:
            base = {
                "subject_names": subject,
                "subject_images_1": _image(photos[0]),
                "subject_images_2": _image(photos[1]),
                "subject_images_3": _image(photos[2]),
                "subject_images_4": None,
                "identifier": identifiers(subject, path) if identifiers else "sks",
                "source_prompt": photo_prompt(SUBJECT_CLASSES[subject]),
                "target_prompt": f"a photo of sks {SUBJECT_CLASSES[subject]}",
            }
            rows.append({**base, "source_images": _image(path), "add_bounding_box": [], "task_type": "replacement"})
            rows.append({**base, "source_images": _image(photos[0]), "add_bounding_box": [1, 2, 30, 40], "task_type": "addition"})
    columns = {name: [row[name] for row in rows] for name in FEATURES}
    return datasets.Dataset.from_dict(columns, features=FEATURES)


@pytest.fixture
def saved_dataset(tmp_path, dreamedit_folder):
    data_root, subjects_root = dreamedit_folder
    folder = tmp_path / "saved"
    build_hub_dataset(data_root, subjects_root).save_to_disk(str(folder))
    return folder


def _rows_without_locations(pairs):
    rows = []
    for pair in pairs:
        row = pair.to_row()
        for key in ("source_image", "reference_image"):
            row.pop(key)
        rows.append(row)
    return rows


def test_saved_dataset_same_pairs_as_folders(saved_dataset, dreamedit_folder):
    data_root, subjects_root = dreamedit_folder

    local = create_bench("dreamedit", data_root=str(data_root), subjects=str(subjects_root)).pairs()
    hub = create_bench("dreamedit", data_root=str(saved_dataset), subjects=str(subjects_root)).pairs()

    assert len(hub) == 11
    assert _rows_without_locations(hub) == _rows_without_locations(local)
    assert hub[0].source_image.startswith("hf:")


def test_saved_dataset_same_pixels_and_masks(tmp_path, saved_dataset, dreamedit_folder):
    data_root, subjects_root = dreamedit_folder
    local_bench = create_bench("dreamedit", data_root=str(data_root))
    hub_bench = create_bench("dreamedit", data_root=str(saved_dataset))

    for local_pair, hub_pair in zip(local_bench.pairs()[:3], hub_bench.pairs()[:3]):
        local = local_bench.load(local_pair, 48, cache_dir=tmp_path / "local-masks")
        hub = hub_bench.load(hub_pair, 48, cache_dir=tmp_path / "hub-masks")
        assert np.array_equal(np.asarray(hub.source), np.asarray(local.source))
        assert np.array_equal(np.asarray(hub.reference), np.asarray(local.reference))
        assert np.array_equal(hub.source_mask, local.source_mask)
        assert np.array_equal(hub.reference_mask, local.reference_mask)

    # Same bytes give the same cache keys, so both runs cached the same mask files.
    local_names = sorted(path.name for path in (tmp_path / "local-masks").iterdir())
    hub_names = sorted(path.name for path in (tmp_path / "hub-masks").iterdir())
    assert local_names == hub_names


def test_parquet_repository_copy(tmp_path, dreamedit_folder):
    data_root, subjects_root = dreamedit_folder
    copy = tmp_path / "DreamEditBench_SelfContained"
    (copy / "data").mkdir(parents=True)
    build_hub_dataset(data_root, subjects_root).to_parquet(str(copy / "data" / "train-00000-of-00001.parquet"))

    hub = create_bench("dreamedit", data_root=str(copy)).pairs()
    local = create_bench("dreamedit", data_root=str(data_root)).pairs()

    assert [pair.pair_id for pair in hub] == [pair.pair_id for pair in local]


def test_hub_id_goes_through_load_dataset(monkeypatch, dreamedit_folder):
    data_root, subjects_root = dreamedit_folder
    dataset = build_hub_dataset(data_root, subjects_root)
    calls = []

    def fake_load_dataset(path, **kwargs):
        calls.append((path, kwargs))
        return dataset

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    pairs = create_bench("dreamedit", data_root="hf:tianleliphoebe/DreamEditBench_SelfContained").pairs()

    assert calls == [("tianleliphoebe/DreamEditBench_SelfContained", {"split": "train"})]
    assert [pair.pair_id for pair in pairs] == [
        pair.pair_id for pair in create_bench("dreamedit", data_root=str(data_root)).pairs()
    ]


def test_hub_id_offline_error():
    with pytest.raises(InputError, match="could not load the dataset") as error:
        create_bench("dreamedit", data_root="hf:tianleliphoebe/DreamEditBench_SelfContained")

    assert str(error.value).startswith("hf:tianleliphoebe/DreamEditBench_SelfContained:")
    assert "\n" not in str(error.value)


def test_subject_pairing_from_dataset_photos(saved_dataset):
    pairs = create_bench("dreamedit", data_root=str(saved_dataset), pairing="subject").pairs()
    cat = [pair for pair in pairs if pair.group == "cat"]

    assert [pair.pair_id for pair in cat] == [
        "cat-found0-subject1",
        "cat-found1-subject2",
        "cat-found2-subject3",
        "cat-found3-subject1",
        "cat-found4-subject2",
    ]
    assert cat[1].reference_image.endswith("/subject_images_2")


def test_identifier_found_number_wins(tmp_path, dreamedit_folder):
    data_root, subjects_root = dreamedit_folder
    # Name each row after the next foundN, so that ids follow the identifier, not the row order.
    dataset = build_hub_dataset(
        data_root, subjects_root, identifiers=lambda subject, path: f"{subject}/found{int(path.stem[5:]) + 10}"
    )
    dataset.save_to_disk(str(tmp_path / "named"))

    pairs = create_bench("dreamedit", data_root=str(tmp_path / "named")).pairs()

    assert pairs[0].pair_id == "backpack_dog-found10-found11"


def test_missing_columns_error(tmp_path):
    datasets.Dataset.from_dict({"subject_names": ["dog"], "prompt": ["a dog"]}).save_to_disk(str(tmp_path / "other"))

    with pytest.raises(InputError, match=r"missing column\(s\) source_images, subject_images_1") as error:
        create_bench("dreamedit", data_root=str(tmp_path / "other"))

    assert "\n" not in str(error.value)


def test_no_replacement_rows_error(tmp_path, dreamedit_folder):
    data_root, subjects_root = dreamedit_folder
    dataset = build_hub_dataset(data_root, subjects_root).filter(lambda row: row["task_type"] == "addition")
    dataset.save_to_disk(str(tmp_path / "additions"))

    with pytest.raises(InputError, match=r"no subject-replacement rows \(task_type values: addition\)") as error:
        create_bench("dreamedit", data_root=str(tmp_path / "additions"))

    assert "\n" not in str(error.value)
