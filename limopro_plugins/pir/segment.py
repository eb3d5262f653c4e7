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

Only sentences holding a marker string can start a functional step: one `MarkerScan` of the text finds
the marker strings, only the sentences around them are located, and every other paragraph is one step.
`rule_steps` counts the steps and gives the functional ones with their rule modes from the same scan,
without locating the progressive steps (what evaluation needs).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from limopro_plugins.pir.classify import MarkerScan, expand
from limopro_plugins.text import PARAGRAPH_BREAK, Mode

# A sentence ends after . ! ? (and closing quotes/brackets), before whitespace and a character that is
# not lower-case (so "e.g. the" and "3.5" stay whole); a line break always ends one. The break starts
# at its punctuation rather than after it (a look-behind), and both kinds open with one character set:
# the regex engine then skips ahead to the candidates (. ! ? or a line break), about 2x faster than
# trying each alternative at every character.
_SENTENCE_BREAK = re.compile(r"[.!?\n](?:(?<=[.!?])[\"')\]*]*[ \t]+(?=[^\sa-z])|(?<=\n)\s*)")
RESUME_WORDS = (
    r"so|now|next|then|therefore|thus|hence|okay|ok|alright|all right|moving on|first|second|"
    r"finally|putting (?:it|this) together|back to"
)
"""The words (a regex, any case) that open a sentence resuming forward reasoning."""
_RESUMING_BREAK = re.compile(rf"{_SENTENCE_BREAK.pattern}(?=(?i:{RESUME_WORDS})\b)")
"""A sentence break followed by a sentence that resumes: one search finds the first resuming sentence
after a functional one. The break takes the whitespace after it, so the sentence opens with its word;
only the resume words ignore case (the break's look-ahead must not)."""
_RESUME_REACH = max(map(len, expand(RESUME_WORDS))) + 1
"""How far past a sentence start the resuming-break search must read to tell a resume word (and the
non-word character after it)."""


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


def _sentence_start(text: str, cursor: int, marker: int, paragraph: int) -> int:
    """Where the sentence holding `marker` starts, given a sentence start `cursor` before it: after the
    last sentence break between them. A break never holds a marker's first character (a letter), so one
    ending at the marker is seen by the search up to the character after it (its look-ahead's). A line
    break right at the paragraph's start cuts nothing (the text before it would be empty)."""
    start = cursor
    for found in _SENTENCE_BREAK.finditer(text, cursor, marker + 1):
        if found.start() != paragraph or text[paragraph] != "\n":
            start = found.end()
    return start


_Opener = tuple[int, Mode | None, bool]
"""A classified sentence: its end, its mode, and whether its opening (see `classify.opening`) ends
inside it, at a sentence end: then a step starting with it has the same opening, so the same mode."""


def _step(scan: MarkerScan, start: int, end: int, opener: _Opener | None) -> tuple[int, int, Mode | None]:
    """The step text[start:end] with its mode: that of its first sentence (`opener`, where classified)
    when the sentence is all of the step or holds its opening, else from the scan."""
    if opener is not None and (opener[0] == end or opener[2]):
        return start, end, opener[1]
    return start, end, scan.mode(start, end)


