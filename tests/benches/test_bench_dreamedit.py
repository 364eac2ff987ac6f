import shutil
from collections import Counter

import numpy as np
import pytest
from bench_data import build_dreamedit_folder

from egobench.benches import create_bench
from egobench.errors import ConfigError, InputError


def _create(data_root, subjects=None, **options):
    if subjects is not None:
        options["subjects"] = str(subjects)
    return create_bench("dreamedit", data_root=str(data_root), **options)


def test_swap_ids_and_order(dreamedit_folder):
    data_root, subjects = dreamedit_folder

    pairs = _create(data_root, subjects).pairs()

    assert [pair.pair_id for pair in pairs] == [
        "backpack_dog-found0-found1",
        "backpack_dog-found1-found0",
        "cat-found0-found1",
        "cat-found1-found0",
        "cat-found2-found3",
        "cat-found3-found4",
        "cat-found4-found2",
        "dog3-found0-found1",
        "dog3-found1-found0",
        "dog3-found2-found3",
        "dog3-found3-found2",
    ]


def test_swap_fields_point_at_files(dreamedit_folder):
    data_root, subjects = dreamedit_folder

    pair = _create(data_root, subjects).pairs()[-1]

    assert pair.source_image == str(data_root / "replacement_source" / "dog3" / "found3.jpg")
    assert pair.reference_image == str(data_root / "replacement_source" / "dog3" / "found2.jpg")
    assert pair.source_class == "dog"
    assert pair.reference_class == "dog"
    assert pair.target_prompt == "a photo of a dog"
    assert pair.group == "dog3"
    assert pair.source_mask is None


def test_swap_notes_odd_subject(dreamedit_folder):
    data_root, subjects = dreamedit_folder
    bench = _create(data_root, subjects)

    summary = bench.summary(bench.pairs())

    assert summary[0].startswith("11 pairs over 3 subjects")
    assert any(line.startswith("cat: odd number of images") and "would give 10 pairs" in line for line in summary)


def test_all_pairing_counts(dreamedit_folder):
    data_root, subjects = dreamedit_folder

    pairs = _create(data_root, subjects, pairing="all").pairs()
    per_subject = Counter(pair.group for pair in pairs)

    assert per_subject == {"dog3": 12, "cat": 20, "backpack_dog": 2}
    assert all(pair.source_image != pair.reference_image for pair in pairs)


def test_subject_pairing_uses_dreambooth_photos(dreamedit_folder):
    data_root, subjects = dreamedit_folder

    pairs = _create(data_root, subjects, pairing="subject").pairs()
    cat = [pair for pair in pairs if pair.group == "cat"]

    assert [pair.pair_id for pair in cat] == [
        "cat-found0-00",
        "cat-found1-01",
        "cat-found2-02",
        "cat-found3-00",
        "cat-found4-01",
    ]
    assert cat[0].reference_image == str(subjects / "cat" / "00.jpg")


def test_classes_without_subjects_use_dreambooth_table(dreamedit_folder):
    data_root, _ = dreamedit_folder

    pairs = _create(data_root).pairs()

    assert {pair.group: pair.source_class for pair in pairs} == {"dog3": "dog", "cat": "cat", "backpack_dog": "backpack"}


def test_ids_independent_of_location(tmp_path, dreamedit_folder):
    data_root, subjects = dreamedit_folder
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(data_root, moved)

    original = [pair.pair_id for pair in _create(data_root, subjects).pairs()]
    copied = [pair.pair_id for pair in _create(moved, subjects).pairs()]

    assert copied == original


def test_load_gives_square_images_and_masks(tmp_path, dreamedit_folder):
    data_root, subjects = dreamedit_folder
    bench = _create(data_root, subjects)

    loaded = bench.load(bench.pairs()[0], 64, cache_dir=tmp_path / "masks")

    assert loaded.source.size == (64, 64)
    assert loaded.reference.mode == "RGB"
    assert loaded.source_mask.shape == (64, 64)
    assert loaded.source_mask.dtype == np.bool_
    assert 0.05 < loaded.source_mask.mean() < 0.6


