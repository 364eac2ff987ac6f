"""PIE-Bench's run-length mask encoding.

A mask is a flat list `[start_1, length_1, start_2, length_2, ...]`: each run sets `length`
pixels from index `start` of the row-major flattened 512 x 512 image. `encode_rle` and
`decode_rle` are exact inverses on clean lists. `parse_rle` first turns the forms met in
annotation files into a clean list:

- a string holding the list (`"[12, 3, 40, 5]"`) or bare numbers (`"12 3 40 5"`);
- a list of `[start, length]` pairs instead of a flat list;
- integral floats (`12.0`);
- an odd-length list, whose last value is a start without a length: it is dropped;
- runs that reach past the last pixel: they are cut at the end of the image;
- unsorted or overlapping runs: decoding takes their union.

Not handled, because nothing in the data can tell them apart from a correct mask: masks
flattened column-major (transposed) or with 1-based starts. Decoding follows PIE-Bench's own
row-major, 0-based reading. Unlike PIE-Bench's evaluation code, which marks the one-pixel image
border as edited, decoding adds no border: here the mask is the object, not the edited region.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

from egobench.errors import InputError

PIE_MASK_SHAPE = (512, 512)

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def encode_rle(mask: np.ndarray) -> list[int]:
    """Encode a boolean (height, width) mask as a flat list of (start, length) runs, row-major."""
    flat = np.asarray(mask, dtype=bool).reshape(-1).astype(np.int8)
    edges = np.diff(np.concatenate([[0], flat, [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    runs = np.empty(2 * len(starts), dtype=np.int64)
    runs[0::2] = starts
    runs[1::2] = ends - starts
    return runs.tolist()


def decode_rle(runs: list[int], shape: tuple[int, int] = PIE_MASK_SHAPE) -> np.ndarray:
    """Decode a flat list of (start, length) runs into a boolean mask of `shape`.

    Runs past the last pixel are cut there; overlapping runs are merged. `runs` must have an even
    length and non-negative integers (see `parse_rle` for raw annotation values).
    """
    if len(runs) % 2:
        raise ValueError(f"run list has odd length {len(runs)}; clean it with parse_rle first")
    size = shape[0] * shape[1]
    array = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    starts = np.minimum(array[:, 0], size)
    ends = np.minimum(array[:, 0] + array[:, 1], size)

    # A difference array marks +1 where a run starts and -1 where it ends, so overlapping runs
    # and any run order decode in one cumulative sum.
    delta = np.zeros(size + 1, dtype=np.int64)
    np.add.at(delta, starts, 1)
    np.add.at(delta, ends, -1)
    return (np.cumsum(delta[:-1]) > 0).reshape(shape)


def parse_rle(value, where: str) -> tuple[list[int], list[str]]:
    """Turn an annotation's raw mask value into a clean run list, and name the quirks it had.

    Raise `InputError` naming `where` for values that are not numbers or are negative or fractional.
    """
    quirks = []
    if value is None:
        return [], quirks
    if isinstance(value, str):
        quirks.append("stored as a string")
        value = _list_from_string(value)
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{where}: mask must be a list of (start, length) runs, got {type(value).__name__}")
    if value and all(isinstance(item, (list, tuple)) for item in value):
        quirks.append("stored as [start, length] pairs")
        value = [number for item in value for number in item]

    runs = [_run_value(item, where) for item in value]
    if len(runs) % 2:
        quirks.append("odd-length list, last value dropped")
        runs = runs[:-1]
    return runs, quirks


def _list_from_string(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return _NUMBER.findall(text)


def _run_value(item, where: str) -> int:
    if isinstance(item, bool):
        raise InputError(f"{where}: mask run value {item!r} is not a number; fix the mask list")
    try:
        number = float(item)
    except (TypeError, ValueError):
        raise InputError(f"{where}: mask run value {item!r} is not a number; fix the mask list") from None
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise InputError(f"{where}: mask run value {item!r} must be a whole number >= 0; fix the mask list")
    return int(number)
