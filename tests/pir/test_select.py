"""Pruning rule: ratios and rounding per functional pattern, progressive steps kept, each strategy."""

from __future__ import annotations

import argparse
import random

import pytest

from limopro_plugins.pir.select import chain_rng, n_to_remove, select_removals
from limopro_plugins.prune import parse_ratios
from limopro_plugins.text import Mode

P, V, M, E = Mode.PROGRESSIVE, Mode.VERIFICATION, Mode.MULTI_METHOD, Mode.ERROR_CORRECTION


@pytest.mark.parametrize(
    ("count", "ratio", "expected"),
    [
        (0, 0.5, 0),
        (1, 0.3, 0),
        (1, 0.5, 1),
        (2, 0.2, 0),
        (2, 0.3, 1),
        (3, 0.5, 2),
        (4, 0.5, 2),
        (5, 0.2, 1),
        (10, 0.8, 8),
        (3, 1.0, 3),
        (7, 0.3, 2),
    ],
)
def test_rounding_is_half_up(count: int, ratio: float, expected: int) -> None:
    assert n_to_remove(count, ratio) == expected


def test_pir_removes_lowest_per_pattern_and_never_progressive() -> None:
    modes = [P, V, V, V, M, M, E, P]
    pirs = [None, 0.5, -0.1, 0.2, 0.9, 0.1, 0.3, None]
    assert select_removals(modes, pirs, 0.5) == {2, 3, 5, 6}  # 2 of 3 V, 1 of 2 M, 1 of 1 E
    assert select_removals(modes, pirs, 0.2) == {2}  # V: 0.6 -> 1; M: 0.4 -> 0; E: 0.2 -> 0
    assert select_removals(modes, pirs, 1.0) == {1, 2, 3, 4, 5, 6}


def test_ties_go_to_the_earlier_step() -> None:
    assert select_removals([V, V, V], [0.1, 0.1, 0.1], 0.3) == {0}


def test_random_strategy_is_seeded_and_respects_counts() -> None:
    modes = [P, V, V, V, V, M, M, E, P]
    pirs = [None] * len(modes)
    picks = [select_removals(modes, pirs, 0.5, "random", chain_rng(seed, 3, 0.5)) for seed in range(20)]
    assert picks[0] == select_removals(modes, pirs, 0.5, "random", chain_rng(0, 3, 0.5))
    assert len({frozenset(p) for p in picks}) > 1
    for pick in picks:
        assert sum(1 for i in pick if modes[i] is V) == 2
        assert sum(1 for i in pick if modes[i] is M) == 1
        assert sum(1 for i in pick if modes[i] is E) == 1
        assert 0 not in pick and 8 not in pick


def test_ppl_all_may_remove_progressive_and_needs_all_scores() -> None:
    modes = [P, V, P, M]
    assert select_removals(modes, [-1.0, 2.0, 0.5, 3.0], 0.5, "ppl-all") == {0, 2}
    with pytest.raises(ValueError, match="score-all"):
        select_removals(modes, [None, 2.0, None, 3.0], 0.5, "ppl-all")


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        select_removals([V], [0.0], 1.5)
    with pytest.raises(ValueError):
        select_removals([V], [0.0], 0.5, "bogus")
    assert parse_ratios("0.5,0.2,0.5") == [0.2, 0.5]
    for bad in ("", "0", "1.2", "a"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_ratios(bad)


def test_chain_rng_is_stable_across_processes() -> None:
    assert chain_rng(1, 2, 0.3).random() == random.Random("1/2/0.3").random()
