"""Should an approximate PIR ship? Measures agreement with exact PIR and the speed-up, same process.

The approximation (issue #6) keeps the full chain's KV cache and re-runs only the answer tokens with the
removed step masked out of attention: n·(answer tokens) instead of the sum of suffixes. It differs from
exact PIR because the steps after the removed one keep the keys/values they computed *with* it.
Criterion to ship it: ≥ 95% of pruning decisions (remove / keep, per functional step and ratio) equal to
exact PIR's, at ≥ 10x the speed.

    python benchmarks/bench_pir_approx.py [--model smollm2|PATH]
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.bench_pir import synthetic
from limopro_plugins.pir.classify import RuleClassifier
from limopro_plugins.pir.models import load_causal_lm, load_tokenizer, resolve
from limopro_plugins.pir.records import Chain, read_chains
from limopro_plugins.pir.run import sample_path
from limopro_plugins.pir.score import Encoded, PIRScorer, encode
from limopro_plugins.pir.segment import segment
from limopro_plugins.pir.select import DEFAULT_RATIOS, select_removals
from limopro_plugins.text import Mode


def approx_pir(model, enc: Encoded, which: list[int]) -> list[float]:
    """Answer NLL with step i masked out of attention, against the full chain, from one shared cache."""
    ids = enc.sequence()
    n_answer = len(enc.answer)
    context = len(ids) - n_answer
    answer = torch.tensor(enc.answer)
    starts = enc.step_starts()

    def nll(logits: torch.Tensor) -> float:
        return float(-torch.log_softmax(logits.float(), -1).gather(-1, answer[:, None]).mean())

    with torch.inference_mode():
        cache = model(input_ids=torch.tensor([ids[: context - 1]]), use_cache=True).past_key_values
        tail = torch.tensor([ids[context - 1 :]])
        full = model(input_ids=tail, past_key_values=cache, use_cache=True, logits_to_keep=n_answer + 1)
        base = nll(full.logits[0, :-1])
        out = []
        for i in which:
            cache.crop(context - 1)
            mask = torch.ones(1, len(ids), dtype=torch.long)
            mask[0, starts[i] : starts[i] + len(enc.steps[i])] = 0
            res = model(
                input_ids=tail, past_key_values=cache, attention_mask=mask, use_cache=True, logits_to_keep=n_answer + 1
            )
            out.append(nll(res.logits[0, :-1]) - base)
        cache.crop(context - 1)
    return out


def decisions(modes: list[Mode], which: list[int], pirs: list[float]) -> list[tuple[float, int, bool]]:
    full = [None] * len(modes)
    for i, p in zip(which, pirs):
        full[i] = p
    return [(r, i, i in select_removals(modes, full, r)) for r in DEFAULT_RATIOS for i in which]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    args = parser.parse_args()
    source = resolve(args.model)
    tokenizer, model = load_tokenizer(source), load_causal_lm(source)
    scorer = PIRScorer(model)
    classifier = RuleClassifier()
    chains: list[tuple[str, str, list[str], str]] = []
    for chain in read_chains(str(sample_path())):
        if isinstance(chain, Chain):
            chains.append(("sample", chain.question, [s.text for s in segment(chain.reasoning)], chain.solution))
    for k in range(4):
        functional = sorted({(7 * j + 3 * k) % 25 for j in range(10)})
        chains.append(
            (
                "long",
                "Solve the system and report x.",
                synthetic(25, functional, 2),
                "Therefore the answer is \\boxed{42}.",
            )
        )
    for label in ("sample", "long"):
        agree = total = 0
        t_exact = t_approx = 0.0
        for name, question, texts, answer in chains:
            if name != label:
                continue
            modes = classifier.classify(texts)
            which = [i for i, m in enumerate(modes) if m.functional]
            if not which:
                continue
            enc = encode(tokenizer, question, texts, "", answer)
            start = time.perf_counter()
            exact, _ = scorer.score(enc, which)
            t_exact += time.perf_counter() - start
            start = time.perf_counter()
            approx = approx_pir(model, enc, which)
            t_approx += time.perf_counter() - start
            pairs = zip(decisions(modes, which, exact), decisions(modes, which, approx))
            for (_, _, a), (_, _, b) in pairs:
                agree += a == b
                total += 1
        print(
            f"{label:7} decisions agreeing: {agree}/{total} = {agree / total:.1%}; exact {t_exact:.2f} s, "
            f"approx {t_approx:.2f} s, speed-up {t_exact / t_approx:.1f}x"
        )


if __name__ == "__main__":
    main()
