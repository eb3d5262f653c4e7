"""Cost of the reasoning-pattern metrics inside the evaluation's per-question scoring.

Scores responses three ways in one process: by default the real reasoning chains of
../shared/data/reasoning_traces.jsonl (DeepSeek-R1 and R1-distilled outputs, about 7,500 characters
each), 8 of them per question, graded against each chain's answer in turn (`--rounds` passes);
`--responses synthetic` uses 10,000 generated responses (1,250 questions x n = 8) instead. The three ways:
  grading only; grading + TOK (what `process_results` did before the pattern metrics: one tokenizer
  call per question, its token counts); grading + TOK + patterns (the same tokenizer call, then
  segmentation, classification, the tokens per step and the per-question metric items, as
  `process_results` does). Prints each time and the patterns' extra cost as a share of
  the grading-and-TOK time. Target: under 10%. Last, the pattern work alone is timed on the
  already encoded responses: its own cost, without what running it between tokenizer calls adds or
  hides (the tokenizer's worker threads and caches).

Each variant is first run on a warm-up set drawn with another seed (imports, first-call set-up, the
tokenizer's word cache), then timed on the measured set. The variants take turns question by question
(in rotating order), so a load change on the machine hits all three alike, and each variant's turn
starts with the grader's answer caches emptied: a real run grades a question's n samples once, so
timing answers graded moments before would measure cache look-ups instead of grading. All variants
score the same measured text, so their differences are the work they add.

The tokenizer runs as in a real run: `lm_eval` sets TOKENIZERS_PARALLELISM=false before it starts, so
a batch is encoded on one thread. `--parallel-tokenizer` lets it use every core instead (as in
`python -m limopro_plugins.analyze`, which does not set the variable): TOK then takes less wall time
on a machine with several cores, and the patterns, which run on one thread, a larger share of it.

    python -m benchmarks.bench_eval_metrics [--responses real|synthetic] [--rounds 20]
        [--tokenizer smollm2|PATH] [--parallel-tokenizer]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_grading import FILLER
from limopro_plugins.eval import grading
from limopro_plugins.eval.metrics import pattern_metrics
from limopro_plugins.eval.patterns import encoded_profiles, profiles
from limopro_plugins.pir.models import load_tokenizer, resolve

CHECK = "Wait, let me check this step again: substituting back gives the same value, so it holds. "
ALTERNATIVE = "Alternatively, we can count the complement and subtract it from the total number of cases. "
CHECK_MORE = (
    "Substituting $x = 2$ gives $4 + 6 + 2 = 12$, as required. ",
    "Yes, that matches the value found before. ",
    "So the expression is even after all. ",
)
ALTERNATIVE_MORE = ("Counting the complement gives $120 - 36 = 84$ cases. ", "Both counts agree. ")
"""Sentences that may follow a check or an alternative in its paragraph, as in generated chains (the
bundled sample's functional paragraphs all have several sentences); "So ..." resumes forward reasoning
and so starts a step of its own."""


Items = list[tuple[str, list[str]]]
"""(gold answer, the n responses) per question."""


def questions(n_questions: int, n: int, seed: int) -> Items:
    """n responses per question: 6-30 paragraphs (15% checks, 10% alternatives, each followed in its
    paragraph by 0-3 of the sentences that may follow it), then a boxed answer, right half of the time."""
    rng = random.Random(seed)
    out = []
    for _ in range(n_questions):
        gold = str(rng.randint(0, 999))
        samples = []
        for _ in range(n):
            parts = []
            for _ in range(rng.randint(6, 30)):
                roll = rng.random()
                if roll < 0.15:
                    parts += [CHECK, *rng.sample(CHECK_MORE, rng.randint(0, 3))]
                elif roll < 0.25:
                    parts += [ALTERNATIVE, *rng.sample(ALTERNATIVE_MORE, rng.randint(0, 2))]
                else:
                    parts.append(FILLER * 2)
                parts.append("\n\n")
            answer = gold if rng.random() < 0.5 else str(rng.randint(0, 999))
            samples.append("".join(parts) + f"**Final Answer**\n\\boxed{{{answer}}}")
        out.append((gold, samples))
    return out


REAL_CHAINS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reasoning_traces.jsonl"


def real_questions(rounds: int, n: int, seed: int) -> Items:
    """Each real chain's answer as a question's gold, with n of the real chains (that one among them)
    as its responses, in a shuffled order; `rounds` passes over the chains."""
    chains = [json.loads(line) for line in REAL_CHAINS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    out = []
    for _ in range(rounds):
        for chain in chains:
            others = rng.sample([c for c in chains if c is not chain], min(n - 1, len(chains) - 1))
            samples = [c["solution"] for c in [chain, *others]]
            rng.shuffle(samples)
            out.append((str(chain["answer"]), samples))
    return out


def timed(variants: dict[str, Callable[[Items], None]], items: Items) -> dict[str, float]:
    """Seconds each variant takes on `items`, the variants taking turns question by question, each turn
    with the grader's answer caches emptied first."""
    seconds = dict.fromkeys(variants, 0.0)
    names = list(variants)
    for k, question in enumerate(items):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            grading._parsed.cache_clear()
            grading._verified.cache_clear()
            start = time.perf_counter()
            variants[name]([question])
            seconds[name] += time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", default="smollm2")
    parser.add_argument("--responses", choices=("real", "synthetic"), default="real")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the real chains")
    parser.add_argument("--questions", type=int, default=1250, help="synthetic questions")
    parser.add_argument(
        "--parallel-tokenizer", action="store_true", help="encode a batch on every core (lm_eval itself turns this off)"
    )
    args = parser.parse_args()
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if args.parallel_tokenizer else "false"
    tokenizer = load_tokenizer(resolve(args.tokenizer))
    if args.responses == "real":
        warm_up, data = real_questions(2, 8, seed=1), real_questions(args.rounds, 8, seed=0)
    else:
        warm_up, data = questions(args.questions, 8, seed=1), questions(args.questions, 8, seed=0)

    def grade(items: Items) -> None:
        for gold, samples in items:
            [grading.grade_math(s, gold) for s in samples]

    def grade_tok(items: Items) -> None:
        for gold, samples in items:
            [grading.grade_math(s, gold) for s in samples]
            [len(ids) for ids in tokenizer(samples, add_special_tokens=False)["input_ids"]]

    def grade_tok_patterns(items: Items) -> None:
        for gold, samples in items:
            [grading.grade_math(s, gold) for s in samples]
            pattern_metrics(profiles(samples, tokenizer))

    variants = {"grading": grade, "grading + TOK": grade_tok, "grading + TOK + patterns": grade_tok_patterns}
    for fn in variants.values():
        fn(warm_up)
    timings = timed(variants, data)
    encoded = [(samples, tokenizer(samples, add_special_tokens=False)) for _, samples in data]
    start = time.perf_counter()
    for samples, batch in encoded:
        pattern_metrics(encoded_profiles(samples, batch))
    alone = time.perf_counter() - start
    responses = sum(len(samples) for _, samples in data)
    chars = sum(len(s) for _, samples in data for s in samples) / responses
    print(
        f"{responses} responses, mean {chars:,.0f} characters; tokenizer on "
        f"{'every core' if args.parallel_tokenizer else 'one thread, as in lm_eval'}"
    )
    for name, seconds in timings.items():
        print(f"{name:28} {seconds:7.2f} s")
    extra = timings["grading + TOK + patterns"] - timings["grading + TOK"]
    print(
        f"patterns add {extra:.2f} s = {100 * extra / timings['grading + TOK']:.1f}% of grading + TOK "
        f"({100 * extra / timings['grading']:.1f}% of grading alone)"
    )
    print(
        f"patterns on the already encoded responses: {alone:.2f} s = "
        f"{100 * alone / timings['grading + TOK']:.1f}% of grading + TOK"
    )


if __name__ == "__main__":
    main()
