"""Segmentation is lossless and deterministic; rule markers classify steps into the paper's modes."""

from __future__ import annotations

import itertools
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.bench_eval_metrics import questions
from limopro_plugins.pir import classify
from limopro_plugins.pir import segment as segment_module
from limopro_plugins.pir.classify import (
    _MARKERS,
    OPENING_CHARS,
    MarkerScan,
    RuleClassifier,
    expand,
    fold,
    marker_mode,
    opening,
)
from limopro_plugins.pir.segment import (
    _SENTENCE_BREAK,
    RESUME_WORDS,
    paragraph_starts,
    rule_steps,
    segment,
)
from limopro_plugins.text import PARAGRAPH_BREAK, Mode

CHAIN = (
    "First, we set up the equation $x + 3 = 7$. So $x = 4$. This is e.g. the simplest case.\n\n"
    "Wait, let me check that again. $4 + 3 = 7$. Yes. So now we move on to y, which is 2.5 times x. "
    "Then y = 10.\n\n"
    "Alternatively, we could solve for y directly.\n"
    "Hmm, this is wrong: 2.5 times 4 is 10, which is fine.\n\n"
    "So the answer is 10.\n"
)


@pytest.mark.parametrize(
    "text",
    [
        CHAIN,
        "",
        "   \n\n  ",
        "no punctuation at all",
        "A.\n\n\n\nB. C!  D?\n",
        "x" * 5000,
        "Wait.\n\nWait.\n\n",
        "Ünïcödé — text. Wait, 3.14159 is π.\r\n\r\nSo done.",
        "\n\nLeading blank.",
    ],
)
def test_segmentation_round_trips_byte_for_byte(text: str) -> None:
    steps = segment(text)
    assert "".join(s.text for s in steps) == text
    assert all(text[s.start : s.end] == s.text and s.text for s in steps)
    assert [s.start for s in steps[1:]] == [s.end for s in steps[:-1]]


def test_segmentation_is_deterministic_and_splits_at_markers() -> None:
    steps = [s.text for s in segment(CHAIN)]
    assert steps == [s.text for s in segment(CHAIN)]
    assert steps == [
        "First, we set up the equation $x + 3 = 7$. So $x = 4$. This is e.g. the simplest case.\n\n",
        "Wait, let me check that again. $4 + 3 = 7$. Yes. ",
        "So now we move on to y, which is 2.5 times x. Then y = 10.\n\n",
        "Alternatively, we could solve for y directly.\n",
        "Hmm, this is wrong: 2.5 times 4 is 10, which is fine.\n\n",
        "So the answer is 10.\n",
    ]


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """[start, end) offsets of the sentences of text[start:end] as `segment` cuts them: after every
    `_SENTENCE_BREAK`, except a line break right at `start` (the text before it would be empty)."""
    end = len(text) if end is None else end
    cuts = [
        start,
        *(m.end() for m in _SENTENCE_BREAK.finditer(text, start, end) if m.start() > start or text[start] != "\n"),
    ]
    return list(itertools.pairwise(cuts if cuts[-1] == end else [*cuts, end]))


def test_sentences_keep_decimals_and_abbreviations_whole() -> None:
    text = "The value is 3.5 here, e.g. in the first case. Next sentence."
    assert [text[a:b] for a, b in sentences(text)] == [
        "The value is 3.5 here, e.g. in the first case. ",
        "Next sentence.",
    ]


def test_rule_classifier_labels_the_example_chain() -> None:
    modes = RuleClassifier().classify([s.text for s in segment(CHAIN)])
    assert modes == [
        Mode.PROGRESSIVE,
        Mode.VERIFICATION,
        Mode.PROGRESSIVE,
        Mode.MULTI_METHOD,
        Mode.ERROR_CORRECTION,
        Mode.PROGRESSIVE,
    ]


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("Wait, is that right?", Mode.VERIFICATION),
        ("Let me check the arithmetic: 12 * 12 = 144.", Mode.VERIFICATION),
        ("Let me verify by substituting back.", Mode.VERIFICATION),
        ("Double-check: the sum of the angles is 180.", Mode.VERIFICATION),
        ("Going back to the original equation, we see x = 2.", Mode.VERIFICATION),
        ("Alternatively, use the quadratic formula.", Mode.MULTI_METHOD),
        ("Another way to see this is by symmetry.", Mode.MULTI_METHOD),
        ("Let's try a different approach: complementary counting.", Mode.MULTI_METHOD),
        ("Using another method, we get the same result.", Mode.MULTI_METHOD),
        ("We can also verify this by plugging in n = 3.", Mode.MULTI_METHOD),
        ("This is wrong, the sign should be negative.", Mode.ERROR_CORRECTION),
        ("The mistake was in the second line.", Mode.ERROR_CORRECTION),
        ("I made a mistake when expanding.", Mode.ERROR_CORRECTION),
        ("That's impossible, since x must be positive.", Mode.ERROR_CORRECTION),
        ("This contradicts the assumption that n is odd.", Mode.ERROR_CORRECTION),
        ("The error is in the denominator.", Mode.ERROR_CORRECTION),
        ("Wait, this is wrong: 7 is prime.", Mode.ERROR_CORRECTION),
        ("So x = 5 and the area is 25.", None),
        ("Now compute the determinant; we will verify it later in the proof of the claim.", None),
        ("The waiter brought 3 plates.", None),
    ],
)
def test_marker_cases(text: str, mode: Mode | None) -> None:
    assert marker_mode(text) is mode