def test_missing_layout_error(tmp_path):
    with pytest.raises(InputError, match="neither replacement_source") as error:
        _create(tmp_path)

    assert "\n" not in str(error.value)


def test_missing_data_root_error():
    with pytest.raises(ConfigError, match="needs --data-root") as error:
        create_bench("dreamedit")

    assert "\n" not in str(error.value)


def test_unknown_pairing_error(dreamedit_folder):
    data_root, subjects = dreamedit_folder

    with pytest.raises(ConfigError, match="unknown --pairing 'pairs'") as error:
        _create(data_root, subjects, pairing="pairs")

    assert "\n" not in str(error.value)


def test_subject_pairing_needs_subjects(dreamedit_folder):
    data_root, _ = dreamedit_folder

    with pytest.raises(ConfigError, match="--pairing subject needs --subjects") as error:
        _create(data_root, pairing="subject")

    assert "\n" not in str(error.value)


def test_missing_subjects_folder_error(tmp_path, dreamedit_folder):
    data_root, _ = dreamedit_folder

    with pytest.raises(InputError, match="--subjects must be the DreamBooth dataset folder") as error:
        _create(data_root, tmp_path / "absent")

    assert "\n" not in str(error.value)


def test_duplicate_found_number_error(dreamedit_folder):
    data_root, subjects = dreamedit_folder
    folder = data_root / "replacement_source" / "dog3"
    shutil.copy(folder / "found1.jpg", folder / "found1.png")

    with pytest.raises(InputError, match="two files share one foundN number") as error:
        _create(data_root, subjects).pairs()

    assert "\n" not in str(error.value)


def test_option_of_another_bench_error(dreamedit_folder):
    data_root, _ = dreamedit_folder

    with pytest.raises(ConfigError, match="does not take --manifest") as error:
        create_bench("dreamedit", data_root=str(data_root), manifest="pairs.csv")

    assert "\n" not in str(error.value)


def test_unknown_bench_error():
    with pytest.raises(ConfigError, match="unknown benchmark 'dreamedits'; choose one of: dreamedit, folder, piebench"):
        create_bench("dreamedits")


def test_unreadable_image_error_names_file(tmp_path):
    data_root, subjects = build_dreamedit_folder(tmp_path, {"dog": 2})
    broken = data_root / "replacement_source" / "dog" / "found0.jpg"
    broken.write_bytes(b"not a jpeg")
    bench = _create(data_root, subjects)

    with pytest.raises(InputError, match="found0.jpg: not a readable image") as error:
        bench.load(bench.pairs()[0], 32)

    assert "\n" not in str(error.value)


def test_shared_data_default_pairs(shared_data):
    bench = _create(shared_data / "dreamedit-proxy", shared_data / "dreambooth")

    pairs = bench.pairs()
    counts = Counter(pair.group for pair in pairs)
    source_folder = shared_data / "dreamedit-proxy" / "replacement_source"
    images = {folder.name: len(list(folder.glob("found*.jpg"))) for folder in source_folder.iterdir()}
    even = {subject for subject, count in images.items() if count % 2 == 0}
    odd = set(images) - even

    assert len(counts) == 24
    assert sum(counts[subject] for subject in even) + sum(images[subject] - 1 for subject in odd) == 208
    assert len(pairs) == 208 + len(odd)
    for subject in even:
        sources = Counter(pair.source_image for pair in pairs if pair.group == subject)
        assert len(sources) == images[subject]
        assert set(sources.values()) == {1}
    assert len({pair.pair_id for pair in pairs}) == len(pairs)


def test_shared_data_ids_stable(shared_data):
    first = [pair.pair_id for pair in _create(shared_data / "dreamedit-proxy", shared_data / "dreambooth").pairs()]
    second = [pair.pair_id for pair in _create(shared_data / "dreamedit-proxy").pairs()]

    assert first == second
    assert first[:4] == [
        "backpack-found0-found1",
        "backpack-found1-found0",
        "backpack-found2-found3",
        "backpack-found3-found2",
    ]
    assert "candle-found4-found2" in first
