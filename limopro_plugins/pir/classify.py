"""Classify reasoning steps into the paper's four modes: progressive reasoning and three functional ones.

The paper assigns a mode by rule markers first and asks an LLM for the rest; this module is the rule
half. A step's mode is decided by the markers in its *opening* (its first sentence, at most
`OPENING_CHARS` characters): functional steps announce themselves ("Wait, let me check ...",
"Alternatively, ..."), whereas a marker word deep inside a progressive step ("... which we verify
below") says little. When several kinds of marker open a step, error correction wins over multi-method
validation, which wins over verification: "Wait, this is wrong" corrects an error, and "We can also
verify it by another method" validates by a second method.

`Classifier` is the swappable interface; `RuleClassifier` is the default implementation.

The marker regular expressions below define the rules (`marker_mode`). Evaluation computes them for
every sentence of thousands of responses, so `MarkerScan` finds the same matches for a whole text in one
pass: every marker is a finite set of strings, and one Aho-Corasick search over the case-folded text
finds all their occurrences.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from operator import itemgetter
from typing import Protocol

import ahocorasick_rs

from limopro_plugins.text import Mode

OPENING_CHARS = 160
"""How much of a step's start is searched for markers."""

_MARKERS: dict[Mode, tuple[str, ...]] = {
    Mode.ERROR_CORRECTION: (
        r"(?:this|that|it|which) (?:is|was|seems|must be) (?:wrong|incorrect|not right|a mistake)",
        r"(?:the|my) (?:mistake|error) (?:was|is|here)",
        r"i (?:made|have made) (?:a |an )?(?:mistake|error)",
        r"i (?:made|have made) an? (?:arithmetic|sign|calculation|computational) (?:mistake|error)",
        r"(?:that|this|it)(?:'s| is) impossible",
        r"(?:this|that|which) contradicts",
        r"i (?:mis(?:read|calculated|counted|computed)|messed up)",
        r"correction:",
        r"(?:oops|whoops)",
        r"that can(?:'t|not) be right",
    ),
    Mode.MULTI_METHOD: (
        r"alternatively",
        r"another (?:way|method|approach)",
        r"(?:let(?:'s| us| me)|i(?:'ll| will)) (?:try|use|take|consider) (?:a |an )?(?:different|another|second|alternative) (?:approach|method|way)",  # noqa: E501
        r"using (?:another|a different|an alternative) (?:method|approach)",
        r"we can also (?:verify|check|confirm|solve|compute|see)",
        r"(?:a|as a) (?:different|second|alternative) (?:approach|method)",
        r"(?:let me|let's|we can) (?:also )?(?:solve|compute|derive) (?:it|this) (?:another|a different) way",
    ),
    Mode.VERIFICATION: (
        r"wait",
        r"let me (?:just )?(?:check|verify|confirm|make sure|double[- ]check|re-?check|re-?examine|recheck)",
        r"let's (?:check|verify|confirm|double[- ]check|make sure)",
        r"double[- ]check",
        r"(?:to|just to) (?:check|verify|confirm|be sure|make sure)",
        r"going back to",
        r"(?:checking|verifying|verification)[:,]",
        r"hold on",
        r"let me (?:go back|re-?read|reconsider|think again)",
        r"is (?:this|that) (?:right|correct)\?",
        r"sanity check",
    ),
}

_COMPILED: dict[Mode, re.Pattern[str]] = {
    mode: re.compile(r"(?<![a-z])(?:" + "|".join(patterns) + r")(?![a-z])", re.IGNORECASE)
    for mode, patterns in _MARKERS.items()
}
_ANY_MARKER = re.compile(
    r"(?<![a-z])(?:" + "|".join(p for patterns in _MARKERS.values() for p in patterns) + r")(?![a-z])",
    re.IGNORECASE,
)
"""One search that rejects the (many) openings without any marker before the per-mode searches."""
_SENTENCE_END = re.compile(r"[.!?\n](?:(?<=\n)|(?=\s))")
"""An opening ends after . ! ? before whitespace, or at a line break. Opening with one character set lets
the regex engine skip ahead to those characters (twice as fast as the alternation of the two cases)."""
_LEADING_SPACE = re.compile(r"\s*")
_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone UTF-16 surrogate: not valid text (a JSON escape can still produce one)."""


def opening(text: str) -> str:
    """The part of a step searched for markers: its first sentence, capped at OPENING_CHARS."""
    start, end = _opening_bounds(text, 0, len(text))
    return text[start:end]


def _opening_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Where `opening(text[start:end])` lies in `text`, found without copying the step: after its
    leading whitespace (`\\s` is `str.isspace`), up to the first sentence end or OPENING_CHARS."""
    head_start = _LEADING_SPACE.match(text, start, end).end()  # type: ignore[union-attr]  # \s* always matches
    head_end = min(head_start + OPENING_CHARS, end)
    cut = _SENTENCE_END.search(text, head_start + 1, head_end)
    return head_start, cut.end() if cut else head_end


