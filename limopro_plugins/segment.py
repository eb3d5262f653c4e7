"""Cut a reasoning chain into sentences and group them into steps, deterministically and losslessly.

The paper grouped sentences into coherent steps (typically 3-4 sentences) with an LLM, never changing a
sentence. The rule-based grouping here follows the signals that LLM used:
- a paragraph (text up to a blank line) never spans two steps;
- a sentence whose opening carries a functional marker ("Wait", "Alternatively", "I made a mistake",
  see `classify`) starts a new step, so every verification / alternative / correction is its own step;
- inside a functional step, a sentence that resumes forward reasoning ("So", "Now", "Next", "Therefore",
  ...) starts a new (progressive) step, so pruning a check never removes the progress after it.
Every character belongs to exactly one step (whitespace goes with the text before it), so joining the
steps gives back the reasoning byte for byte.

Only paragraphs holding a marker string need their sentences: one `MarkerScan` of the text finds those,
and every other paragraph is one step. `rule_steps` counts the steps and gives the functional ones with
their rule modes from the same scan, without locating the progressive steps (what evaluation needs).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from limopro_plugins.classify import MarkerScan, Mode

PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n\s*")
"""A blank line (with the whitespace after it): Unix or Windows (\\r\\n) line ends, spaces or tabs allowed."""
# A sentence ends after . ! ? (and closing quotes/brackets), before whitespace and a character that is
# not lower-case (so "e.g. the" and "3.5" stay whole); a line break always ends one. The break starts
# at its punctuation rather than after it (a look-behind), and both kinds open with one character set:
# the regex engine then skips ahead to the candidates (. ! ? or a line break), about 2x faster than
# trying each alternative at every character.
_SENTENCE_BREAK = re.compile(r"[.!?\n](?:(?<=[.!?])[\"')\]*]*[ \t]+(?=[^\sa-z])|(?<=\n)\s*)")
_RESUME = re.compile(
    r"\s*(?:so|now|next|then|therefore|thus|hence|okay|ok|alright|all right|moving on|first|second|"
    r"finally|putting (?:it|this) together|back to)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Step:
    """A step: its exact text and its [start, end) character offsets in the reasoning."""

    text: str
    start: int
    end: int


def paragraph_starts(text: str) -> list[int]:
    """Where the blank-line separated paragraphs start (a separator stays with the paragraph before it;
    a break at the very start splits nothing)."""
    if not text:
        return []
    leading = PARAGRAPH_BREAK.match(text)
    ends = list(map(re.Match.end, PARAGRAPH_BREAK.finditer(text, leading.end() if leading else 0)))
    if ends and ends[-1] == len(text):
        ends.pop()
    return [0, *ends]


def _sentence_cuts(text: str, start: int, end: int) -> list[int]:
    """Where the sentences of text[start:end] start, then `end`: cut after every sentence break, except
    a line break right at `start` (the text before it would be empty)."""
    cuts = [start, *map(re.Match.end, _SENTENCE_BREAK.finditer(text, start, end))]
    if len(cuts) > 1 and text[start] == "\n":  # the first break is that line break
        del cuts[1]
    if cuts[-1] < end:
        cuts.append(end)
    return cuts


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """[start, end) offsets of the sentences of text[start:end]."""
    return list(itertools.pairwise(_sentence_cuts(text, start, len(text) if end is None else end)))


def _several_sentences(text: str, start: int, end: int) -> list[int] | None:
    """`_sentence_cuts(text, start, end)` if text[start:end] has several sentences, else None. One search
    settles the one-sentence case (most paragraphs that hold a marker string in the benchmark, none in
    the bundled sample); otherwise the search goes on from the first break."""
    first = _SENTENCE_BREAK.search(text, start, end)
    if first is None or first.end() == end:
        return None
    if text[start] == "\n":  # the first break is that line break, which cuts nothing
        return _sentence_cuts(text, start, end)
    # a break ends before a character that is not whitespace, so the rest never starts with a line break
    return [start, *_sentence_cuts(text, first.end(), end)]


def _opening_ends_inside(text: str, start: int, end: int) -> bool:
    """Whether the opening of a sentence text[start:end] (see `classify.opening`) ends before the
    sentence does, at a sentence end or at the 160-character cap, so that a step starting with this
    sentence has the same opening, and so the same mode. True when the sentence's break holds a line
    break or its punctuation is followed by whitespace (no closing quote or bracket between)."""
    sentence = text[start:end]
    body = sentence.rstrip()
    return "\n" in sentence[len(body):] or body.endswith((".", "!", "?"))


def _sentence_steps(text: str, scan: MarkerScan, cuts: list[int]) -> list[tuple[int, int, Mode | None]]:
    """The steps (start, end, rule mode) of a paragraph of several sentences (`cuts`: where they start,
    then the paragraph's end).

    Only a sentence holding a marker string can be functional, so only those are classified; after a
    functional sentence only the sentences up to the first that resumes forward reasoning (or the next
    functional one) are read; and a step's own mode is looked for only where it holds a marker string
    (a step of one sentence has that sentence's)."""
    starts, mode_of = scan.starts, scan.mode
    bisect_left, bisect_right = bisect.bisect_left, bisect.bisect_right
    lo = bisect_left(starts, cuts[0])
    sentence_modes: dict[int, Mode | None] = {}
    functional = []  # the functional sentences, in order (the marker strings are in order)
    for offset in starts[lo:bisect_left(starts, cuts[-1], lo)]:
        i = bisect_right(cuts, offset) - 1
        if i not in sentence_modes:
            sentence_modes[i] = mode = mode_of(cuts[i], cuts[i + 1])
            if mode is not None:
                functional.append(i)
    last = len(cuts) - 1  # the number of sentences
    firsts = [0]  # each step's first sentence
    for i, following in zip(functional, [*functional[1:], last]):
        if i:
            firsts.append(i)
        for k in range(i + 1, following):
            if _RESUME.match(text, cuts[k], cuts[k + 1]):
                firsts.append(k)
                break
    firsts.append(last)
    steps = []
    for a, b in itertools.pairwise(firsts):
        start, end = cuts[a], cuts[b]
        if b == a + 1 or (a in sentence_modes and _opening_ends_inside(text, start, cuts[a + 1])):
            mode = sentence_modes.get(a)
        else:
            mode = mode_of(start, end)
        steps.append((start, end, mode))
    return steps


def _paragraph_steps(text: str, scan: MarkerScan, start: int, end: int) -> list[int]:
    """The step bounds of the paragraph text[start:end] (its start, where later steps start, its end)."""
    cuts = _several_sentences(text, start, end)
    if cuts is None:
        return [start, end]
    return [*(a for a, _, _ in _sentence_steps(text, scan, cuts)), end]


def _marked_paragraphs(markers: list[int], edges: list[int]) -> Iterator[int]:
    """The indices of the paragraphs (`edges`: their starts, then the text's end) that hold one of the
    sorted `markers`, in order: two bisections per such paragraph, whatever its number of markers."""
    i = 0
    while i < len(markers):
        k = bisect.bisect_right(edges, markers[i]) - 1
        yield k
        i = bisect.bisect_left(markers, edges[k + 1], i)


def _split_marked(reasoning: str) -> tuple[MarkerScan, list[int], list[tuple[int, list[int]]]]:
    """The marker scan, the paragraph edges (starts, then len(reasoning)), and for each paragraph that
    holds a marker string its index and step bounds; every other paragraph is one step."""
    scan = MarkerScan(reasoning)
    edges = [*paragraph_starts(reasoning), len(reasoning)]
    marked = [(k, _paragraph_steps(reasoning, scan, edges[k], edges[k + 1]))
              for k in _marked_paragraphs(scan.starts, edges)]
    return scan, edges, marked


def segment(reasoning: str) -> list[Step]:
    """Group the sentences of `reasoning` into steps (see the module docstring for the rules)."""
    _, bounds, marked = _split_marked(reasoning)
    for k, inner in reversed(marked):
        bounds[k:k + 2] = inner
    return [Step(reasoning[a:b], a, b) for a, b in itertools.pairwise(bounds)]


def rule_steps(reasoning: str) -> tuple[int, list[tuple[int, int, Mode]]]:
    """How many steps `segment` makes of `reasoning`, and the functional ones as (start, end, mode) by
    `RuleClassifier`, from one marker scan. Evaluation counts tokens per mode, so it never needs the
    progressive steps (most of a response) one by one, nor the steps' strings."""
    scan = MarkerScan(reasoning)
    edges = [*paragraph_starts(reasoning), len(reasoning)]
    n_steps = len(edges) - 1
    functional: list[tuple[int, int, Mode]] = []
    mode_of, add = scan.mode, functional.append  # bound once: the loop runs for every marked paragraph
    for k in _marked_paragraphs(scan.starts, edges):
        start, end = edges[k], edges[k + 1]
        cuts = _several_sentences(reasoning, start, end)
        if cuts is None:  # one sentence, so one step
            mode = mode_of(start, end)
            if mode is not None:
                add((start, end, mode))
            continue
        steps = _sentence_steps(reasoning, scan, cuts)
        n_steps += len(steps) - 1
        functional += [step for step in steps if step[2] is not None]
    return n_steps, functional
