"""Answer extraction and equivalence over many response formats; garbage is wrong, never a crash."""

from __future__ import annotations

import random
import threading
import time

import pytest

from limopro_plugins.eval import grading
from limopro_plugins.eval.grading import (
    Graded,
    answer_key,
    extract_choice,
    grade_choice,
    grade_math,
    math_equal,
)
from limopro_plugins.pir.answers import extract_boxed, extract_math_answer

LONG_REASONING = "We expand and simplify, then check each case against the constraint. " * 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so the answer is \\boxed{42}.", "42"),
        ("\\boxed{1} then later \\boxed{2}", "2"),
        ("\\boxed{\\frac{a}{b^{2}}}", "\\frac{a}{b^{2}}"),
        ("\\boxed{\\frac{\\sqrt{3}}{2}} and more text", "\\frac{\\sqrt{3}}{2}"),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces do not close the box
        ("\\boxed{\\left\\{ x \\right\\}}", "\\left\\{ x \\right\\}"),
        ("\\fbox{7}", "7"),
        ("\\boxed{3} and finally \\fbox{8}", "8"),
        ("\\boxed 5", "5"),
        ("so \\boxed 17.", "17"),
        ("\\boxed {7}", "7"),
        ("\\boxed{ 12 }", "12"),
        ("$\\boxed{\\text{(C)}}$", "\\text{(C)}"),
        ("\\boxed{}", ""),
        ("\\boxed{unbalanced", None),
        ("\\boxed{4} is wrong, the answer is \\boxed{5", None),  # a broken last box: no answer
        ("\\boxed{5} then \\boxed{}", ""),  # the last box, empty or not (extract_math_answer skips it)
        ("\\setlength{\\fboxsep}{0pt} no box", None),
        ("no box here", None),
        ("", None),
        ("\\boxed{99}" + LONG_REASONING, "99"),  # a box followed by a long tail is still found
    ],
)
def test_extract_boxed(text: str, expected: str | None) -> None:
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thus the final answer is 204.", "204"),
        ("The answer is: 17\n", "17"),
        ("**Answer:** 33", "33"),
        ("**Answer**: 34", "34"),
        ("Answer: $\\frac{3}{4}$", "\\frac{3}{4}"),
        ("The answer is \\(2\\sqrt{3}\\).", "2\\sqrt{3}"),
        ("The answer is 3.5.", "3.5"),
        ("The answer is 3. Wait, actually the final answer is 5.", "5"),
        ("Final Answer: The final answer is $5$. I hope it is correct.", "5"),
        ("So the answer is 12. Let me check whether the answer is correct.", "12"),
        ("The answer is 7, which is prime.", "7"),
        ("blah \\boxed{8} and then the answer is 9.", "8"),  # a box outranks a phrase
        ("\\boxed{} so the answer is 9.", "9"),  # an empty box is no answer
        ("so \\boxed{5}. I put the answer in \\boxed{}.", "5"),  # ... nor does it hide an earlier one
        ("So the answer is 4. Hmm wait, it is \\boxed{5", None),  # a broken last box: no answer at all
        # the phrase's answer ends where free text begins (math-verify would pick a number out of it)
        ("Maybe the answer is 12? Let me verify with 25 instead", "12"),
        ("the answer is 12 (or 25 if we count both ends)", "12"),
        ("So the answer is 5? Let me double-check", "5"),
        ("The answer is 25 because 5^2 = 25.", "25"),
        ("The answer is $12$ or $25$.", "12"),
        ("The answer is $12. Let me verify with $25 instead.", "12"),  # a lone $ is a currency sign
        ("The answer is 12 - or maybe 25", "12"),
        ("The answer is **12**. Next, the check.", "12"),
        ("The answer is 72\\text{ cm} in total.", "72\\text{ cm}"),
        ("The answer is x = (3, 4).", "x = (3, 4)"),
        ("The answer is 2xy.", "2xy"),
        ("The answer is\n$$\n\\frac{1}{2}\n$$\nas claimed.", "\\frac{1}{2}"),
        ("I cannot find the answer.", None),
        ("", None),
    ],
)
def test_extract_math_answer(text: str, expected: str | None) -> None:
    assert extract_math_answer(text) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "equal"),
    [
        ("025", 25, True),
        ("25", "025", True),
        ("25.0", 25, True),
        ("25", 25.0, True),
        ("27", "27.0", True),
        ("1,000", 1000, True),
        ("1000", "1{,}000", True),
        ("1\\,000", 1000, True),
        ("\\$5", 5, True),
        ("\\frac{1}{2}", "0.5", True),
        ("\\frac12", 0.5, True),
        ("3/4", "0.75", True),
        ("-\\frac{1}{2}", -0.5, True),
        ("\\dfrac{5}{14}", "\\frac{5}{14}", True),
        ("\\tfrac{5}{14}", "5/14", True),
        ("x = 5", 5, True),
        ("k=5", "5", True),
        ("30^\\circ", 30, True),
        ("30^{\\circ}", 30, True),
        ("50\\%", 50, True),
        ("72\\text{ cm}", 72, True),
        ("5.", 5, True),
        ("\\sqrt{8}", "2\\sqrt{2}", True),
        ("\\{1,2\\}", "\\{2,1\\}", True),
        ("0.333333", "\\frac{1}{3}", True),
        ("-3", -3, True),
        ("24", 25, False),
        ("-25", 25, False),
        ("0.33", "\\frac{1}{3}", False),
        ("24.9999999", 25, False),
        ("2\\pi", "\\pi", False),
        ("5 \\text{ and } 7", 57, False),
        ("1 2", 12, False),
        ("\\text{five}", 5, False),
        ("\\textbf{(C) } 25", 25, True),
        ("\\frac{1}{0}", 5, False),
        (None, 5, False),
        ("", 5, False),
        ("   ", 5, False),
    ],
)
def test_math_equal(pred: str | None, gold: str | int | float, equal: bool) -> None:
    assert math_equal(pred, gold) is equal


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("025", "25"),
        ("25.0", "25"),
        ("1,000", "1000"),
        ("\\frac{1}{2}", "0.5"),
        ("24", "25"),
        ("-3", "3"),
        ("x = 5", "5"),
        ("3/4", "0.75"),
        ("50\\%", "50"),
    ],
)
def test_numeric_fast_path_agrees_with_math_verify(pred: str, gold: str) -> None:
    """The fast path only saves time: it must decide as math-verify would."""
    assert math_equal(pred, gold) is grading._verified(pred, gold)


