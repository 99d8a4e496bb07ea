"""One fitting of passages into a token budget (`rankwise.budget.fit`), with the policies methods choose."""

from __future__ import annotations

import pytest

from rankwise.budget import OverBudget, fit


def test_what_fits_is_kept_whole():
    for policy in ("equal-share", "longest-first", "tail", "proportional"):
        assert fit(10, [3, 4], 20, policy) == [3, 4]


def test_equal_share_gives_a_short_piece_all_it_has_and_the_rest_to_the_others():
    assert fit(10, [2, 50, 50], 40, "equal-share") == [2, 14, 14]


def test_longest_first_takes_tokens_from_the_longest_the_first_on_a_tie():
    assert fit(0, [10, 4, 10], 20, "longest-first") == [8, 4, 8]
    assert fit(0, [10, 4, 9], 20, "longest-first") == [8, 4, 8]


def test_tail_cuts_only_the_last_piece():
    assert fit(5, [3, 100], 20, "tail") == [3, 12]
    with pytest.raises(OverBudget, match="the pieces before the last take 30 tokens, over the 15 left"):
        fit(5, [30, 100], 20, "tail")


def test_proportional_keeps_the_same_fraction_of_each():
    assert fit(0, [100, 50], 30, "proportional") == [20, 10]


def test_a_fixed_part_over_the_limit_is_refused():
    with pytest.raises(OverBudget, match="the fixed part takes 30 tokens, over the limit of 20"):
        fit(30, [1], 20, "equal-share")