def test_markers_deep_inside_a_long_step_do_not_count() -> None:
    text = "We expand the product term by term and collect like powers of x. " * 3 + "Wait, check."
    assert marker_mode(text) is None


# --------------------------------------------------------------------------- the one-pass scan is exact
#
# `segment` and `rule_steps` find markers with one Aho-Corasick pass (`MarkerScan`) instead of running
# `marker_mode` on every sentence and step. The reference below is the straightforward definition; the
# optimised functions must give exactly its steps and modes.

SAMPLE = Path(__file__).resolve().parents[1] / "limopro_plugins" / "data" / "sample_chains.jsonl"
MARKER_STRINGS = sorted({s for patterns in _MARKERS.values() for p in patterns for s in expand(p)})


RESUME = re.compile(rf"\s*(?:{RESUME_WORDS})\b", re.IGNORECASE)
"""The definition of a sentence that resumes forward reasoning: its resume word, after any whitespace."""
SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]*]*[ \t]+(?=[^\sa-z])|\n\s*")
"""The definition of a sentence break: after . ! ? and closing quotes/brackets, spaces before a
character that is not lower-case; or a line break. `segment` matches from the punctuation on (faster)."""


def split(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    """text[start:end] cut after every match of `pattern` that does not start at `start`."""
    cuts = [start, *(m.end() for m in pattern.finditer(text, start, end) if m.start() > start)]
    return list(itertools.pairwise(cuts if cuts[-1] == end else [*cuts, end]))


def reference(reasoning: str) -> tuple[list[tuple[int, int]], list[Mode]]:
    """Steps and modes by the definition: paragraphs, their sentences, marker_mode on every sentence,
    then on every step."""
    bounds: list[int] = []
    for p_start, p_end in split(reasoning, PARAGRAPH_BREAK, 0, len(reasoning)):
        in_functional = False
        for i, (s_start, s_end) in enumerate(split(reasoning, SENTENCE_BREAK, p_start, p_end)):
            sentence = reasoning[s_start:s_end]
            marked = marker_mode(sentence) is not None
            if i == 0 or marked or (in_functional and RESUME.match(sentence)):
                bounds.append(s_start)
                in_functional = marked
    bounds.append(len(reasoning))
    bounds[0] = 0
    steps = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    return steps, RuleClassifier().classify([reasoning[a:b] for a, b in steps])


def fuzz_text(rng: random.Random) -> str:
    """Markers in every case (and the Unicode letters IGNORECASE equates with ASCII ones), glued to
    letters or not, around sentence and paragraph breaks, quotes, Unicode spaces, resume words, lone
    surrogates (which a JSON escape can produce), and filler that pushes a marker across the
    160-character opening cap."""

    def marker() -> str:
        text = rng.choice(MARKER_STRINGS)
        text = rng.choice(
            [text, text.upper(), text.title(), "".join(c.upper() if rng.random() < 0.5 else c for c in text)]
        )
        odd = {"i": ["\u0130", "\u0131"], "s": ["\u017f"], "k": ["\u212a"], "I": ["\u0130"], "S": ["\u017f"]}
        return "".join(rng.choice(odd[c]) if c in odd and rng.random() < 0.1 else c for c in text)

    pieces = [
        marker,
        marker,
        marker,
        lambda: rng.choice(["x", "s", "é", "ẞ", "1", "_"]) + marker(),
        lambda: marker() + rng.choice(["s", "ing", "ed", "x", "é", "1", "", "?", ":", ","]),
        lambda: rng.choice(
            [
                ". ",
                "! ",
                "? ",
                '." ',
                ".) ",
                ".'] ",
                ".\t",
                ". a ",
                ".\n",
                "\n",
                "\n\n",
                " \n \n ",
                "\r\n\r\n",
                ".\u00a0",
                "\u2003",
                "\x1c",
                ".  ",
                "e.g. ",
                "3.5 ",
            ]
        ),
        lambda: rng.choice(
            [
                "So ",
                "so, ",
                "Now ",
                "Then ",
                "Next, ",
                "Therefore ",
                "OK ",
                "okay ",
                "All right ",
                "Putting it together ",
                "Back to ",
                "First ",
            ]
        ),
        lambda: (
            rng.choice(
                [
                    "we compute",
                    "the sum is 12",
                    "Σ",
                    "ς",
                    "😀",
                    "x",
                    "is",
                    "this",
                    "That",
                    "let",
                    "the",
                    "error-prone",
                    "mistaken",
                    "I",
                    "me",
                    "make",
                    "sure",
                    "wa",
                    "it",
                    "\ud800",
                    "x\udfff",
                ]
            )
            + " "
        ),
        lambda: "a" * rng.randint(140, 165) + " ",
        lambda: " " * rng.randint(0, 3),
    ]
    return "".join(rng.choice(pieces)() for _ in range(rng.randint(0, 40)))


def texts_to_check() -> list[str]:
    texts = [json.loads(line)["solution"] for line in SAMPLE.read_text().splitlines() if line.strip()]
    texts += [s for _, samples in questions(12, 8, seed=7) for s in samples]
    rng = random.Random(20240607)
    texts += [fuzz_text(rng) for _ in range(3000)]
    return texts


def test_marker_strings_are_the_regexes_languages() -> None:
    """expand() agrees with Python's own regex parser, and every string matches its regex."""
    try:
        import re._parser as sre_parse  # Python 3.11+
        from re import _constants as c
    except ImportError:  # Python 3.10
        import sre_constants as c
        import sre_parse

    def language(tree: list) -> set[str]:
        found = {""}
        for op, arg in tree:
            if op is c.LITERAL:
                options = {chr(arg)}
            elif op is c.IN:
                options = {chr(value) for kind, value in arg if kind is c.LITERAL}
            elif op is c.BRANCH:
                options = set().union(*(language(branch) for branch in arg[1]))
            elif op is c.SUBPATTERN:
                options = language(arg[-1])
            else:
                assert op is c.MAX_REPEAT and arg[:2] == (0, 1), op
                options = {""} | language(arg[2])
            found = {head + tail for head in found for tail in options}
        return found

    for patterns in _MARKERS.values():
        for pattern in patterns:
            strings = expand(pattern)
            assert set(strings) == language(list(sre_parse.parse(pattern)))
            assert all(re.fullmatch(pattern, s) for s in strings)
    with pytest.raises(ValueError):
        expand(r"wait\b")
    with pytest.raises(ValueError):
        expand("[a-z]ait")


def test_a_marker_ending_a_sentence_inside_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """MarkerScan skips the search for the opening's end for a marker at a step's head; that is exact
    only while no marker string holds a sentence end before its last character."""
    classify._automata.__wrapped__()  # the real markers pass
    for bad in (r"wait\. check", r"is it\? wait", "hold\non"):
        markers = {**_MARKERS, Mode.VERIFICATION: (*_MARKERS[Mode.VERIFICATION], bad)}
        monkeypatch.setattr(classify, "_MARKERS", markers)
        with pytest.raises(ValueError, match="only its last character may end a sentence"):
            classify._automata.__wrapped__()


def test_a_marker_not_starting_with_a_letter_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """segment finds a marker's sentence by searching for breaks up to the marker's first character,
    which no break may hold: exact only while every marker string starts with a letter."""
    for bad in (r"\(wait", r" hold on", r"'tis wrong"):
        markers = {**_MARKERS, Mode.VERIFICATION: (*_MARKERS[Mode.VERIFICATION], bad)}
        monkeypatch.setattr(classify, "_MARKERS", markers)
        with pytest.raises(ValueError, match="must start with a letter"):
            classify._automata.__wrapped__()


def test_fold_equals_ignorecase_matching_for_every_character() -> None:
    """A character matches a marker character (or [a-z]) under re.IGNORECASE exactly when its fold is it."""
    every = "".join(chr(cp) for cp in range(sys.maxunicode + 1))
    folded = fold(every)
    assert len(folded) == len(every)
    for char in "abcdefghijklmnopqrstuvwxyz '-:?":
        matches = {m.start() for m in re.finditer(re.escape(char), every, re.IGNORECASE)}
        assert matches == {i for i, f in enumerate(folded) if f == char}, char
    letters = {m.start() for m in re.finditer("[a-z]", every, re.IGNORECASE)}
    assert letters == {i for i, f in enumerate(folded) if "a" <= f <= "z"}


def test_one_pass_segmentation_and_modes_equal_the_reference() -> None:
    for text in texts_to_check():
        steps, modes = reference(text)
        assert [(s.start, s.end) for s in segment(text)] == steps, text
        assert paragraph_starts(text) == [a for a, _ in split(text, PARAGRAPH_BREAK, 0, len(text))], text
        functional = [(a, b, mode) for (a, b), mode in zip(steps, modes) if mode.functional]
        assert rule_steps(text) == (len(steps), functional), text


def test_a_step_whose_first_sentence_ends_in_a_quote_reads_its_own_opening() -> None:
    """The first sentence ends in a quote break, so the step's opening runs on into the next sentence
    and ends at the 160-character cap, right inside "waits": cut there, "wait" is a marker of the step
    though not of its sentence. A step may keep its first sentence's mode only where that sentence's
    opening ends inside it (found by a review: taking the sentence's mode here gave None)."""
    text = 'Hmm xwait." A' + "b" * 142 + " waits. End."
    assert reference(text) == ([(0, len(text))], [Mode.VERIFICATION])
    assert rule_steps(text) == (1, [(0, len(text), Mode.VERIFICATION)])


class CountingPattern:
    """A compiled regex that adds up how many characters its searches read: a search up to its match's
    end (or to the end of its range), a finditer its whole range."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern, self.read = pattern, 0

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        found = self.pattern.search(text, pos, endpos)
        self.read += (found.end() if found else min(endpos, len(text))) - pos
        return found

    def finditer(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        self.read += min(endpos, len(text)) - pos
        return self.pattern.finditer(text, pos, endpos)


@pytest.mark.parametrize("sentence", ["Wait, no. ", "Hmm, wait. It is 3. ", "Wait.\n", "So wait. x. "])
def test_a_paragraph_of_many_functional_sentences_is_read_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch, sentence: str
) -> None:
    """A model stuck in a loop writes thousands of "Wait" sentences in one paragraph: the searches for
    sentence breaks and resuming sentences must read each character a bounded number of times, not
    the rest of the paragraph after every functional sentence (the first version of this search did,
    and took tens of seconds for a paragraph of 160,000 characters)."""
    text = sentence * 2000
    counters = {name: CountingPattern(getattr(segment_module, name)) for name in ("_SENTENCE_BREAK", "_RESUMING_BREAK")}
    for name, counter in counters.items():
        monkeypatch.setattr(segment_module, name, counter)
    steps, modes = reference(text)
    assert rule_steps(text) == (len(steps), [(a, b, m) for (a, b), m in zip(steps, modes) if m.functional])
    # each character about twice, plus the look-ahead past each marker for a resume word
    bound = 2 * len(text) + segment_module._RESUME_REACH * len(MarkerScan(text).starts)
    assert sum(c.read for c in counters.values()) <= bound, {n: c.read for n, c in counters.items()}


def test_sentences_equal_the_definition_from_any_start() -> None:
    """Also from offsets right after or at punctuation and line breaks, where the look-behind of the
    definition sees a character before the start."""
    rng = random.Random(11)
    for text in texts_to_check()[::5]:
        for start in [0, *(rng.randrange(len(text)) for _ in range(3))] if text else [0]:
            end = rng.randint(start, len(text))
            if end > start:
                assert sentences(text, start, end) == split(text, SENTENCE_BREAK, start, end), (text, start, end)


SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")
"""The definition of where a step's opening ends (`classify` matches it with a faster pattern)."""


def test_openings_equal_the_definition() -> None:
    """The opening of any span: after its leading whitespace, up to the first sentence end (not at its
    first character) or OPENING_CHARS."""
    rng = random.Random(13)
    for text in texts_to_check()[::5]:
        for _ in range(3 if text else 0):
            start = rng.randrange(len(text))
            span = text[start : rng.randint(start, len(text))]
            head = re.match(r"\s*", span).end()
            cut = SENTENCE_END.search(span, head + 1, min(head + OPENING_CHARS, len(span)))
            expected = span[head : cut.end() if cut else head + OPENING_CHARS]
            assert opening(span) == expected, span


def test_marker_scan_mode_equals_marker_mode_on_every_sentence() -> None:
    rng = random.Random(5)
    for text in texts_to_check()[::3]:
        scan = MarkerScan(text)
        spans = sentences(text) + [(a, min(len(text), a + rng.randint(0, 400))) for a, _ in sentences(text)]
        for start, end in spans:
            assert scan.mode(start, end) is marker_mode(text[start:end]), text[start:end]
