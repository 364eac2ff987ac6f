import io

import cv2
import numpy as np
import pytest
from bench_data import build_dreamedit_folder, object_mask, object_photo
from PIL import Image

from egobench.benches import create_bench
from egobench.benches.images import mask_to_square, read_image_file, resize_center_crop
from egobench.benches.mask_cache import MaskCache
from egobench.benches.masks import GrabCutSegmenter, binarize_mask, check_mask, create_segmenter, read_mask
from egobench.benches.paths import path_inside
from egobench.benches.strip import pair_strip
from egobench.errors import ConfigError, InputError


def _save(image, path, **options):
    image.save(path, **options)
    return path


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "1", "CMYK", "I;16", "I", "F"])
def test_any_mode_becomes_rgb(tmp_path, mode):
    base = object_photo((40, 30))
    if mode in ("I;16", "I", "F"):
        image = base.convert("L").convert(mode)
    else:
        image = base.convert(mode)
    # PNG cannot store CMYK, 32-bit integer or float pixels.
    suffix = {"CMYK": ".jpg", "I": ".tiff", "F": ".tiff"}.get(mode, ".png")
    path = _save(image, tmp_path / f"image{suffix}")

    loaded, data = read_image_file(path)

    assert loaded.mode == "RGB"
    assert loaded.size == (40, 30)
    assert data == path.read_bytes()


def test_sixteen_bit_scaled_to_full_range(tmp_path):
    array = np.zeros((8, 8), dtype=np.uint16)
    array[:, 4:] = 1000
    path = _save(Image.fromarray(array), tmp_path / "deep.png")

    loaded, _ = read_image_file(path)

    assert np.asarray(loaded)[0, 7].tolist() == [255, 255, 255]
    assert np.asarray(loaded)[0, 0].tolist() == [0, 0, 0]


def test_sixteen_bit_colour_png(tmp_path):
    array = np.zeros((8, 8, 3), dtype=np.uint16)
    array[:, 4:] = [60000, 30000, 1000]  # OpenCV writes channels in BGR order.
    cv2.imwrite(str(tmp_path / "deep.png"), array)

    loaded, _ = read_image_file(tmp_path / "deep.png")

    assert loaded.mode == "RGB"
    assert np.abs(np.asarray(loaded)[0, 7].astype(int) - [4, 117, 233]).max() <= 1


