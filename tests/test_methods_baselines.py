"""The weight-free reference points: `source` and `paste`."""

from __future__ import annotations

import numpy as np
import pytest

from egobench.errors import InputError
from egobench.methods import create_method
from tests.methods_pairs import REFERENCE_OBJECT, SOURCE_BACKGROUND, SOURCE_OBJECT, synthetic_pair


def _paste(feather: float = 0.0):
    return create_method("paste", model=None, device="cpu", overrides=["paste.resolution=64", f"paste.feather={feather}"])


def test_source_returns_source_unchanged():
    pair = synthetic_pair()
    method = create_method("source", model=None, device="cpu", overrides=["source.resolution=64"])

    edited = method.edit(pair, seed=0)

    assert method.resolution == 64
    assert edited.mode == "RGB"
    assert np.array_equal(np.asarray(edited), np.asarray(pair.source))
    assert edited is not pair.source


def test_paste_keeps_background_outside_box():
    pair = synthetic_pair()
    edited = np.asarray(_paste().edit(pair, seed=0))
    outside = np.ones((64, 64), bool)
    outside[16:48, 16:48] = False

    assert edited.shape == (64, 64, 3)
    assert np.array_equal(edited[outside], np.asarray(pair.source)[outside])


def test_paste_fits_object_keeping_aspect_ratio():
    edited = np.asarray(_paste().edit(synthetic_pair(), seed=0))
    pasted = np.all(edited == REFERENCE_OBJECT, axis=-1)
    rows = np.flatnonzero(pasted.any(axis=1))
    columns = np.flatnonzero(pasted.any(axis=0))

    # A 16 x 48 object scaled into a 32 x 32 box: 32 rows tall, 32 * 16 / 48 = 10.7 -> 11 columns wide.
    assert (rows[0], rows[-1]) == (16, 47)
    assert columns[-1] - columns[0] + 1 == 11
    # Centred: the box's centre column (31.5) lies in the middle of the pasted columns.
    assert abs((columns[0] + columns[-1]) / 2 - 31.5) <= 0.5
    # The reference background is never pasted; the source object shows beside the narrower object.
    assert not np.any(np.all(edited == (20, 140, 20), axis=-1))
    assert np.all(edited[30, 16:20] == SOURCE_OBJECT)


def test_paste_feather_blends_edge():
    hard = np.asarray(_paste(0.0).edit(synthetic_pair(), seed=0)).astype(int)
    soft = np.asarray(_paste(0.02).edit(synthetic_pair(), seed=0)).astype(int)
    allowed = {tuple(SOURCE_BACKGROUND), tuple(SOURCE_OBJECT), tuple(REFERENCE_OBJECT)}

    assert {tuple(pixel) for pixel in hard.reshape(-1, 3)} <= allowed
    blended = {tuple(pixel) for pixel in soft.reshape(-1, 3)} - allowed
    assert len(blended) > 0
    # The object's centre stays the reference colour under a feather this small.
    assert tuple(soft[32, 32]) == REFERENCE_OBJECT


def test_paste_is_deterministic():
    first = np.asarray(_paste(0.02).edit(synthetic_pair(), seed=0))
    second = np.asarray(_paste(0.02).edit(synthetic_pair(), seed=7))

    assert np.array_equal(first, second)


def test_paste_rejects_empty_reference_mask():
    pair = synthetic_pair()
    pair.reference_mask[:] = False

    with pytest.raises(InputError, match="pair cat-found0-00 reference: mask is empty"):
        _paste().edit(pair, seed=0)
