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
and every other paragraph is one step. `rule_steps` also gives each step's rule mode from the same scan.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

from limopro_plugins.classify import MarkerScan, Mode

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# A sentence ends after . ! ? (and closing quotes/brackets), before whitespace and a character that is
# not lower-case (so "e.g. the" and "3.5" stay whole); a line break always ends one.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]*]*[ \t]+(?=[^\sa-z])|\n\s*")
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


def _spans(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    """Split text[start:end] after every match of `pattern` (never empty) that does not start at
    `start`; separators stay with the left piece."""
    cuts = [start, *(m.end() for m in pattern.finditer(text, start, end) if m.start() > start)]
    if cuts[-1] < end:
        cuts.append(end)
    return list(itertools.pairwise(cuts))


def paragraphs(text: str) -> list[tuple[int, int]]:
    """[start, end) offsets of the blank-line separated paragraphs (separator kept with the left one)."""
    return _spans(text, _PARAGRAPH_BREAK, 0, len(text))


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """[start, end) offsets of the sentences of text[start:end]."""
    return _spans(text, _SENTENCE_BREAK, start, len(text) if end is None else end)


def _bounds(reasoning: str, scan: MarkerScan) -> list[int]:
    """The start offsets of the steps, then len(reasoning)."""
    spans = paragraphs(reasoning)
    marked = _holding(scan.starts, [start for start, _ in spans])
    bounds: list[int] = []
    for k, (p_start, p_end) in enumerate(spans):
        if k not in marked:  # no marker string: the paragraph is one step
            bounds.append(p_start)
            continue
        in_functional = False
        for i, (s_start, s_end) in enumerate(sentences(reasoning, p_start, p_end)):
            functional = scan.mode(s_start, s_end) is not None
            if i == 0 or functional or (in_functional and _RESUME.match(reasoning, s_start, s_end)):
                bounds.append(s_start)
                in_functional = functional
    bounds.append(len(reasoning))
    if bounds[0] != 0:  # leading whitespace-only text joins the first step
        bounds[0] = 0
    return [b for a, b in zip([-1, *bounds], bounds) if b > a]  # no empty steps


def _holding(offsets: list[int], starts: list[int]) -> set[int]:
    """Indices of the pieces (given by their sorted start offsets) that hold one of `offsets`."""
    return {bisect.bisect_right(starts, offset) - 1 for offset in offsets}


def segment(reasoning: str) -> list[Step]:
    """Group the sentences of `reasoning` into steps (see the module docstring for the rules)."""
    bounds = _bounds(reasoning, MarkerScan(reasoning))
    return [Step(reasoning[a:b], a, b) for a, b in itertools.pairwise(bounds)]


def rule_steps(reasoning: str) -> tuple[list[int], list[Mode]]:
    """The steps' start offsets (then len(reasoning)) and their modes: `segment` and `RuleClassifier`
    in one marker scan, without building the steps' strings (evaluation only counts tokens per mode)."""
    scan = MarkerScan(reasoning)
    bounds = _bounds(reasoning, scan)
    modes = [Mode.PROGRESSIVE] * (len(bounds) - 1)
    for i in _holding(scan.starts, bounds[:-1]):
        modes[i] = scan.mode(bounds[i], bounds[i + 1]) or Mode.PROGRESSIVE
    return bounds, modes
