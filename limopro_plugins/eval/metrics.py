"""The tasks' metrics: their names, per-question values and aggregations (see `task` and docs/evaluation.md)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from limopro_plugins.eval.grading import Graded, answer_key
from limopro_plugins.eval.patterns import Profile
from limopro_plugins.text import MODE_NAMES, Mode

MODE_SHARES = tuple(f"share_{name}" for name in MODE_NAMES)
"""The share of a response's reasoning tokens in each mode."""
THINK_TOKENS = ("think_tok", "answer_tok")
"""Mean tokens before / after `</think>`, over the responses that have it."""
THINK_METRICS = ("think_rate", *THINK_TOKENS)
PATTERN_METRICS = ("steps", *MODE_SHARES, *THINK_METRICS)
"""The reasoning-pattern metrics, after ACC / TOK / EFF."""


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(graded: Sequence[Graded], kind: str) -> bool:
    """Whether the most frequent answer (by `answer_key`, so "025" and "25.0" vote together) is correct.

    Ties go to the answer seen first; samples without an answer do not vote.
    """
    keys = [answer_key(g.answer, kind) for g in graded]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return False
    best = max(counts.values())
    winner = next(k for k in keys if k is not None and counts[k] == best)
    return any(g.correct for g, k in zip(graded, keys) if k == winner)


def mean_of_samples(items: Sequence[Sequence[float]]) -> float:
    """Aggregation of per-question lists of per-sample values: the mean over all samples."""
    values = [v for item in items for v in item]
    return sum(values) / len(values) if values else 0.0


def ratio_of_sums(items: Sequence[Sequence[float]]) -> float:
    """Aggregation of per-question (correct, tokens) pairs: total correct / total tokens.

    With n samples for every question this equals mean ACC / mean TOK, the paper's EFF.
    """
    num = sum(item[0] for item in items)
    den = sum(item[1] for item in items)
    return num / den if den else 0.0


def metric_list() -> list[dict[str, Any]]:
    """The tasks' metrics. Custom aggregations get no stderr from lm-eval (and so no slow bootstrap);
    `pass@1` (plain mean) carries the stderr of ACC."""
    return [
        {"metric": "acc", "aggregation": mean_of_samples, "higher_is_better": True},
        {"metric": "pass@1", "aggregation": "mean", "higher_is_better": True},
        {"metric": "pass@n", "aggregation": "mean", "higher_is_better": True},
        {"metric": "maj@n", "aggregation": "mean", "higher_is_better": True},
        {"metric": "tok", "aggregation": mean_of_samples, "higher_is_better": False},
        {"metric": "eff", "aggregation": ratio_of_sums, "higher_is_better": True},
        {"metric": "steps", "aggregation": mean_of_samples, "higher_is_better": False},
        *(
            {"metric": f"share_{mode.value}", "aggregation": mean_of_samples, "higher_is_better": not mode.functional}
            for mode in Mode
        ),
        {"metric": "think_rate", "aggregation": mean_of_samples, "higher_is_better": False},
        {"metric": "think_tok", "aggregation": mean_of_samples, "higher_is_better": False},
        {"metric": "answer_tok", "aggregation": mean_of_samples, "higher_is_better": False},
    ]


def pattern_metrics(found: Sequence[Profile]) -> dict[str, Any]:
    """Per-question items of the reasoning-pattern metrics (aggregated over samples)."""
    shares = [p.shares() for p in found]
    items: dict[str, Any] = {"steps": [p.steps for p in found]}
    for name in MODE_NAMES:
        items[f"share_{name}"] = [s[name] for s in shares]
    items["think_rate"] = [int(p.think_tokens is not None) for p in found]
    items["think_tok"] = [p.think_tokens for p in found if p.think_tokens is not None]
    items["answer_tok"] = [p.answer_tokens for p in found if p.answer_tokens is not None]
    return items
