import json
from collections import Counter

import numpy as np
import pytest
from bench_data import build_piebench_folder, disc_mask, pie_entry

from egobench.benches import create_bench
from egobench.benches.piebench import parse_blended_word
from egobench.benches.rle import decode_rle, encode_rle, parse_rle
from egobench.errors import InputError


def _write_mapping(root, mapping):
    (root / "mapping_file.json").write_text(json.dumps(mapping))


def test_fifty_pairs_distinct_categories(piebench_folder):
    pairs = create_bench("piebench", data_root=str(piebench_folder)).pairs()

    assert len(pairs) == 50
    assert len({pair.source_class for pair in pairs}) == 50
    assert all(pair.source_class != pair.reference_class for pair in pairs)


def test_summary_counts_categories(piebench_folder):
    bench = create_bench("piebench", data_root=str(piebench_folder), seed=3)

    summary = bench.summary(bench.pairs())

    assert summary[0] == "50 pairs over 50 categories; 50 distinct source images, 50 distinct reference images"
    assert summary[1] == "seed: 3"


def test_each_image_once_each_role(piebench_folder):
    pairs = create_bench("piebench", data_root=str(piebench_folder)).pairs()
    sources = Counter(pair.source_image for pair in pairs)
    references = Counter(pair.reference_image for pair in pairs)

    assert set(sources.values()) == {1}
    assert set(references.values()) == {1}
    assert set(sources) == set(references)
    assert all(pair.source_image != pair.reference_image for pair in pairs)


def test_unusable_entries_never_chosen(piebench_folder):
    pairs = create_bench("piebench", data_root=str(piebench_folder)).pairs()
    chosen_ids = {pair.pair_id.split("-")[0] for pair in pairs}

    assert not any(image_id.startswith("9") for image_id in chosen_ids)


def test_same_seed_same_pairs(piebench_folder):
    first = create_bench("piebench", data_root=str(piebench_folder), seed=7).pairs()
    second = create_bench("piebench", data_root=str(piebench_folder), seed=7).pairs()

    assert first == second


def test_other_seed_other_pairs(piebench_folder):
    first = create_bench("piebench", data_root=str(piebench_folder), seed=7).pairs()
    second = create_bench("piebench", data_root=str(piebench_folder), seed=8).pairs()

    assert [pair.pair_id for pair in first] != [pair.pair_id for pair in second]


def test_pair_fields(piebench_folder):
    pair = create_bench("piebench", data_root=str(piebench_folder)).pairs()[0]
    source_id, reference_id = pair.pair_id.split("-")

    assert pair.source_image.endswith(f"annotation_images/1_change_object_80/{source_id}.jpg")
    assert pair.source_mask == f"pie:{source_id}"
    assert pair.reference_mask == f"pie:{reference_id}"
    assert pair.source_prompt == f"a photo of a {pair.source_class} on a table"
    assert pair.target_prompt == f"a photo of a {pair.reference_class} on a table"
    assert pair.group == pair.source_class


def test_load_uses_dataset_mask(piebench_folder):
    bench = create_bench("piebench", data_root=str(piebench_folder))
    pair = bench.pairs()[0]
    mapping = json.loads((piebench_folder / "mapping_file.json").read_text())
    source_id, reference_id = pair.pair_id.split("-")

    loaded = bench.load(pair, 512)

    assert loaded.source.size == (512, 512)
    assert np.array_equal(loaded.source_mask, decode_rle(mapping[source_id]["mask"]))
    assert np.array_equal(loaded.reference_mask, decode_rle(mapping[reference_id]["mask"]))


def test_rle_round_trip_random_masks():
    rng = np.random.default_rng(0)
    for density in (0.01, 0.3, 0.9):
        mask = rng.random((512, 512)) < density
        assert np.array_equal(decode_rle(encode_rle(mask)), mask)