def test_transparent_pixels_become_white(tmp_path):
    image = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    loaded, _ = read_image_file(_save(image, tmp_path / "clear.png"))

    assert np.asarray(loaded)[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation_applied(tmp_path):
    image = Image.new("RGB", (60, 20), (200, 0, 0))
    image.paste((0, 0, 200), (0, 0, 10, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # Rotated 90 degrees: viewers turn it clockwise.
    path = _save(image, tmp_path / "turned.jpg", exif=exif.tobytes(), quality=95)

    loaded, _ = read_image_file(path)

    assert loaded.size == (20, 60)
    top = np.asarray(loaded)[2, 10]
    assert top[2] > 150
    assert top[0] < 80


def test_unreadable_image_error(tmp_path):
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG broken")

    with pytest.raises(InputError, match="fake.png: not a readable image") as error:
        read_image_file(path)

    assert "\n" not in str(error.value)


def test_missing_image_error(tmp_path):
    with pytest.raises(InputError, match="absent.jpg: image not found") as error:
        read_image_file(tmp_path / "absent.jpg")

    assert "\n" not in str(error.value)


def test_crop_moves_mask_with_image():
    image = object_photo((120, 60))
    mask = object_mask((120, 60))

    square = np.asarray(resize_center_crop(image, 60))
    square_mask = mask_to_square(mask, 60)

    assert square_mask.shape == (60, 60)
    assert np.array_equal(square_mask, mask[:, 30:90])
    red_inside = square[square_mask][:, 0].mean()
    red_outside = square[~square_mask][:, 0].mean()
    assert red_inside > 200 > red_outside


@pytest.mark.parametrize(
    "array",
    [
        np.array([[0, 255]], dtype=np.uint8),
        np.array([[0, 1]], dtype=np.uint8),
        np.array([[0, 65535]], dtype=np.uint16),
        np.array([[[0, 0, 0], [0, 200, 0]]], dtype=np.uint8),
        np.array([[[255, 255, 255, 0], [255, 255, 255, 255]]], dtype=np.uint8),
    ],
    ids=["0-255", "0-1", "16-bit", "colour", "alpha"],
)
def test_binarize_mask_forms(array):
    assert binarize_mask(array).tolist() == [[False, True]]


def test_binarize_blank_mask_empty():
    assert not binarize_mask(np.zeros((3, 3), dtype=np.uint8)).any()


def test_read_mask_palette_file(tmp_path):
    image = Image.fromarray((object_mask() * 3).astype(np.uint8), mode="L").convert("P")
    mask = read_mask(_save(image, tmp_path / "mask.png"))

    assert np.array_equal(mask, object_mask())


def test_read_mask_missing_error(tmp_path):
    with pytest.raises(InputError, match="none.png: mask not found") as error:
        read_mask(tmp_path / "none.png")

    assert "\n" not in str(error.value)


def test_read_mask_unreadable_error(tmp_path):
    (tmp_path / "mask.png").write_bytes(b"\x89PNG truncated")

    with pytest.raises(InputError, match="mask.png: not a readable mask image") as error:
        read_mask(tmp_path / "mask.png")

    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("fill", "message"),
    [(0, "mask is empty"), (10_000, "mask covers 100.0% of the image"), (5, "mask covers only 0.05% of the image")],
    ids=["empty", "full", "tiny"],
)
def test_check_mask_errors_name_pair(fill, message):
    mask = np.zeros(10_000, dtype=bool)
    mask[:fill] = True

    with pytest.raises(InputError, match=message) as error:
        check_mask(mask.reshape(100, 100), "pair dog-found0-found1 source mask")

    assert str(error.value).startswith("pair dog-found0-found1 source mask: ")
    assert "\n" not in str(error.value)


def test_empty_mask_on_load_names_pair(tmp_path):
    data_root, subjects = build_dreamedit_folder(tmp_path, {"dog": 2})
    bench = create_bench("dreamedit", data_root=str(data_root))
    bench.segmenter = lambda image, box=None: np.zeros((image.height, image.width), dtype=bool)

    with pytest.raises(InputError, match="pair dog-found0-found1 source mask: mask is empty"):
        bench.load(bench.pairs()[0], 32)


def test_grabcut_finds_object():
    image = object_photo((160, 120), seed=3)

    mask = GrabCutSegmenter()(image)
    truth = object_mask((160, 120))
    overlap = (mask & truth).sum() / (mask | truth).sum()

    assert overlap > 0.85


def test_grabcut_box_limits_object():
    image = object_photo((160, 120), seed=3)

    mask = GrabCutSegmenter()(image, box=(60, 10, 150, 110))

    assert not mask[:, :55].any()
    assert mask[:, 60:].any()


def test_unknown_segmenter_error():
    with pytest.raises(ConfigError, match="unknown segmenter 'sam'; choose one of: grabcut"):
        create_segmenter("sam")


def test_mask_cache_reused(tmp_path):
    data_root, _ = build_dreamedit_folder(tmp_path, {"dog": 2})
    bench = create_bench("dreamedit", data_root=str(data_root))
    calls = []
    grabcut = bench.segmenter

    class CountingSegmenter:
        def __call__(self, image, box=None):
            calls.append(image.size)
            return grabcut(image, box)

        def signature(self):
            return grabcut.signature()

    bench.segmenter = CountingSegmenter()
    cache = tmp_path / "run" / "masks"
    first = bench.load(bench.pairs()[0], 48, cache_dir=cache)
    second = bench.load(bench.pairs()[1], 48, cache_dir=cache)

    assert len(calls) == 2
    assert np.array_equal(first.source_mask, second.reference_mask)
    assert sorted(path.suffix for path in cache.iterdir()) == [".png", ".png"]

    bench.load(bench.pairs()[0], 64, cache_dir=cache)

    assert len(calls) == 4
    assert len(list(cache.glob("*-64.png"))) == 2


def test_mask_cache_key_parts():
    key = MaskCache.key(b"image", 512, "grabcut()")

    assert key.endswith("-512")
    assert MaskCache.key(b"image", 256, "grabcut()") != key
    assert MaskCache.key(b"other", 512, "grabcut()") != key
    assert MaskCache.key(b"image", 512, "grabcut(iterations=3)") != key
    assert MaskCache.key(b"image", 512, "grabcut()", (1, 2, 3, 4)) != key


def test_mask_cache_unreadable_file_recomputed(tmp_path):
    cache = MaskCache(tmp_path)
    key = MaskCache.key(b"image", 8, "grabcut()")
    cache.path(key).write_bytes(b"half written")

    assert cache.get(key) is None

    cache.put(key, np.eye(8, dtype=bool))

    assert np.array_equal(cache.get(key), np.eye(8, dtype=bool))
    assert [path.name for path in tmp_path.iterdir()] == [f"{key}.png"]


def test_path_inside_rejects_escape(tmp_path):
    assert path_inside(tmp_path, "a/b.jpg", "x") == tmp_path / "a" / "b.jpg"
    assert path_inside(tmp_path, "a/../b.jpg", "x") == tmp_path / "b.jpg"
    for value in ("../b.jpg", "a/../../b.jpg", "/etc/passwd"):
        with pytest.raises(InputError, match="leaves the data root") as error:
            path_inside(tmp_path, value, "manifest line 2")
        assert "\n" not in str(error.value)


def test_pair_strip_panels(tmp_path):
    data_root, _ = build_dreamedit_folder(tmp_path, {"dog": 2})
    bench = create_bench("dreamedit", data_root=str(data_root))
    loaded = bench.load(bench.pairs()[0], 32)

    strip = pair_strip(loaded, edited=Image.new("RGB", (32, 32), (0, 255, 0)))
    pixels = np.asarray(strip)

    assert strip.size == (160, 32)
    assert np.array_equal(pixels[:, :32], np.asarray(loaded.source))
    outside = ~loaded.source_mask
    assert pixels[:, 32:64][outside].mean() < np.asarray(loaded.source)[outside].mean()
    assert np.array_equal(pixels[:, 32:64][loaded.source_mask], np.asarray(loaded.source)[loaded.source_mask])
    assert pixels[0, 150].tolist() == [0, 255, 0]


def test_decompression_bomb_is_input_error(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300)).save(buffer, format="PNG")
    path = tmp_path / "large.png"
    path.write_bytes(buffer.getvalue())
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)

    with pytest.raises(InputError, match="large.png: not a readable image"):
        read_image_file(path)


def test_grabcut_retry_on_real_photo(shared_data):
    # On this photo the default box gives GrabCut's collapsed, nearly empty mask; a wider box succeeds.
    image, _ = read_image_file(shared_data / "dreamedit-proxy" / "replacement_source" / "cat" / "found2.jpg")

    without_retry = GrabCutSegmenter(retry_box_fractions=())(image)
    with_retry = GrabCutSegmenter()(image)

    assert without_retry.mean() < 0.002
    assert 0.1 < with_retry.mean() < 0.6
