from collections import Counter

import pytest

from egobench.benches.pairing import all_pairs, pairs_within_group, swap_pairs


@pytest.mark.parametrize("count", range(2, 13))
def test_swap_each_image_once_each_way(count):
    pairs = swap_pairs(count)
    sources = Counter(source for source, _ in pairs)
    references = Counter(reference for _, reference in pairs)

    assert len(pairs) == count
    assert sources == Counter(range(count))
    assert references == Counter(range(count))
    assert all(source != reference for source, reference in pairs)


@pytest.mark.parametrize("count", [2, 4, 6, 10])
def test_swap_even_count_exchanges_couples(count):
    pairs = set(swap_pairs(count))

    for first in range(0, count, 2):
        assert (first, first + 1) in pairs
        assert (first + 1, first) in pairs


def test_swap_odd_count_rotates_last_three():
    assert swap_pairs(5) == [(0, 1), (1, 0), (2, 3), (3, 4), (4, 2)]
    assert swap_pairs(3) == [(0, 1), (1, 2), (2, 0)]


def test_swap_single_image_gives_nothing():
    assert swap_pairs(1) == []
    assert swap_pairs(0) == []


def test_all_pairs_every_ordered_pair():
    pairs = all_pairs(4)

    assert len(pairs) == 12
    assert len(set(pairs)) == 12
    assert all(source != reference for source, reference in pairs)


def test_dispatch_rejects_unknown_name():
    assert pairs_within_group("swap", 4) == swap_pairs(4)
    with pytest.raises(ValueError):
        pairs_within_group("random", 4)