RELATIONS = [
    "x != 3",
    "x!=3",
    "x ! = 3",
    "x >= 3",
    "x > = 3",
    "x <= 3",
    "x < = 3",
    "x => 3",
    "x = > 3",
    "x =< 3",
    "x = < 3",
    "x ≠ 3",
    "x ≥ 3",
    "x ≤ 3",
    "x < 3",
    "x > 3",
    "3 < x",
    "x \\neq 3",
    "x \\ne 3",
    "x \\not= 3",
    "x \\geq 3",
    "x\\ge3",
    "x \\le 3",
    "x \\leq 3",
    "x \\leqslant 3",
    "x \\geqslant 3",
    "x \\lt 3",
    "x \\gt 3",
    "3 \\le x",
    "x \\to 3",
    "x \\sim 3",
    "x \\rightarrow 3",
    "x \\propto 3",
    "x \\ll 3",
    "x \\gg 3",
]


@pytest.mark.parametrize("relation", RELATIONS)
def test_a_relation_is_never_a_number(relation: str) -> None:
    """An inequality or a non-equality states no value: it equals no number, on either side, and does
    not vote with one in maj@n."""
    assert grade_math(f"So \\boxed{{{relation}}}.", 3) == Graded(relation, False)
    assert math_equal("3", relation) is False
    assert answer_key(relation, "math") != answer_key("3", "math")


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("x = 3", 3),
        ("x=3", "3"),
        ("k = 3", "3.0"),
        ("\\theta = 3", 3),
        ("5+5+1 = 11", 11),
        ("5! = 120", 120),
        ("x \\approx 3", 3),
        ("1", "k = 1"),
        ("3", "a_{1} = 3"),
    ],
)
def test_an_equation_counts_by_its_value(pred: str, gold: str | int) -> None:
    assert math_equal(pred, gold) is True