@pytest.mark.parametrize(
    "mask",
    [
        np.zeros((512, 512), dtype=bool),
        np.ones((512, 512), dtype=bool),
        np.eye(512, dtype=bool),
        disc_mask(3),
    ],
    ids=["empty", "full", "diagonal", "disc"],
)
def test_rle_round_trip_edge_masks(mask):
    runs = encode_rle(mask)

    assert np.array_equal(decode_rle(runs), mask)
    assert encode_rle(decode_rle(runs)) == runs


def test_rle_encoding_format():
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, 1:3] = True
    mask[1, 3] = True
    mask[2, 0] = True
    mask[3, 3] = True

    assert encode_rle(mask) == [1, 2, 7, 2, 15, 1]


def test_rle_runs_past_end_are_cut():
    mask = decode_rle([510 * 512, 10**6])

    assert mask[510:].all()
    assert not mask[:510].any()


def test_rle_overlapping_unsorted_runs_merge():
    mask = decode_rle([20, 5, 10, 12], (4, 8))

    assert np.flatnonzero(mask.reshape(-1)).tolist() == list(range(10, 25))


def test_parse_rle_string_forms():
    assert parse_rle("[1, 2, 3, 4]", "entry")[0] == [1, 2, 3, 4]
    assert parse_rle("1 2 3 4", "entry")[0] == [1, 2, 3, 4]
    assert parse_rle("[1, 2, 3, 4]", "entry")[1] == ["stored as a string"]


def test_parse_rle_pairs_floats_odd_length():
    assert parse_rle([[1, 2], [3, 4]], "entry")[0] == [1, 2, 3, 4]
    assert parse_rle([1.0, 2.0], "entry")[0] == [1, 2]
    runs, quirks = parse_rle([1, 2, 3], "entry")
    assert runs == [1, 2]
    assert quirks == ["odd-length list, last value dropped"]


@pytest.mark.parametrize("value", [[1, -2], [1, 2.5], [1, "x"], [True, 2]], ids=["negative", "fraction", "text", "bool"])
def test_parse_rle_bad_value_error(value):
    with pytest.raises(InputError, match="entry 000: mask run value") as error:
        parse_rle(value, "entry 000")

    assert "\n" not in str(error.value)


def test_parse_rle_not_a_list_error():
    with pytest.raises(InputError, match="mask must be a list of \\(start, length\\) runs, got dict"):
        parse_rle({"counts": "abc"}, "entry 000")


def test_quirky_masks_still_usable(tmp_path):
    root = build_piebench_folder(tmp_path / "pie", categories=50)
    mapping = json.loads((root / "mapping_file.json").read_text())
    # Categories 5 and up have one image each, so with 50 categories all of them are chosen.
    first, second, third = sorted(mapping)[5:8]
    mapping[first]["mask"] = json.dumps(mapping[first]["mask"])
    mapping[second]["mask"] = mapping[second]["mask"] + [5]
    mapping[third]["mask"] = mapping[third]["mask"][:-1] + [10**7]
    _write_mapping(root, mapping)

    pairs = create_bench("piebench", data_root=str(root)).pairs()

    assert {first, second, third} <= {pair.pair_id.split("-")[0] for pair in pairs}


def test_bad_mask_entry_skipped_but_named_on_load(tmp_path):
    root = build_piebench_folder(tmp_path / "pie", categories=51)
    mapping = json.loads((root / "mapping_file.json").read_text())
    broken = sorted(mapping)[0]
    mapping[broken]["mask"] = [1, -5]
    _write_mapping(root, mapping)
    bench = create_bench("piebench", data_root=str(root))

    assert broken not in {pair.pair_id.split("-")[0] for pair in bench.pairs()}
    with pytest.raises(InputError, match=f"entry {broken}: mask run value -5"):
        bench.read_given_mask(f"pie:{broken}", (512, 512))


