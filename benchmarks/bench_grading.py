"""Grading speed: 10,000 mixed responses (long CoT math, GPQA-style choices, garbage) on this machine.

The responses imitate an n-sample evaluation: 60% math (150 questions x 40 samples, AIME-style integer
and AMC-style float golds plus some fraction golds; answers in eight forms, right or one of a few
recurring wrong answers), 30% multiple choice, 10% garbage (100k characters, 20k `{`, power towers,
deep nesting, random unicode, NUL bytes).

Prints:
- the cold pass over all responses (empty caches), the figure with a target: under 10 s on 2 cores;
- the same grader against plain math-verify (parse + verify on every extracted answer, no numeric fast
  path, no caches) on the same slice of math responses, both cold, and the speed-up.

    python benchmarks/bench_grading.py [--n 10000] [--baseline 600]
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from collections.abc import Callable

from limopro_plugins.eval import grading
from limopro_plugins.pir.answers import extract_math_answer

FILLER = (
    "We expand the product and collect terms. Checking the parity, the expression is even, so "
    "we divide by two and continue with the reduced equation. "
)
STEPS = [
    FILLER,
    "Let $f(x) = x^{2} + 3x + 2 = (x+1)(x+2)$, so the roots are $x = -1$ and $x = -2$. ",
    "Wait, let me check the case $n = 3$: then $\\frac{n(n+1)}{2} = 6$, which matches. ",
    "Alternatively, by the AM-GM inequality, $\\frac{a+b}{2} \\ge \\sqrt{ab}$ with equality iff $a = b$. ",
    "Substituting $y = \\sqrt{x}$ gives $y^{2} - 5y + 6 = 0$, i.e. $y \\in \\{2, 3\\}$. ",
    "\n\nHmm, that contradicts the earlier bound; the mistake was in step two, so we redo it.\n\n",
]
MATH_FORMS = [
    "\\boxed{{{a}}}",
    "\\boxed{{0{a}}}",
    "\\boxed{{{a}.0}}",
    "the final answer is {a}.",
    "**Final Answer**\n\\boxed{{x = {a}}}",
    "$\\boxed{{{a}^\\circ}}$",
    "\\fbox{{{a}}}",
    "\\boxed{{\\frac{{{b}}}{{2}}}}",
]
CHOICE_FORMS = [
    "\\boxed{{{l}}}",
    "Answer: {l}",
    "**({l})**",
    "\\boxed{{\\text{{({l})}}}}",
    "The correct answer is ({l}).",
    "Final answer: **{l}**",
]
GARBAGE = [
    "x" * 100_000,
    "{" * 20_000,
    "\\boxed{" + "\\frac{" * 300,
    "",
    "\\boxed{9^{9^{9}}}",
    "\\boxed{" + "^".join(["2"] * 60) + "}",
    "\\boxed{" + "(" * 40 + "1" + ")" * 40 + "}",
    "\x00" * 5000,
    "the answer is " * 2000,
]


def reasoning(rng: random.Random) -> str:
    """A chain of thought of 2k-20k characters."""
    return "".join(rng.choice(STEPS) for _ in range(rng.randint(15, 150)))


def math_items(n: int, rng: random.Random) -> list[tuple[str, str, str | float]]:
    """("math", response, gold) for n responses spread over questions of 40 samples each."""
    items: list[tuple[str, str, str | float]] = []
    while len(items) < n:
        roll = rng.random()
        value = rng.randint(0, 999)
        if roll < 0.15:  # a fraction gold, answered as \frac, \dfrac, a/b or a decimal
            den = rng.choice([2, 3, 4, 5, 7, 8, 12])
            gold: str | float = f"\\frac{{{value}}}{{{den}}}"
            right = [gold, f"\\dfrac{{{value}}}{{{den}}}", f"{value}/{den}", f"{value / den:.6f}"]
        else:  # AIME: an integer string; AMC: a float as the datasets store it
            gold = float(value) if roll < 0.4 else str(value)
            right = [str(value)]
        wrong = [str(rng.randint(0, 999)) for _ in range(3)]
        for _ in range(min(40, n - len(items))):
            answer = rng.choice(right) if rng.random() < 0.45 else rng.choice(wrong)
            form = rng.choice(MATH_FORMS) if answer.isdigit() else "\\boxed{{{a}}}"
            text = form.format(a=answer, b=2 * int(answer) if answer.isdigit() else 0)
            items.append(("math", reasoning(rng) + text, gold))
    return items


def responses(n: int, seed: int = 0) -> list[tuple[str, str, str | float]]:
    """(kind, response, gold) triples: 60% math, 30% choice, 10% garbage, shuffled."""
    rng = random.Random(seed)
    n_math, n_choice = int(0.6 * n), int(0.3 * n)
    items = math_items(n_math, rng)
    for _ in range(n_choice):
        letter = rng.choice("ABCD")
        items.append(("choice", reasoning(rng) + rng.choice(CHOICE_FORMS).format(l=letter), rng.choice("ABCD")))
    items += [("math", rng.choice(GARBAGE), str(rng.randint(0, 999))) for _ in range(n - len(items))]
    rng.shuffle(items)
    return items


def grade_all(items: list[tuple[str, str, str | float]]) -> int:
    return sum(
        (grading.grade_math(response, gold) if kind == "math" else grading.grade_choice(response, gold)).correct
        for kind, response, gold in items
    )


def plain_math_verify(items: list[tuple[str, str, str | float]]) -> int:
    """The baseline: the same extraction, then math-verify alone on every answer."""
    from math_verify import parse, verify

    correct = 0
    for _, response, gold in items:
        answer = extract_math_answer(response)
        correct += answer is not None and verify(parse(f"${gold}$"), parse(f"${answer}$"))
    return correct


def clear_caches() -> None:
    grading._parsed.cache_clear()
    grading._verified.cache_clear()


def timed(
    fn: Callable[[list[tuple[str, str, str | float]]], int], items: list[tuple[str, str, str | float]]
) -> tuple[float, int]:
    clear_caches()
    start = time.perf_counter()
    correct = fn(items)
    return time.perf_counter() - start, correct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=600, help="math responses in the baseline comparison")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # math-verify logs each parsing timeout of the garbage
    items = responses(args.n)
    timed(grade_all, items[:50])  # imports (sympy, the LaTeX parser) are not grading time

    elapsed, correct = timed(grade_all, items)
    mean_chars = sum(len(r) for _, r, _ in items) / len(items)
    print(f"{args.n:,} responses ({mean_chars:,.0f} characters on average), {correct:,} correct")
    print(
        f"cold caches: {elapsed:.2f} s, {args.n / elapsed:,.0f} responses/s  "
        f"(target < 10 s: {'met' if elapsed < 10 else 'MISSED'})"
    )

    sane = [
        item for item in items if item[0] == "math" and extract_math_answer(item[1]) is not None and len(item[1]) > 1000
    ][: args.baseline]
    ours, ours_correct = timed(grade_all, sane)
    base, base_correct = timed(plain_math_verify, sane)
    print(
        f"{len(sane)} math responses: grading {ours:.2f} s ({ours_correct} correct), plain math-verify "
        f"{base:.2f} s ({base_correct} correct): {base / ours:.1f}x faster"
    )


if __name__ == "__main__":
    main()
