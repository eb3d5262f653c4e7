"""Steps and modes: the definitions on short cases of our own, losslessness, the anchor shortcut, the
classifier on steps cut by anything, and the scores on the gold set of real chains (../shared/data)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from limopro_plugins.pir import markers
from limopro_plugins.pir.classify import RuleClassifier, rule_opinion
from limopro_plugins.pir.gold import gold_labels, score_files
from limopro_plugins.pir.segment import answer_position, segment, sentence_bounds, structure
from limopro_plugins.text import Mode

P, V, M, E = Mode.PROGRESSIVE, Mode.VERIFICATION, Mode.MULTI_METHOD, Mode.ERROR_CORRECTION


def modes(text: str, answer: str | None = None) -> list[tuple[Mode, str]]:
    return [(mode, step.text) for step, mode in structure(text, answer)]


SETUP = (
    "We need the sum of the first ten odd numbers. The sum of the first n odd numbers is n^2. So the sum is 100.\n\n"
)


def test_a_check_is_one_step_from_its_opener_to_its_verdict() -> None:
    check = (
        "Wait, let me double-check this by adding them directly.\n\n"
        "1 + 3 + 5 + 7 + 9 = 25, and 11 + 13 + 15 + 17 + 19 = 75.\n\n"
        "So the total is 25 + 75 = 100, which matches.\n\n"
    )
    after = "Now, the problem also asks for the even numbers. Their sum is 110. That is 10 more than before."
    assert modes(SETUP + check + after) == [(P, SETUP), (V, check), (P, after)]


def test_a_check_ends_where_forward_planning_starts() -> None:
    check = "Let me verify: 10^2 = 100. "
    after = "So we need to find the even sum next. It is 110. That finishes it."
    assert modes(SETUP + check + after) == [(P, SETUP), (V, check), (P, after)]


def test_an_alternative_before_any_result_is_a_new_attempt() -> None:
    text = (
        "We want the number of ways to choose 2 of 5 items. Alternatively, we can count ordered pairs first. "
        "There are 5 * 4 = 20 ordered pairs, so the answer is 10."
    )
    assert [mode for mode, _ in modes(text, "10")] == [P]


def test_a_second_method_after_the_answer_is_multi_method() -> None:
    first = "There are 5 * 4 / 2 = 10 pairs. So the answer is 10.\n\n"
    second = "Alternatively, we can use the formula C(5, 2) = 5!/(2!3!) = 10. Same result.\n\n"
    end = "Thus the answer is 10."
    assert modes(first + second + end, "10") == [(P, first), (M, second), (P, end)]


def test_an_alternative_value_is_progressive() -> None:
    text = "Trying x = 1 gives 3 = 3 + 0. So x = 1 is a candidate.\n\nAlternatively, x = 2 gives 5. That is too big."
    assert {mode for mode, _ in modes(text, "1")} == {P}


def test_an_error_correction_in_its_short_form() -> None:
    wrong = "Adding the numbers gives 1 + 2 + 4 + 8 + 16 = 30. "
    fix = "Wait, no, that sum is 31, not 30. So the total is 31.\n\n"
    on = "Next we divide by 31."
    assert modes(wrong + fix + on) == [(P, wrong), (E, fix), (P, on)]


@pytest.mark.parametrize(
    "opener",
    [
        "Hmm, maybe my whole approach is wrong.",
        "Oops, I miscalculated the product.",
        "That's not right: the product is 12.",
        "I made an arithmetic mistake above.",
    ],
)
def test_error_correction_openers(opener: str) -> None:
    text = (
        f"We try x = 2, which gives 7. {opener} Let me set up the equation again: 3x + 1 = 7, so x = 2.\n\nThen y = 4."
    )
    assert [mode for mode, _ in modes(text)] == [P, E, P]


def test_eliminating_a_case_by_contradiction_is_progressive() -> None:
    text = (
        "Suppose n is odd, so n = 2k + 1. Then n^2 = 4k^2 + 4k + 1 is odd. "
        "This contradicts the assumption that n^2 is even, so n is even. It's impossible for n to be odd."
    )
    assert [mode for mode, _ in modes(text)] == [P]


def test_a_wait_that_moves_forward_is_progressive() -> None:
    text = "The sum for n = 2 is 5. Wait, let's consider the case n = 3 next. For n = 3 the sum is 14."
    assert [mode for mode, _ in modes(text)] == [P]


def test_nothing_is_checked_before_anything_was_derived() -> None:
    text = "Let me double-check the problem statement. We need all real x with x^2 > 4."
    assert [mode for mode, _ in modes(text)] == [P]


def test_a_question_before_a_short_check_opens_it() -> None:
    text = "So the smallest such cube is 27. Is 27 really the smallest? Let me check. 1 and 8 fail, so yes."
    (_, before), (mode, check) = modes(text)
    assert mode is V and check.startswith("Is 27 really")


def test_progressive_steps_group_paragraphs_of_three_or_more_sentences() -> None:
    paragraphs = [
        "First we set up. Let a = 1.\n\n",
        "Then b = 2. So c = 3.\n\n",
        "We add them. The sum is 6.\n\n",
        "One more line.\n\n",
        "And the last one. Done here.",
    ]
    steps = segment("".join(paragraphs))
    assert [s.text for s in steps] == ["".join(paragraphs[:2]), "".join(paragraphs[2:4]), paragraphs[4]]


def test_a_long_paragraph_is_cut_every_four_sentences() -> None:
    sentences = [f"Sentence number {k} is here. " for k in range(10)]
    steps = segment("".join(sentences))
    assert [s.text for s in steps] == ["".join(sentences[:4]), "".join(sentences[4:8]), "".join(sentences[8:])]


def test_the_answer_is_found_in_its_written_forms() -> None:
    assert answer_position("so DE = sqrt(51) here", "\\sqrt{51}") == 8
    assert answer_position("so DE = √51 here", "$\\sqrt{51}$") == 8
    assert answer_position("the total is -50 and 150", "-50") == 13
    assert answer_position("it is 150", "50") == 10  # not inside another number
    assert answer_position("anything", None) == -1


WORDS = (
    "Wait, no, that's wrong. | But wait, is 3 right? | Let me double-check: | Alternatively, another method. | "
    "So x = 3. | Therefore the answer is 5. | Hmm. | Yes, that checks out. | I made a mistake. | Now, let's | "
    "So we need to find | Is it the smallest? | Let me check. | same result | \n\n | \n | 2 + 2 = 4. | Hold on, | "
    "indeed | \u0130 | x | \ud800 | e.g. the | 3.5 | \r\n\r\n | Next, "
).split("|")


def fuzz_texts(count: int, seed: int) -> list[str]:
    """Short texts of cues, breaks and odd characters (a lone surrogate, the capital dotted I)."""
    rng = random.Random(seed)
    return ["".join(rng.choice(WORDS) for _ in range(rng.randint(0, 50))) for _ in range(count)]


def test_steps_are_lossless_and_contiguous() -> None:
    for text in fuzz_texts(1500, 0):
        steps = segment(text, "3")
        assert "".join(s.text for s in steps) == text
        assert all(a.end == b.start for a, b in zip(steps, steps[1:]))
        assert all(s.text == text[s.start : s.end] and s.text for s in steps)


def test_sentences_cover_the_text() -> None:
    for text in fuzz_texts(500, 1):
        starts, paragraphs = sentence_bounds(text)
        assert starts[0] == 0 if text else starts == [0]
        assert starts == sorted(set(starts)) and len(paragraphs) == len(starts) - 1


def _real_chains(shared_data: Path) -> list[tuple[str, str]]:
    from limopro_plugins.pir.records import split_response

    rows = [json.loads(line) for line in (shared_data / "reasoning_traces.jsonl").read_text().splitlines() if line]
    return [(split_response(row["solution"]).reasoning, row["answer"]) for row in rows]


def test_the_anchor_shortcut_changes_nothing(shared_data: Path) -> None:
    """Cues run only on sentences holding one of their anchors; every cue on every sentence gives the same."""
    cases = [(text, "3") for text in fuzz_texts(1500, 2)] + _real_chains(shared_data)
    for text, answer in cases:
        assert structure(text, answer) == structure(text, answer, shortcut=False), text[:200]


def test_every_match_holds_one_of_its_anchors(shared_data: Path) -> None:
    """What the shortcut relies on, checked on every sentence of the real chains and the fuzz texts."""
    texts = [text for text, _ in _real_chains(shared_data)] + fuzz_texts(500, 3)
    for text in texts:
        folded = markers.fold(text)
        starts, _ = sentence_bounds(text)
        for start, end in zip(starts, starts[1:]):
            for cue in (*markers.CUES, markers.RESULT):
                for branch in cue.branches:
                    found = branch.pattern.search(folded[start:end])
                    if found:
                        assert any(a in found.group(0) for a in branch.anchors), (cue, branch.pattern.pattern)


def test_the_classifier_gives_rule_steps_their_own_modes(shared_data: Path) -> None:
    for text, answer in _real_chains(shared_data)[:3]:
        found = structure(text, answer)
        assert RuleClassifier(answer).classify([s.text for s, _ in found]) == [m for _, m in found]


def test_the_classifier_labels_other_steps_by_the_mode_covering_most_of_them() -> None:
    wrong = "Adding the numbers gives 1 + 2 + 4 + 8 + 16 = 30. "
    fix = "Wait, no, that sum is 31, not 30. So the total is 31.\n\n"
    on = "Next we divide by 31."
    steps = [wrong + fix[:10], fix[10:] + on]  # cut elsewhere, as an LLM might
    assert RuleClassifier().classify(steps) == [P, E]
    assert rule_opinion(steps) == [None, E]


def test_scores_on_the_gold_set(shared_data: Path) -> None:
    """The bar on the nine annotated real chains (docs/pir.md has the numbers): functional-versus-
    progressive F1 >= 0.75, macro F1 over the functional modes >= 0.60, functional steps of 3+ sentences."""
    scores = score_files(shared_data / "reasoning_traces.jsonl", shared_data / "reasoning_traces_gold.jsonl")
    assert scores.functional[2] >= 0.75
    assert scores.macro_f1 >= 0.60
    assert scores.median_functional_sentences >= 3


def test_gold_labels_follow_the_episodes_in_order() -> None:
    text = "aa check one bb check two cc"
    episodes = [
        {"mode": "verification", "start": "check", "end": "one"},
        {"mode": "error_correction", "start": "check", "end": "two"},
    ]
    labels = gold_labels(text, episodes)
    assert "".join("v" if x == "verification" else "e" if x == "error_correction" else "." for x in labels) == (
        "...vvvvvvvvv....eeeeeeeee..."
    )
    with pytest.raises(ValueError, match="episode 2"):
        gold_labels(text, [episodes[1], {"mode": "verification", "start": "check", "end": "one"}])