_PRECEDENCE = (Mode.ERROR_CORRECTION, Mode.MULTI_METHOD, Mode.VERIFICATION)
"""Which mode wins when markers of several kinds open a step."""
_NO_MODE = len(_PRECEDENCE)
_RANKED = (*_PRECEDENCE, None)
"""The mode of each rank, and None for `_NO_MODE`."""


def marker_mode(text: str) -> Mode | None:
    """The functional mode announced by a marker in the step's opening, or None if there is none."""
    head = opening(text)
    if not _ANY_MARKER.search(head):
        return None
    for mode in _PRECEDENCE:
        if _COMPILED[mode].search(head):
            return mode
    return None


# --------------------------------------------------------------------------- one-pass marker search


def _sequence(pattern: str, i: int) -> tuple[list[str], int]:
    """The strings matched by `pattern` from i up to the next top-level `|` or `)`, and where it stopped."""
    found = [""]
    while i < len(pattern) and pattern[i] not in "|)":
        if pattern.startswith("(?:", i):
            options, i = _group(pattern, i + 3)
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            options, i = list(pattern[i + 1 : end]), end + 1
            if "-" in options[1:-1] or "^" in options[:1] or "\\" in options:
                raise ValueError(f"marker {pattern!r}: only sets of plain characters are supported")
        elif pattern[i] == "\\" and not pattern[i + 1].isalnum():
            options, i = [pattern[i + 1]], i + 2
        elif pattern[i] in "\\()[]{}.*+?^$":
            raise ValueError(f"marker {pattern!r}: unsupported syntax at {i}")
        else:
            options, i = [pattern[i]], i + 1
        if pattern.startswith("?", i):
            options, i = ["", *options], i + 1
        found = [head + tail for head in found for tail in options]
    return found, i


def _group(pattern: str, i: int) -> tuple[list[str], int]:
    """The strings matched by the alternatives from i to the closing `)`, and the index after it."""
    found: list[str] = []
    while True:
        options, i = _sequence(pattern, i)
        found += options
        if i >= len(pattern):
            raise ValueError(f"marker {pattern!r}: unbalanced parentheses")
        i += 1
        if pattern[i - 1] == ")":
            return found, i


def expand(pattern: str) -> list[str]:
    """Every string a marker pattern matches. Markers are finite languages (characters, escaped
    punctuation, sets of characters, `(?:a|b)` groups, `?`); other syntax raises ValueError, so a new
    marker cannot silently escape `MarkerScan`."""
    found, end = _group(pattern + ")", 0)
    if end != len(pattern) + 1:
        raise ValueError(f"marker {pattern!r}: unbalanced parentheses")
    return found


_FOLD_FIRST = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})
"""The characters besides A-Z and the Kelvin sign that re.IGNORECASE matches with an ASCII letter
(capital dotted I, dotless i, long s), mapped before lower-casing; the capital dotted I would otherwise
lower-case to two characters and shift every offset after it."""


def fold(text: str) -> str:
    """`text` with every character that re.IGNORECASE matches with a character of the markers (a-z,
    space, ' - : ?) written as that character, and the same length: a marker occurs case-insensitively
    at an offset of `text` exactly when it occurs literally at that offset of `fold(text)`."""
    if not text.isascii() and any(char in text for char in "\u0130\u0131\u017f"):
        text = text.translate(_FOLD_FIRST)
    return text.lower()


