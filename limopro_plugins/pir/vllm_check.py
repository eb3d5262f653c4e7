"""The vLLM scorer checked against the transformers scorer on the same chains: the prompt tokens vLLM
computed (from its own `num_cached_tokens`) against the token bound and the naive count, the requests it
ran again without cache reads, its times, and the largest PIR differences. `benchmarks/bench_pir.py
--backend vllm` prints this table on a GPU (`benchmarks/gpu_check.sh`); the tests run it on CPU with a
stand-in engine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from limopro_plugins.pir.records import Chain, read_chains
from limopro_plugins.pir.run import sample_path
from limopro_plugins.pir.score import Encoded, PIRScorer, VLLMScorer, encode, plan_requests
from limopro_plugins.pir.segment import structure


def timed(fn: Callable[[], tuple[list[float], float]], repeats: int) -> tuple[float, list[float]]:
    """The median time of `repeats` calls (at least one) and the PIRs of the last."""
    times: list[float] = []
    result = None
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    assert result is not None
    return statistics.median(times), result[0]


QUESTION, ANSWER = "Solve the system and report x.", "Therefore the answer is \\boxed{42}."
ChainSet = tuple[str, list[tuple[list[str], list[int]]]]
# Largest |PIR difference| accepted between vLLM and the float32 transformers scorer, by vLLM's dtype.
# float32 is the CPU tests' bound between exact paths; bf16 keeps 8 bits of mantissa (a relative
# rounding of 2^-9 per operation, compounded over the layers), so its log-probs move by about 1e-2 and a
# PIR, a difference of two mean NLLs, is held to 5e-2. A stated bound, not a measurement.
TOLERANCE = {"float32": 1e-3, "float16": 1e-2, "bfloat16": 5e-2}


def sample_chain_set() -> ChainSet:
    """The bundled sample's chains, each with the indices of its functional steps (the rules')."""
    chains: list[tuple[list[str], list[int]]] = []
    for chain in read_chains(str(sample_path())):
        if isinstance(chain, Chain):
            steps = structure(chain.reasoning)
            chains.append(([s.text for s, _ in steps], [i for i, (_, m) in enumerate(steps) if m.functional]))
    return f"bundled sample ({len(chains)} chains)", chains


@dataclass
class VLLMRow:
    """One chain set scored by vLLM: token counts from its request outputs, times, PIR differences."""

    name: str
    tokens: int = 0
    steps: int = 0
    naive: int = 0  # prompt tokens of every request computed whole
    bound: int = 0  # the transformers scorer's token bound
    computed: int = 0  # prompt tokens vLLM ran: sent minus num_cached_tokens, rescored requests included
    slack: int = 0  # what whole cache blocks and rescored requests may add to the bound
    rescored: int = 0
    whole_s: float = 0.0
    cached_s: float = 0.0
    vs_transformers: float = 0.0  # max |PIR(vLLM, cache reads) - PIR(transformers)|
    vs_whole: float = 0.0  # max |PIR(vLLM, cache reads) - PIR(vLLM, every request whole)|

    def within_bound(self) -> bool:
        return self.computed <= self.bound + self.slack


def vllm_rows(
    sets: list[ChainSet], tokenizer: Any, reference: PIRScorer, scorer: VLLMScorer, repeats: int
) -> list[VLLMRow]:
    """Score every chain with the transformers reference and with vLLM, cache reads on and off. The
    prefix cache is emptied before every run, so each chain's counts are its own."""
    engine: Any = scorer.engine

    def fresh(
        run: Callable[[Encoded, list[int]], tuple[list[float], float]], enc: Encoded, which: list[int]
    ) -> Callable[[], tuple[list[float], float]]:
        def call() -> tuple[list[float], float]:
            engine.reset_prefix_cache()
            return run(enc, which)

        return call

    rows = []
    for name, chains in sets:
        row = VLLMRow(name)
        for texts, which in chains:
            enc = encode(tokenizer, QUESTION, texts, "", ANSWER)
            plan = plan_requests(enc, which)
            expected, _ = reference.score(enc, which)
            whole, _ = fresh(scorer.naive, enc, which)()  # also the warm-up
            row.whole_s += timed(fresh(scorer.naive, enc, which), repeats)[0]
            before = replace(scorer.counts)
            pirs, _ = fresh(scorer.score, enc, which)()  # counted once; the timed runs repeat it
            computed, rescored = scorer.counts.computed - before.computed, scorer.counts.rescored - before.rescored
            row.cached_s += timed(fresh(scorer.score, enc, which), repeats)[0]
            row.tokens, row.steps = row.tokens + enc.total, row.steps + len(which)
            row.naive, row.bound = row.naive + plan.naive_tokens(), row.bound + plan.bound_tokens()
            row.computed, row.rescored = row.computed + computed, row.rescored + rescored
            row.slack += len(plan.variants) * (scorer.block_size - 1) + rescored * enc.total
            row.vs_transformers = max([row.vs_transformers] + [abs(a - b) for a, b in zip(pirs, expected)])
            row.vs_whole = max([row.vs_whole] + [abs(a - b) for a, b in zip(pirs, whole)])
        rows.append(row)
    return rows


def print_vllm_rows(rows: list[VLLMRow], tolerance: float) -> bool:
    """The table, then PASS or FAIL; True when every set is within its token bound and the tolerance."""
    print(
        f"{'chain set':52} {'tokens':>6} {'steps':>5} {'naive tok':>9} {'bound tok':>9} {'computed':>8} "
        f"{'/bound':>6} {'/naive':>6} {'rescored':>8} {'whole s':>7} {'cached s':>8} {'speed-up':>8} "
        f"{'|dPIR| tf':>9} {'|dPIR| whole':>12}"
    )
    for r in rows:
        print(
            f"{r.name:52} {r.tokens:6d} {r.steps:5d} {r.naive:9d} {r.bound:9d} {r.computed:8d} "
            f"{r.computed / r.bound:6.2f} {r.computed / r.naive:6.2f} {r.rescored:8d} {r.whole_s:7.2f} "
            f"{r.cached_s:8.2f} {r.whole_s / r.cached_s:7.2f}x {r.vs_transformers:9.1e} {r.vs_whole:12.1e}"
        )
    failures = [
        f"{r.name}: computed {r.computed} tokens, over the bound {r.bound} + {r.slack}"
        for r in rows
        if not r.within_bound()
    ]
    failures += [
        f"{r.name}: |dPIR| {r.vs_transformers:.1e} over the tolerance {tolerance:g}"
        for r in rows
        if r.vs_transformers > tolerance
    ]
    print(
        "FAIL: " + "; ".join(failures)
        if failures
        else f"PASS: every set within its token bound (+ at most a cache block per variant), |dPIR| <= {tolerance:g}"
    )
    return not failures
