"""PIR scoring speed: naive recomputation vs the KV-cache-reusing scorer, same chains, same process.

For each chain set it prints both times, their ratio, and the token-count bound of the speed-up,
(n+1)·L / (L + Σ suffix lengths) for n scored steps of a chain of L tokens, with the share of the bound
reached; then the same bound in FLOPs (suffix tokens attend over the whole prefix, so they cost more than
the average token of a naive pass). It also checks that both give the same scores (max |Δ PIR|).

    python benchmarks/bench_pir.py [--model smollm2|PATH] [--repeats 2] [--batch-size 1]

On a GPU, in vLLM's environment, `--backend vllm --device cuda --dtype bfloat16 --model HUB_ID` puts the
vLLM scorer in the "cached" column (naive stays transformers on the same GPU), which checks that both
backends give the same scores and measures vLLM's speed on the same chains.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from limopro_plugins.pir.classify import RuleClassifier
from limopro_plugins.pir.models import load_causal_lm, load_tokenizer, resolve
from limopro_plugins.pir.records import Chain, read_chains
from limopro_plugins.pir.run import sample_path
from limopro_plugins.pir.score import Encoded, PIRScorer, VLLMScorer, encode
from limopro_plugins.pir.segment import segment

PROGRESSIVE = (
    "Now we expand the expression for step {i}: the product of the two linear factors gives a "
    "quadratic whose coefficients we collect term by term, keeping track of every sign, and the "
    "constant term becomes {i} times the previous constant plus the new offset. "
)
FUNCTIONAL = (
    "Wait, let me check step {i} again by substituting the value back into the original equation; "
    "both sides evaluate to the same number, so the computation holds and nothing changes. "
)


def synthetic(n_steps: int, functional_at: list[int], repeat: int) -> list[str]:
    """A chain of n_steps steps (each sentence repeated `repeat` times) with functional steps at the
    given positions."""
    return [((FUNCTIONAL if i in functional_at else PROGRESSIVE).format(i=i) * repeat) + "\n\n" for i in range(n_steps)]


def bound(enc: Encoded, which: list[int]) -> float:
    """(n+1)·L / (L + Σ suffix lengths): tokens the naive way runs over tokens the cached way must."""
    total = enc.total
    starts = enc.step_starts()
    suffixes = sum(total - starts[i] - len(enc.steps[i]) + 1 for i in which)
    return (len(which) + 1) * total / (total + suffixes)


def flop_bound(enc: Encoded, which: list[int], linear: float, attention: float) -> float:
    """The same ratio in FLOPs: a token at position p costs `linear` + `attention`·(p+1), so a suffix token,
    which attends over the whole prefix, costs more than an average token of the naive passes."""

    def run(start: int, end: int) -> float:  # positions start..end-1 with start cached positions before
        return linear * (end - start) + attention * (end * (end + 1) - start * (start + 1)) / 2

    total, starts = enc.total, enc.step_starts()
    naive = run(0, total) + sum(run(0, total - len(enc.steps[i])) for i in which)
    cached = run(0, total) + sum(run(starts[i] - 1, total - len(enc.steps[i])) for i in which)
    return naive / cached


def timed(fn: Callable[[], tuple[list[float], float]], repeats: int) -> tuple[float, list[float]]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument(
        "--backend",
        choices=("transformers", "vllm"),
        default="transformers",
        help="scorer of the cached column (vllm: GPU, in vLLM's own environment)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    args = parser.parse_args()

    source = resolve(args.model)
    tokenizer, model = load_tokenizer(source), load_causal_lm(source, dtype=args.dtype, device=args.device)
    scorer = PIRScorer(model, batch_size=args.batch_size)
    fast_scorer = (
        VLLMScorer(source.path, dtype=args.dtype, gpu_memory_utilization=0.5) if args.backend == "vllm" else scorer
    )
    config = model.config
    embedding = model.get_input_embeddings().weight.numel()
    linear = 2.0 * (sum(p.numel() for p in model.parameters()) - embedding)
    attention = 4.0 * config.num_hidden_layers * config.hidden_size
    question, answer = "Solve the system and report x.", "Therefore the answer is \\boxed{42}."
    sets: list[tuple[str, list[tuple[list[str], list[int]]]]] = [
        (
            "~1,800 tokens, 10 functional steps evenly spread",
            [(synthetic(20, list(range(1, 20, 2)), 2), list(range(1, 20, 2)))],
        ),
        (
            "~1,800 tokens, 10 functional steps in the last 40%",
            [(synthetic(25, list(range(15, 25)), 2), list(range(15, 25)))],
        ),
    ]
    classifier = RuleClassifier()
    sample: list[tuple[list[str], list[int]]] = []
    for chain in read_chains(str(sample_path())):
        if isinstance(chain, Chain):
            texts = [s.text for s in segment(chain.reasoning)]
            which = [i for i, m in enumerate(classifier.classify(texts)) if m.functional]
            sample.append((texts, which))
    sets.append((f"bundled sample ({len(sample)} chains)", sample))

    print(
        f"model: {args.model}, cached scorer: {args.backend}, {args.device} {args.dtype}, "
        f"batch size {args.batch_size}, median of {args.repeats} runs, torch threads: "
        f"{__import__('torch').get_num_threads()}"
    )
    print(
        f"{'chain set':52} {'tokens':>7} {'steps':>5} {'naive s':>8} {'cached s':>8} {'speed-up':>8} "
        f"{'bound':>6} {'of bound':>8} {'FLOP bound':>10} {'of it':>6} {'max|dPIR|':>9}"
    )
    for name, chains in sets:
        naive_t = cached_t = 0.0
        tokens = steps = 0
        bound_num = bound_den = flop_den = 0.0
        worst = 0.0
        for texts, which in chains:
            enc = encode(tokenizer, question, texts, "", answer)
            t_naive, slow = timed(lambda enc=enc, which=which: scorer.naive(enc, which), args.repeats)
            t_cached, fast = timed(lambda enc=enc, which=which: fast_scorer.score(enc, which), args.repeats)
            naive_t, cached_t = naive_t + t_naive, cached_t + t_cached
            tokens, steps = tokens + enc.total, steps + len(which)
            b = bound(enc, which)
            bound_num += t_naive
            bound_den += t_naive / b
            flop_den += t_naive / flop_bound(enc, which, linear, attention)
            worst = max([worst] + [abs(a - s) for a, s in zip(fast, slow)])
        speedup, b, fb = naive_t / cached_t, bound_num / bound_den, bound_num / flop_den
        print(
            f"{name:52} {tokens:7d} {steps:5d} {naive_t:8.2f} {cached_t:8.2f} {speedup:7.2f}x "
            f"{b:5.2f}x {speedup / b:7.0%} {fb:9.2f}x {speedup / fb:5.0%} {worst:9.1e}"
        )


if __name__ == "__main__":
    main()