@pytest.mark.parametrize(
    ("pred", "gold", "equal"),
    [
        ("x =< 3", "x \\le 3", True),
        ("x => 5", "x \\geq 5", True),
        ("x < = 3", "x \\leq 3", True),
        ("x != 3", "x \\neq 3", True),
        ("x ! = 3", "x \\ne 3", True),
        ("-x >= -1", "x <= 1", True),
        ("x > 5", "x < 5", False),
        ("x \\ge 5", "x \\le 5", False),
        ("(-7, 10)", "-7 < a < 10", True),
    ],
)
def test_relations_compare_with_relations(pred: str, gold: str, equal: bool) -> None:
    """Spellings math-verify's parser does not know (`=<`, `=>`, `\\not=`, spaced ones) are read as the
    relations they are, not as the number after them; a relation equals the set it describes."""
    assert math_equal(pred, gold) is equal


@pytest.mark.parametrize(
    ("pred", "gold", "equal"),
    [
        # a gold equation to solve is not its right-hand side
        ("1", "2x + z = 1", False),
        ("0", "a^2 + b = 0", False),
        # `!=` written together is a non-equality, not 5! = 120
        ("5!=120", 120, False),
        # ± is both values
        ("3 \\pm 1", 3, False),
        ("3 \\pm 1", 4, False),
        ("3 \\pm 1", "\\{2, 4\\}", True),
        ("\\pm 3", 3, False),
        ("\\pm 3", "\\pm 3", True),
        # an interval is no number
        ("[3, 5]", 3, False),
        ("(3, 5)", 5, False),
        ("[3, 5]", "[3,5]", True),
        ("x \\in [3, 5]", "[3, 5]", True),
        # a ratio is its quotient
        ("1:2", "\\frac{1}{2}", True),
        ("2:3", 2, False),
        ("2:3", 3, False),
        # a one-element set is its element
        ("\\{3\\}", 3, True),
        ("\\{3, 4\\}", 3, False),
        ("3, 4", 3, False),
        # a comma separates thousands (groups of three) or items, a space nothing
        ("1,000", 1000, True),
        ("1 000", 1000, False),
        ("1000,99", "1000.99", False),
        # a closing modulus is no \pm and no number: the residue counts; \bmod is the binary operation
        ("3 \\pmod{1000}", 3, True),
        ("3 \\pmod{1000}", 1000, False),
        ("N \\equiv 3 \\pmod{1000}", 3, True),
        ("3 \\ (\\mathrm{mod}\\ 1000)", 3, True),
        ("3 (\\mod 1000)", 1000, False),
        ("8 \\bmod 5", 3, True),
        ("8 \\bmod 5", 5, False),
        ("(\\text{mode})", "\\text{mode}", True),
        # sub- and superscripts and angle brackets hold no relation
        ("\\lim_{x \\to 0} \\frac{\\sin x}{x}", 1, True),
        ("\\left< 1, 2 \\right>", "\\langle 1, 2 \\rangle", True),
    ],
)
def test_operators_and_separators(pred: str, gold: str | int, equal: bool) -> None:
    assert math_equal(pred, gold) is equal


@pytest.mark.parametrize(
    "response",
    [
        "Maybe the answer is 12? Let me verify with 25 instead",
        "the answer is 12 (or 25 if we count both ends)",
        "The answer is $12$ or $25$.",
        "The answer is \\(12\\) and not \\(25\\).",
        "So the answer is 24. Hmm wait, \\boxed{25",
        "\\boxed{24}. Put the answer in \\boxed{}.",
    ],
)
def test_free_text_after_an_answer_is_not_graded(response: str) -> None:
    assert grade_math(response, 25).correct is False


def test_amc_float_gold_against_boxed_integer() -> None:
    graded = grade_math("Alicia rides 27 miles. \\boxed{27}", 27.0)
    assert graded == Graded("27", True)