@functools.cache
def _automata() -> tuple[ahocorasick_rs.AhoCorasick, ahocorasick_rs.BytesAhoCorasick, list[int]]:
    """All marker strings in one automaton (built on first use: about a thousand strings), over `str`
    and over ASCII bytes, and the rank in `_PRECEDENCE` of the mode of each (the best rank where one
    string is a marker of two modes)."""
    rank: dict[str, int] = {}
    for position, mode in enumerate(_PRECEDENCE):
        for pattern in _MARKERS[mode]:
            for string in expand(pattern):
                rank.setdefault(string, position)
    strings = list(rank)
    for string in strings:  # what MarkerScan.mode and segment rely on
        if any(char in string for char in ".!\n") or "?" in string[:-1]:
            raise ValueError(f"marker string {string!r}: only its last character may end a sentence (?)")
        if not "a" <= string[0] <= "z":
            raise ValueError(f"marker string {string!r}: it must start with a letter (a-z)")
    dfa = ahocorasick_rs.Implementation.DFA
    return (
        ahocorasick_rs.AhoCorasick(strings, implementation=dfa),
        ahocorasick_rs.BytesAhoCorasick([s.encode() for s in strings], implementation=dfa),
        [rank[string] for string in strings],
    )


class MarkerScan:
    """All marker occurrences in one text, found in a single pass, answering `marker_mode` for any span.

    `mode(start, end)` equals `marker_mode(text[start:end])`: a marker regex matches in an opening exactly
    when one of its strings occurs (case-folded) inside the opening with no letter right before or after
    it within the opening (the regexes' `(?<![a-z])` and `(?![a-z])`)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._folded = fold(text)
        on_text, on_bytes, rank = _automata()
        # ASCII text: search its bytes, whose offsets are its character offsets (a third faster)
        if self._folded.isascii():
            found = on_bytes.find_matches_as_indexes(self._folded.encode(), overlapping=True)
        else:
            try:
                found = on_text.find_matches_as_indexes(self._folded, overlapping=True)
            except UnicodeEncodeError:  # a lone surrogate, which the automaton cannot take, matches no marker
                found = on_text.find_matches_as_indexes(_SURROGATE.sub("\ufffd", self._folded), overlapping=True)
        found.sort(key=itemgetter(1))
        self.starts = [start for _, start, _ in found]
        """Where marker strings start, in order (with or without letters around them)."""
        self._found = found
        self._rank = rank

    def mode(self, start: int, end: int) -> Mode | None:
        """marker_mode(text[start:end]), from the occurrences found.

        Only markers that would beat the best found so far are checked. Where the opening ends is
        found (a regex search) only for a marker after its first character: a marker string holds no
        sentence end before its last character (see `_automata`), so one at the head lies inside the
        opening whenever it ends within OPENING_CHARS and the span."""
        starts = self.starts
        i = bisect.bisect_left(starts, start)
        if i == len(starts) or starts[i] >= end:  # no marker string in the span (or it is empty)
            return None
        text, folded, found, ranks = self.text, self._folded, self._found, self._rank
        head = start
        if text[start].isspace():
            head = _LEADING_SPACE.match(text, start, end).end()  # type: ignore[union-attr]  # \s* always matches
            i = bisect.bisect_left(starts, head, i)
        cap = head + OPENING_CHARS if head + OPENING_CHARS < end else end
        head_end = -1  # not searched yet
        best = _NO_MODE
        for k in range(i, len(found)):  # not islice, which would step over the i markers before
            index, m_start, m_end = found[k]
            if m_start >= cap:
                break
            rank = ranks[index]
            if rank >= best or m_end > cap:
                continue
            if m_start == head:
                limit = cap
            else:
                if head_end < 0:
                    cut = _SENTENCE_END.search(text, head + 1, cap)
                    head_end = cut.end() if cut else cap
                if m_end > head_end or "a" <= folded[m_start - 1] <= "z":
                    continue
                limit = head_end
            if m_end == limit or not "a" <= folded[m_end] <= "z":
                best = rank
        return _RANKED[best]


class Classifier(Protocol):
    """Anything that labels a chain's steps with modes (rule-based here; an LLM-based one can swap in)."""

    def classify(self, steps: Sequence[str]) -> list[Mode]: ...


class RuleClassifier:
    """Labels each step by its opening markers; unmarked steps are progressive."""

    def classify(self, steps: Sequence[str]) -> list[Mode]:
        return [marker_mode(step) or Mode.PROGRESSIVE for step in steps]


def rule_opinion(steps: Sequence[str]) -> list[Mode | None]:
    """The rules' functional mode of each step, None where they see forward reasoning: what decides a
    step in the paper's hybrid, and the hint an LLM labeller is given.

    Thin version computed from `RuleClassifier().classify` (decisive = functional), to be replaced by
    the context-aware rules' own."""
    return [mode if mode.functional else None for mode in RuleClassifier().classify(steps)]