def test_blended_word_forms():
    assert parse_blended_word("cat dog") == ("cat", "dog")
    assert parse_blended_word("cat") == ("cat", None)
    assert parse_blended_word("") == (None, None)
    assert parse_blended_word(None) == (None, None)
    assert parse_blended_word("teddy bear teddy bear") == ("teddy bear", "teddy bear")
    assert parse_blended_word("red old car") == (None, None)


def test_too_few_categories_error(tmp_path):
    root = build_piebench_folder(tmp_path / "pie", categories=20)

    with pytest.raises(InputError, match="only 20 usable object categories in mapping_file.json, 50 needed") as error:
        create_bench("piebench", data_root=str(root)).pairs()

    assert "\n" not in str(error.value)


def test_missing_mapping_file_error(tmp_path):
    (tmp_path / "annotation_images").mkdir()

    with pytest.raises(InputError, match="mapping_file.json: file not found") as error:
        create_bench("piebench", data_root=str(tmp_path))

    assert "\n" not in str(error.value)


def test_missing_images_folder_error(tmp_path):
    with pytest.raises(InputError, match="annotation_images: folder not found") as error:
        create_bench("piebench", data_root=str(tmp_path))

    assert "\n" not in str(error.value)


def test_invalid_json_error(piebench_folder):
    (piebench_folder / "mapping_file.json").write_text('{"000": {"image_path": ')

    with pytest.raises(InputError, match="mapping_file.json: not valid JSON") as error:
        create_bench("piebench", data_root=str(piebench_folder))

    assert "\n" not in str(error.value)


def test_invalid_entries_reported_together(piebench_folder):
    mapping = json.loads((piebench_folder / "mapping_file.json").read_text())
    mapping["800000000001"] = {"original_prompt": "a cat"}
    mapping["800000000002"] = {"image_path": "x.jpg"}
    mapping["800000000003"] = ["not", "an", "object"]
    _write_mapping(piebench_folder, mapping)

    with pytest.raises(InputError, match="3 invalid entries") as error:
        create_bench("piebench", data_root=str(piebench_folder))

    message = str(error.value)
    assert "800000000001: missing image_path" in message
    assert "800000000002: missing original_prompt" in message
    assert "800000000003: not an object" in message
    assert "\n" not in message


def test_image_path_leaving_root_error(tmp_path):
    root = build_piebench_folder(tmp_path / "pie", categories=50)
    mapping = json.loads((root / "mapping_file.json").read_text())
    for record in mapping.values():
        record["image_path"] = "../../outside.jpg"
    _write_mapping(root, mapping)

    with pytest.raises(InputError, match="path '../../outside.jpg' leaves the data root") as error:
        create_bench("piebench", data_root=str(root)).pairs()

    assert "\n" not in str(error.value)


def test_missing_selected_image_error(tmp_path):
    root = build_piebench_folder(tmp_path / "pie", categories=50, write_images=False)

    with pytest.raises(InputError, match="50 selected images not found") as error:
        create_bench("piebench", data_root=str(root)).pairs()

    assert "\n" not in str(error.value)


def test_windows_separators_accepted(tmp_path):
    root = build_piebench_folder(tmp_path / "pie", categories=50)
    mapping = json.loads((root / "mapping_file.json").read_text())
    for record in mapping.values():
        record["image_path"] = record["image_path"].replace("/", "\\")
    _write_mapping(root, mapping)

    pairs = create_bench("piebench", data_root=str(root)).pairs()

    assert all(pair.source_image.endswith(".jpg") and "\\" not in pair.source_image for pair in pairs)


def test_background_edit_excluded(tmp_path):
    root = tmp_path / "pie"
    (root / "annotation_images").mkdir(parents=True)
    mapping = {"000000000001": pie_entry("a.jpg", "sky sky", encode_rle(disc_mask(0)), editing_type_id="8")}
    _write_mapping(root, mapping)

    with pytest.raises(InputError, match="only 0 usable object categories"):
        create_bench("piebench", data_root=str(root), count=2).pairs()
