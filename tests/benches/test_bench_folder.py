import json

import numpy as np
import pytest
from bench_data import object_mask, object_photo
from PIL import Image

from egobench.benches import create_bench
from egobench.errors import ConfigError, InputError

HEADER = "pair_id,source_image,reference_image,source_class,reference_class,source_mask,target_prompt\n"


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "mine"
    (root / "images").mkdir(parents=True)
    for index in range(3):
        object_photo(seed=index).save(root / "images" / f"photo{index}.png")
    Image.fromarray(object_mask().astype(np.uint8)).save(root / "images" / "photo0_mask.png")
    return root


def _write(path, text):
    path.write_text(text)
    return path


def test_csv_manifest_pairs(photos):
    manifest = _write(
        photos / "pairs.csv",
        HEADER
        + "a,images/photo0.png,images/photo1.png,cat,dog,images/photo0_mask.png,\n"
        + ",images/photo1.png,images/photo2.png,dog,teapot,,a teapot on grass\n",
    )

    pairs = create_bench("folder", manifest=str(manifest)).pairs()

    assert [pair.pair_id for pair in pairs] == ["a", "photo1-photo2"]
    assert pairs[0].source_image == str(photos / "images" / "photo0.png")
    assert pairs[0].source_mask == str(photos / "images" / "photo0_mask.png")
    assert pairs[0].source_prompt == "a photo of a cat"
    assert pairs[0].target_prompt == "a photo of a dog"
    assert pairs[1].target_prompt == "a teapot on grass"
    assert pairs[1].source_mask is None


def test_jsonl_manifest_with_box(photos):
    record = {
        "source_image": "images/photo0.png",
        "reference_image": "images/photo2.png",
        "source_class": "apple",
        "reference_class": "orange",
        "source_box": [28, 18, 68, 54],
    }
    manifest = _write(photos / "pairs.jsonl", json.dumps(record) + "\n\n")

    pairs = create_bench("folder", manifest=str(manifest)).pairs()

    assert len(pairs) == 1
    assert pairs[0].source_box == (28, 18, 68, 54)
    assert pairs[0].source_prompt == "a photo of an apple"
    assert pairs[0].to_row()["source_box"] == "28,18,68,54"


def test_default_manifest_in_data_root(photos):
    _write(photos / "pairs.csv", HEADER + "a,images/photo0.png,images/photo1.png,cat,dog,,\n")

    pairs = create_bench("folder", data_root=str(photos)).pairs()

    assert [pair.pair_id for pair in pairs] == ["a"]


def test_manifest_mask_used_on_load(photos):
    manifest = _write(photos / "pairs.csv", HEADER + "a,images/photo0.png,images/photo1.png,cat,dog,images/photo0_mask.png,\n")
    bench = create_bench("folder", manifest=str(manifest))

    loaded = bench.load(bench.pairs()[0], 72)

    # The 0/1 mask file is binarised and goes through the same centre crop as the 96 x 72 image.
    expected = object_mask()[:, 12:84]
    assert np.array_equal(loaded.source_mask, expected)


def test_box_seeds_segmenter(photos):
    class RecordingSegmenter:
        name = "recording"
        boxes = []

        def __call__(self, image, box=None):
            self.boxes.append(box)
            mask = np.zeros((image.height, image.width), dtype=bool)
            mask[20:50, 30:60] = True
            return mask

        def signature(self):
            return "recording"

    manifest = _write(
        photos / "pairs.csv",
        "source_image,reference_image,source_class,reference_class,source_box\n"
        "images/photo0.png,images/photo1.png,cat,dog,\"28,18,68,54\"\n",
    )
    segmenter = RecordingSegmenter()
    bench = create_bench("folder", manifest=str(manifest))
    bench.segmenter = segmenter

    bench.load(bench.pairs()[0], 64)

    assert segmenter.boxes == [(28, 18, 68, 54), None]