def _paragraph_steps(
    text: str,
    scan: MarkerScan,
    start: int,
    end: int,
    first: int,
    last: int,
) -> list[tuple[int, int, Mode | None]]:
    """The steps (start, end, rule mode) of the paragraph text[start:end], whose marker strings are
    `scan.starts[first:last]`.

    Only a sentence holding a marker string can be functional, so only those sentences are located
    (from the marker on: a search back to the sentence's start, one forward to its end) and classified.
    After a functional sentence the first sentence that resumes forward reasoning starts a step, unless
    a functional sentence comes first. It is searched for only up to the next marker string (the next
    functional sentence cannot start later), then on from that marker's sentence if it is not
    functional: every character is read a bounded number of times, even in a paragraph of thousands of
    "Wait" sentences. No other sentence is ever cut out, so a paragraph costs a few regex calls per
    sentence holding a marker, whatever its length."""
    starts, mode_of = scan.starts, scan.mode
    steps = []
    step, opener = start, None  # the open step's start, and its first sentence where that was classified
    cursor = start  # a sentence start at or before the next marker
    resume_from = -1  # after a functional sentence: where the search for a resuming sentence goes on
    i = first
    while i < last:
        marker = starts[i]
        if resume_from >= 0:
            # a break ending at or before the marker is read whole within this reach: it never holds the
            # marker's first character (a letter), and the resume word after it ends within the reach
            resuming = _RESUMING_BREAK.search(text, resume_from, min(end, marker + _RESUME_REACH))
            if resuming is not None and resuming.end() <= marker:  # so at or before the marker's sentence
                steps.append(_step(scan, step, resuming.end(), opener))
                step, opener, cursor, resume_from = resuming.end(), None, resuming.end(), -1
        s_start = cursor if marker == cursor else _sentence_start(text, cursor, marker, start)
        found = _SENTENCE_BREAK.search(text, marker, end)
        s_end = found.end() if found else end
        mode = mode_of(s_start, s_end)
        if mode is not None or s_start == step:
            if s_start > step:
                steps.append(_step(scan, step, s_start, opener))
                step = s_start
            # a break with a line break, or punctuation right before whitespace, ends the opening
            opener = (
                s_end,
                mode,
                found is not None and (text[found.start()] == "\n" or text[found.start() + 1] in " \t"),
            )
        if mode is not None or resume_from >= 0:  # search on from this sentence's break (it may resume)
            resume_from = found.start() if s_end < end else -1  # type: ignore[union-attr]  # found: s_end < end
        cursor = s_end
        i = bisect.bisect_left(starts, s_end, i + 1, last)
    if resume_from >= 0 and (resuming := _RESUMING_BREAK.search(text, resume_from, end)) is not None:
        steps.append(_step(scan, step, resuming.end(), opener))
        step, opener = resuming.end(), None
    steps.append(_step(scan, step, end, opener))
    return steps


def _marked_paragraphs(markers: list[int], edges: list[int]) -> Iterator[tuple[int, int, int]]:
    """The paragraphs (`edges`: their starts, then the text's end) that hold one of the sorted `markers`,
    in order, as (paragraph index, its first marker's index, the index after its last): two
    bisections per such paragraph, whatever its number of markers."""
    i = 0
    while i < len(markers):
        k = bisect.bisect_right(edges, markers[i]) - 1
        j = bisect.bisect_left(markers, edges[k + 1], i)
        yield k, i, j
        i = j


def _marked_steps(reasoning: str) -> tuple[list[int], list[tuple[int, list[tuple[int, int, Mode | None]]]]]:
    """The paragraph edges of `reasoning` (starts, then its end), and for each paragraph that holds a
    marker string its index and steps; every other paragraph is one progressive step."""
    scan = MarkerScan(reasoning)
    edges = [*paragraph_starts(reasoning), len(reasoning)]
    return edges, [
        (k, _paragraph_steps(reasoning, scan, edges[k], edges[k + 1], i, j))
        for k, i, j in _marked_paragraphs(scan.starts, edges)
    ]


def segment(reasoning: str) -> list[Step]:
    """Group the sentences of `reasoning` into steps (see the module docstring for the rules)."""
    edges, marked = _marked_steps(reasoning)
    bounds: list[int] = []  # built in one pass: inserting into `edges` would move its tail every time
    done = 0  # the paragraphs before this index are in `bounds`
    for k, steps in marked:
        bounds += edges[done:k]
        bounds += [a for a, _, _ in steps]
        done = k + 1
    bounds += edges[done:]
    return [Step(reasoning[a:b], a, b) for a, b in itertools.pairwise(bounds)]


def rule_steps(reasoning: str) -> tuple[int, list[tuple[int, int, Mode]]]:
    """How many steps `segment` makes of `reasoning`, and the functional ones as (start, end, mode) by
    `RuleClassifier`, from one marker scan. Evaluation counts tokens per mode, so it never needs the
    progressive steps (most of a response) one by one, nor the steps' strings."""
    edges, marked = _marked_steps(reasoning)
    n_steps = len(edges) - 1
    functional: list[tuple[int, int, Mode]] = []
    for _, steps in marked:
        n_steps += len(steps) - 1
        for step in steps:
            if step[2] is not None:
                functional.append(step)  # type: ignore[arg-type]  # step[2] is not None
    return n_steps, functional