def test_grade_math_reports_the_wrong_answer() -> None:
    assert grade_math("so \\boxed{26}", "025") == Graded("26", False)
    assert grade_math("no answer at all", 5) == Graded(None, False)


@pytest.mark.parametrize(
    "text",
    [
        "The correct option is \\boxed{C}.",
        "\\boxed{\\text{(C)}}",
        "\\boxed{(C)}",
        "\\boxed{C) 4.2 eV}",
        "\\boxed{\\textbf{C}}",
        "\\boxed{\\mathrm{C}}",
        "$\\boxed{\\text{C}}$",
        "\\boxed{c}",
        "\\fbox{C}",
        "Answer: C",
        "answer is (C)",
        "The correct answer is C.",
        "The answer is: **C**",
        "**Answer:** (C)",
        "Final answer: **C**",
        "the answer is option C",
        "The answer is \\(C\\).",
        "The answer is \\(\\text{C}\\).",
        "**(C)**",
        "so it is **C**",
        "**C) 4.2 eV**",
        "I first thought (A).\n\nAnswer: C",
        "\\boxed{\\text{(C)} 4.2 eV}",
        "\\boxed{\\textbf{(C)} 4.2}",
        "\\boxed{\\text{C: } 4.2}",
        "\\boxed{\\text{C}\\ 4.2\\text{ eV}}",
        "\\boxed{\\text{Option C}}",
        "\\boxed{(\\text{C})}",
        "\\boxed{(C) -2.4 eV}",
        "\\boxed{\\text{\\textbf{C}}}",
        "\\boxed{C} is the format: \\boxed{}",
        "The correct option is (C).",
        "**Correct option:** C",
        "My final choice: (C)",
        "Final choice: C",
        "So.\nBest option is (C)",
        "x\nRight option: C",
        "Long reasoning about (B) and (D).\n\n(C)",
        LONG_REASONING + "Answer: C",
    ],
)
def test_extract_choice_formats(text: str) -> None:
    assert extract_choice(text) == "C"
    assert grade_choice(text, "C") == Graded("C", True)
    assert grade_choice(text, "B") == Graded("C", False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: B. Hmm, that ignores the spin. Actually the answer is C.", "C"),  # last occurrence wins
        ("\\boxed{B}\n\nOn reflection, Answer: C", "C"),
        ("Answer: C, but to be safe: \\boxed{B}", "B"),
        ("**(A)** is tempting and **(B)** is not. Answer: C", "C"),  # an explicit answer beats bold letters
        ("**(A)** is out, **(D)** fits.", "D"),
        ("\\boxed{1.5 \\text{ eV}}, so the answer is D", "D"),  # the last box holds no letter
        ("The answer is (B). \\boxed{a = 2g}", "B"),  # nor does a boxed equation
        ("Answer: B, as \\boxed{D \\approx 3.1 \\text{ m}}", "B"),
        ("At first the answer is (B).\nBut rechecking the sign, B fails.\nFinal choice: C", "C"),  # a revision
    ],
)
def test_choice_precedence(text: str, expected: str) -> None:
    assert extract_choice(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no letter here",
        "Answer: E",
        "I like (a) lot",
        "the answer is a bit subtle",
        "\\boxed{Cat}",
        "The Answer is Avogadro's number",
        "\\boxed{C",
        "\\boxed{a = 2g}",
        "\\boxed{C \\le 3}",
        "\\boxed{\\mathrm{C}_p = 5}",
        "\\boxed{\\mathbf{B} \\cdot \\mathbf{v}}",
        "\\boxed{(C) = 5}",
        "Thus \\boxed{D = 3.1 \\text{ m}}, which is option (B).",  # a mention in passing is no answer
        "option A is wrong",
        "Another option is A.",
        "The correct option is not A.",
    ],
)
def test_no_choice_found(text: str) -> None:
    assert extract_choice(text) is None
    assert grade_choice(text, "A") == Graded(None, False)