def test_every_bad_row_reported_at_once(photos, tmp_path):
    (tmp_path / "outside.png").write_bytes((photos / "images" / "photo0.png").read_bytes())
    (photos / "images" / "broken.png").write_bytes(b"no image here")
    manifest = _write(
        photos / "pairs.csv",
        HEADER
        + "ok,images/photo0.png,images/photo1.png,cat,dog,,\n"
        + "r3,images/missing.png,images/photo1.png,cat,dog,,\n"
        + "r4,../outside.png,images/photo1.png,cat,dog,,\n"
        + "r5,images/photo0.png,images/photo1.png,,dog,,\n"
        + "ok,images/photo1.png,images/photo2.png,cat,dog,,\n"
        + "r7,images/photo0.png,images/photo1.png,cat,dog,images/nomask.png,\n"
        + "r 8,images/photo0.png,images/broken.png,cat,dog,,\n",
    )

    with pytest.raises(InputError) as error:
        create_bench("folder", manifest=str(manifest))

    message = str(error.value)
    assert "\n" not in message
    assert "7 problem(s)" in message
    assert "line 3: source_image 'images/missing.png' not found" in message
    assert "line 4: source_image '../outside.png' leaves the data root" in message
    assert "line 5: missing value(s) for source_class" in message
    assert "line 6: pair_id 'ok' already used on line 2" in message
    assert "line 7: source_mask 'images/nomask.png' not found" in message
    assert "line 8: reference_image 'images/broken.png' is not a readable image" in message
    assert "line 8: pair_id 'r 8' may only contain" in message


def test_bad_jsonl_lines_reported(photos):
    good = {"source_image": "images/photo0.png", "reference_image": "images/photo1.png", "source_class": "a", "reference_class": "b"}
    manifest = _write(
        photos / "pairs.jsonl",
        json.dumps(good) + "\n{not json\n[1, 2]\n" + json.dumps({**good, "source_box": "5,5,2,2"}) + "\n",
    )

    with pytest.raises(InputError) as error:
        create_bench("folder", manifest=str(manifest))

    message = str(error.value)
    assert "\n" not in message
    assert "line 2: not valid JSON" in message
    assert "line 3: expected a JSON object" in message
    assert "line 4: source_box '5,5,2,2' must be left,top,right,bottom" in message


def test_missing_header_columns_error(photos):
    manifest = _write(photos / "pairs.csv", "source_image,reference_image\nimages/photo0.png,images/photo1.png\n")

    with pytest.raises(InputError, match=r"missing column\(s\) source_class, reference_class in the header") as error:
        create_bench("folder", manifest=str(manifest))

    assert "\n" not in str(error.value)


def test_unknown_column_error(photos):
    manifest = _write(
        photos / "pairs.csv",
        "source_image,reference_image,source_class,reference_class,source_mak\n"
        "images/photo0.png,images/photo1.png,cat,dog,x.png\n",
    )

    with pytest.raises(InputError, match=r"unknown column\(s\) source_mak") as error:
        create_bench("folder", manifest=str(manifest))

    assert "\n" not in str(error.value)


def test_extra_values_error(photos):
    manifest = _write(photos / "pairs.csv", HEADER + "a,images/photo0.png,images/photo1.png,cat,dog,,,surplus\n")

    with pytest.raises(InputError, match="line 2: 1 more values than header columns"):
        create_bench("folder", manifest=str(manifest))


def test_unsupported_manifest_type_error(photos):
    manifest = _write(photos / "pairs.txt", "whatever")

    with pytest.raises(InputError, match=r"unsupported manifest type \.txt; use a \.csv or \.jsonl file") as error:
        create_bench("folder", manifest=str(manifest))

    assert "\n" not in str(error.value)


def test_empty_manifest_error(photos):
    manifest = _write(photos / "pairs.csv", HEADER)

    with pytest.raises(InputError, match="the manifest lists no pairs"):
        create_bench("folder", manifest=str(manifest))


def test_missing_manifest_error(photos):
    with pytest.raises(InputError, match="manifest not found") as error:
        create_bench("folder", manifest=str(photos / "absent.csv"))

    assert "\n" not in str(error.value)


def test_no_manifest_in_root_error(photos):
    with pytest.raises(InputError, match="no pairs.csv or pairs.jsonl found; pass --manifest"):
        create_bench("folder", data_root=str(photos))


def test_no_location_error():
    with pytest.raises(ConfigError, match="folder needs --manifest"):
        create_bench("folder")


def test_data_root_wider_than_manifest_folder(photos):
    lists = photos / "lists"
    lists.mkdir()
    manifest = _write(lists / "pairs.csv", HEADER + "a,../images/photo0.png,../images/photo1.png,cat,dog,,\n")

    with pytest.raises(InputError, match="leaves the data root"):
        create_bench("folder", manifest=str(manifest))
    pairs = create_bench("folder", manifest=str(manifest), data_root=str(photos)).pairs()

    assert pairs[0].source_image == str(photos / "images" / "photo0.png")
