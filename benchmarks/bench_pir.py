"""PIR scoring cost: naive recomputation vs the prefix-reusing scorers, same chains, same process.

Transformers (default; CPU or GPU): for each chain set it prints both times, their ratio, and the
token-count bound of the speed-up, (n+1)·L / (L + Σ suffix lengths) for n scored steps of a chain of L
tokens, with the share of the bound reached; then the same bound in FLOPs (suffix tokens attend over the
whole prefix, so they cost more than the average token of a naive pass). It also checks that both give
the same scores (max |Δ PIR|).

    python benchmarks/bench_pir.py [--model smollm2|PATH] [--repeats 2] [--batch-size 1]

vLLM (a GPU, in vLLM's own environment: benchmarks/gpu_check.sh sets one up and runs this):

    python benchmarks/bench_pir.py --backend vllm --device cuda --dtype bfloat16 --model HUB_ID

For each chain set it prints, from vLLM's own request outputs (prompt length minus num_cached_tokens),
the prompt tokens vLLM computed against the transformers scorer's token bound and the naive count, the
requests run again without cache reads, vLLM's time with every request computed whole and with cache
reads, and the largest |Δ PIR| from the float32 transformers scorer on the same chains and from vLLM
without cache reads. It ends with PASS or FAIL (exit status 1): computed tokens within the bound plus a
cache block per variant, |Δ PIR| within the tolerance for vLLM's dtype (TOLERANCE).
"""

from __future__ import annotations

import argparse
import sys

from limopro_plugins.pir.models import load_causal_lm, load_tokenizer, resolve
from limopro_plugins.pir.score import Encoded, PIRScorer, VLLMScorer, encode
from limopro_plugins.pir.vllm_check import (
    ANSWER,
    QUESTION,
    TOLERANCE,
    ChainSet,
    print_vllm_rows,
    sample_chain_set,
    timed,
    vllm_rows,
)

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


def chain_sets() -> list[ChainSet]:
    """Two synthetic chains and the bundled sample, each chain with its functional steps to score."""
    sets: list[ChainSet] = [
        (
            "~1,800 tokens, 10 functional steps evenly spread",
            [(synthetic(20, list(range(1, 20, 2)), 2), list(range(1, 20, 2)))],
        ),
        (
            "~1,800 tokens, 10 functional steps in the last 40%",
            [(synthetic(25, list(range(15, 25)), 2), list(range(15, 25)))],
        ),
    ]
    sets.append(sample_chain_set())
    return sets


def transformers_table(args: argparse.Namespace, sets: list[ChainSet]) -> None:
    """Naive recomputation vs the KV-cache-reusing transformers scorer."""
    import torch

    source = resolve(args.model)
    tokenizer, model = load_tokenizer(source), load_causal_lm(source, dtype=args.dtype, device=args.device)
    scorer = PIRScorer(model, batch_size=args.batch_size)
    config = model.config
    embedding = model.get_input_embeddings().weight.numel()
    linear = 2.0 * (sum(p.numel() for p in model.parameters()) - embedding)
    attention = 4.0 * config.num_hidden_layers * config.hidden_size
    print(
        f"model: {args.model}, {args.device} {args.dtype}, batch size {args.batch_size}, median of "
        f"{args.repeats} runs, torch threads: {torch.get_num_threads()}"
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
            enc = encode(tokenizer, QUESTION, texts, "", ANSWER)
            t_naive, slow = timed(lambda enc=enc, which=which: scorer.naive(enc, which), args.repeats)
            t_cached, fast = timed(lambda enc=enc, which=which: scorer.score(enc, which), args.repeats)
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


def vllm_table(args: argparse.Namespace, sets: list[ChainSet]) -> bool:
    """vLLM (cache reads, and every request whole) against the transformers scorer, same chains."""
    import vllm

    source = resolve(args.model)
    # vLLM first: its engine process must start before this process has initialised CUDA.
    scorer = VLLMScorer.load(source.path, dtype=args.dtype, gpu_memory_utilization=0.5)
    tokenizer = load_tokenizer(source)
    reference = PIRScorer(
        load_causal_lm(source, dtype=args.reference_dtype, device=args.device), batch_size=args.batch_size
    )
    tolerance = TOLERANCE[args.dtype]
    print(
        f"model: {args.model}, vLLM {vllm.__version__} {args.dtype} (prefix-cache block {scorer.block_size} "
        f"tokens, cache reads: {'yes' if scorer.reads_cache else 'no'}), reference: transformers "
        f"{args.device} {args.reference_dtype}, median of {args.repeats} runs, PIR tolerance {tolerance:g}"
    )
    return print_vllm_rows(vllm_rows(sets, tokenizer, reference, scorer, args.repeats), tolerance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument(
        "--backend",
        choices=("transformers", "vllm"),
        default="transformers",
        help="vllm: a GPU, in vLLM's own environment (see benchmarks/gpu_check.sh)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument(
        "--reference-dtype",
        default="float32",
        choices=("float32", "bfloat16", "float16"),
        help="dtype of the transformers scorer that vLLM's PIRs are compared with",
    )
    args = parser.parse_args()
    if args.backend == "vllm":
        sys.exit(0 if vllm_table(args, chain_sets()) else 1)
    transformers_table(args, chain_sets())


if __name__ == "__main__":
    main()