@pytest.mark.parametrize("box", ["C != 3", "C ! = 3", "C := 3", "C \\not= 3", "C \\to 3", "C \\geqslant 3"])
def test_a_boxed_letter_in_a_relation_is_no_option(box: str) -> None:
    assert extract_choice(f"Answer: B. So \\boxed{{{box}}}") == "B"


def test_choice_letters_are_configurable() -> None:
    assert extract_choice("Answer: E", letters="ABCDE") == "E"
    assert extract_choice("Answer: E. Hmm, no: Answer: D", letters="ABC") is None


def test_gold_letter_forms() -> None:
    assert grade_choice("Answer: C", "(C)").correct
    assert grade_choice("Answer: C", " c ").correct


GARBAGE = [
    "",
    "x" * 100_000,
    "{" * 100_000,
    "\\boxed{" + "{" * 100_000,
    "}" * 50_000 + "\\boxed{" * 1000,
    "answer is " * 10_000,
    "**" * 50_000,
    "\\boxed{" + "\\frac{" * 500 + "1" + "}" * 500 + "}",
    "\\boxed{" + "\\frac{" * 500 + "1",
    "\\boxed{9^{9^{9^{9}}}}",
    "\\boxed{10^{10^{10}}}",
    "\\boxed{" + "^".join(["2"] * 100) + "}",
    "\\boxed{(10^{9})!}",
    "\\boxed{\\binom{10^{9}}{10^{5}}}",
    "\\boxed{(x+1)^{10^{10}}}",
    "\\boxed{" + "(" * 30 + "1" + ")" * 30 + "}",
    "\\boxed{" + "{" * 30 + "1" + "}" * 30 + "}",
    "\\boxed{" + "(" * 3000 + "}",
    "\\boxed{" + "1+" * 2000 + "1}",
    "\\boxed{\\x00\x00\x00}",
    "\x00" * 10_000,
    "".join(chr(random.Random(0).randint(0x20, 0x2FFFF)) for _ in range(5000)),
    "\\boxed{\\begin{matrix}" + "1&" * 500 + "\\end{matrix}}",
    "\\boxed{\\int_0^\\infty e^{-x^{2}} dx \\cdot \\sum_{n=1}^{\\infty} n^{-s}}",
]


@pytest.mark.timeout(120, method="thread")  # a hang guard, not a speed test (the signal method would clash
@pytest.mark.parametrize("text", GARBAGE)  # with math-verify's own alarms)
def test_garbage_is_wrong_not_a_crash(text: str) -> None:
    assert grade_math(text, 7).correct is False
    assert grade_choice(text, "A").correct is False
    for kind in ("math", "choice"):
        answer_key(extract_math_answer(text), kind)


def test_integers_over_4300_digits_are_graded_not_raised() -> None:
    """Python refuses to convert integers of more than 4,300 digits to int: such an answer or gold is
    never converted. The answer gets a key (its digits) for maj@n; a gold that long equals no answer."""
    huge = "1" * 4301
    assert answer_key(huge, "math") == huge
    assert answer_key(f"\\boxed{{{huge}}}", "math") != answer_key(huge, "math") != answer_key("5", "math")
    assert answer_key(f"\\frac{{{huge}}}{{3}}", "math") == f"\\frac{{{huge}}}{{3}}"
    assert grade_math("\\boxed{5}", huge) == Graded("5", False)
    assert grade_math(f"\\boxed{{{huge}}}", huge) == Graded(huge, False)
    assert grade_math(f"\\boxed{{{huge}}}", 5) == Graded(huge, False)
    assert math_equal("5", f"\\frac{{{huge}}}{{3}}") is False


@pytest.mark.timeout(120, method="thread")
def test_grading_works_outside_the_main_thread() -> None:
    """lm-eval or a thread pool may grade off the main thread, where signal timeouts cannot be set:
    no crash, correct answers still found, huge and deep answers still refused."""
    results: list[bool] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.extend(
                [
                    grade_math("\\boxed{\\frac{1}{2}}", "0.5").correct,
                    grade_math("\\boxed{2\\sqrt{2}}", "\\sqrt{8}").correct,
                    grade_math("\\boxed{9^{9^{9}}+1}", 1).correct,
                    grade_math("\\boxed{" + "^".join(["2"] * 100) + "}", 4).correct,
                    grade_math("\\boxed{" + "(" * 30 + "1" + ")" * 30 + "}", 1).correct,
                ]
            )
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert errors == []
    assert results == [True, True, False, False, False]


