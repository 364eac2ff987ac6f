"""Pairing strategies inside one group of images: which image is edited toward which.

Each strategy takes the group's size and returns (source index, reference index) tuples in a fixed
order. Indices refer to the group's images in their canonical order (DreamEditBench: `foundN` by N).
"""

from __future__ import annotations

PAIRINGS_WITHIN_GROUP = ("swap", "all")


def swap_pairs(count: int) -> list[tuple[int, int]]:
    """Take the images two by two in order and exchange each couple both ways.

    Images 0 and 1 form a couple, then 2 and 3, and so on. Each couple gives two edits (0 toward 1
    and 1 toward 0). So every image is a source exactly once and a reference exactly once, and a
    group of n images gives n edits.

    With an odd count, the last three images rotate instead of the last couple swapping:
    n-3 toward n-2, n-2 toward n-1, n-1 toward n-3. Every image still is a source once and a
    reference once, and no image is left out. A group of one image gives no edit.
    """
    if count < 2:
        return []
    pairs = []
    couples_end = count - 3 if count % 2 else count
    for first in range(0, couples_end, 2):
        pairs += [(first, first + 1), (first + 1, first)]
    if count % 2:
        a, b, c = count - 3, count - 2, count - 1
        pairs += [(a, b), (b, c), (c, a)]
    return pairs


def all_pairs(count: int) -> list[tuple[int, int]]:
    """Return every ordered pair of distinct images: n * (n - 1) edits for n images."""
    return [(source, reference) for source in range(count) for reference in range(count) if source != reference]


def pairs_within_group(pairing: str, count: int) -> list[tuple[int, int]]:
    """Dispatch to `swap_pairs` or `all_pairs` by name."""
    if pairing == "swap":
        return swap_pairs(count)
    if pairing == "all":
        return all_pairs(count)
    raise ValueError(f"unknown pairing {pairing!r}")
