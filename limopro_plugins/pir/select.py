"""Pruning rule of the paper and its ablation baselines: which steps of a chain a ratio removes.

Per chain and per functional pattern (verification, multi-method validation, error correction), the
`ratio` fraction of that pattern's steps with the lowest PIR is removed; progressive steps always stay.
Rounding: a pattern with c steps loses floor(ratio·c + 0.5) of them (round half up), so 0.5 of 3 steps
removes 2, 0.3 of 1 step removes 0. Ties in PIR go to the earlier step. Kept steps keep their exact text.

Strategies (same command, same ratios):
- `pir` (default): the paper's method, above.
- `random`: the paper's RULE baseline: the same number of steps per pattern, chosen at random
  (seeded per seed, chain and ratio, so every run picks the same steps).
- `ppl-all`: SPIRIT-like: the ratio of *all* steps with the lowest PIR, progressive ones included
  (needs every step scored, which this strategy switches on).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Literal, get_args

from limopro_plugins.text import FUNCTIONAL_MODES, Mode

Strategy = Literal["pir", "random", "ppl-all"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
DEFAULT_RATIOS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def n_to_remove(count: int, ratio: float) -> int:
    """How many of `count` steps a ratio removes: round half up (see the module docstring)."""
    return min(count, math.floor(ratio * count + 0.5 + 1e-9))


def _lowest(indices: Sequence[int], pirs: Sequence[float | None], k: int) -> list[int]:
    return sorted(indices, key=lambda i: (pirs[i], i))[:k]


def select_removals(
    modes: Sequence[Mode],
    pirs: Sequence[float | None],
    ratio: float,
    strategy: Strategy = "pir",
    rng: random.Random | None = None,
) -> set[int]:
    """Indices of the steps to remove from one chain."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    if strategy == "ppl-all":
        scored = [i for i, p in enumerate(pirs) if p is not None]
        if len(scored) != len(modes):
            raise ValueError("strategy ppl-all needs every step scored (--score-all)")
        return set(_lowest(scored, pirs, n_to_remove(len(scored), ratio)))
    removed: set[int] = set()
    for mode in FUNCTIONAL_MODES:
        group = [i for i, m in enumerate(modes) if m is mode]
        k = n_to_remove(len(group), ratio)
        if strategy == "pir":
            removed.update(_lowest(group, pirs, k))
        elif strategy == "random":
            removed.update((rng or random.Random(0)).sample(group, k))
        else:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    return removed


def chain_rng(seed: int, index: int, ratio: float) -> random.Random:
    """The RULE baseline's generator for one chain and ratio (string seeds hash stably across runs)."""
    return random.Random(f"{seed}/{index}/{ratio:g}")