SLOW_SUM = "\\boxed{\\sum_{n=1}^{99999}\\sin(n)}"  # sympy sums it term by term: minutes without a limit


def _grade_in_thread(response: str, gold: str) -> tuple[list[bool], threading.Thread]:
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(grade_math(response, gold).correct), daemon=True)
    worker.start()
    return results, worker


@pytest.mark.timeout(600, method="thread")
def test_grading_off_the_main_thread_is_bounded_in_time() -> None:
    """math-verify's alarms cannot be set off the main thread, where this sum ran for minutes; there the
    comparison runs in a child process, with those alarms, killed after CHILD_TIMEOUT_SECONDS."""
    grading._verified.cache_clear()
    bound = grading.CHILD_START_SECONDS + grading.CHILD_TIMEOUT_SECONDS
    start = time.monotonic()
    results, worker = _grade_in_thread(SLOW_SUM, "5")
    worker.join(bound)
    assert not worker.is_alive() and results == [False]
    assert time.monotonic() - start < bound


@pytest.mark.timeout(600, method="thread")
def test_a_comparison_over_the_bound_is_killed_and_the_next_one_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    grading._verified.cache_clear()
    results, worker = _grade_in_thread("\\boxed{2\\sqrt{2}}", "\\sqrt{8}")  # the child starts, unhurried
    worker.join(grading.CHILD_START_SECONDS + grading.CHILD_TIMEOUT_SECONDS)
    assert results == [True] and grading._child is not None
    first_child = grading._child[0]
    monkeypatch.setattr(grading, "CHILD_TIMEOUT_SECONDS", 0.5)  # under math-verify's own 2 s in the child
    start = time.monotonic()
    results, worker = _grade_in_thread(SLOW_SUM, "5")
    worker.join(30)
    assert results == [False] and time.monotonic() - start < 30
    assert grading._child is None and first_child.poll() is not None  # killed
    monkeypatch.setattr(grading, "CHILD_TIMEOUT_SECONDS", 10.0)
    results, worker = _grade_in_thread("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{1}{2}\\sqrt{3}")
    worker.join(grading.CHILD_START_SECONDS + grading.CHILD_TIMEOUT_SECONDS)
    assert results == [True]  # in a new child


@pytest.mark.parametrize(
    "group",
    [
        ["025", "25", "25.0", "x = 25", "25^\\circ", "$25$"],
        ["1,000", "1000", "1{,}000"],
        ["\\frac{1}{2}", "\\dfrac{1}{2}", "0.5", "1/2", "\\tfrac{1}{2}"],
        ["-\\frac{3}{4}", "-0.75", "\\frac{-3}{4}"],
        ["\\left( 1, 2 \\right)", "(1,2)", "(1, 2)."],
        ["2\\sqrt{3}", "2 \\sqrt{3}", "2\\,\\sqrt{3}"],
        ["\\dfrac{\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{2}", "$\\tfrac{\\sqrt{3}}{2}$"],
    ],
)
def test_answer_keys_group_equal_answers(group: list[str]) -> None:
    keys = {answer_key(answer, "math") for answer in group}
    assert len(keys) == 1, keys


def test_answer_keys_separate_different_answers() -> None:
    answers = ["25", "26", "-25", "0.5", "\\frac{1}{3}", "\\sqrt{2}", "(1,2)", "(2,1)"]
    assert len({answer_key(a, "math") for a in answers}) == len(answers)
    assert answer_key("025", "math") == "25" and answer_key("0.5", "math") == "1/2"


def test_answer_keys_for_choices_and_missing_answers() -> None:
    assert answer_key("c", "choice") == answer_key("C", "choice") == "C"
    assert answer_key(None, "math") is None and answer_key(None, "choice") is None
    with pytest.raises(ValueError, match="kind"):
        answer_key("5", "maths")
