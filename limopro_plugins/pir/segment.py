"""Cut a reasoning chain into steps with their modes, deterministically and losslessly.

The paper grouped sentences into coherent steps (typically 3-4 sentences) with an LLM and labelled them
with rule markers and an LLM. The rules here read a chain as a careful annotator does (`markers` holds
the cues; docs/pir.md gives their scores on a gold set of real chains):

- A functional step is a whole *episode*: it opens at a sentence whose cue says what follows (a check,
  a second method, a correction; `markers.opener_mode`) and runs across sentences and paragraphs to its
  conclusion. A check or a second method ends after its verdict ("that checks out", "same result"), at
  a paragraph that concludes or moves on ("Therefore ...", "Now, ..."), or, for a check, at forward
  planning ("So we need to ..."). A correction runs until reasoning resumes on the corrected basis (a
  paragraph opening with "So" or "Therefore"). A cue of another kind inside an episode starts a new one
  where the purpose changes: a correction always, a second method or a check after a verdict.
- Modes come from context: a check or a correction needs a derived value before it, and a second method
  needs the chain's answer (where known) obtained before it; before that, "Alternatively" is a new
  attempt and so progressive.
- Progressive text between episodes is grouped into steps of whole paragraphs holding three or more
  sentences; a long paragraph is cut every four sentences.

Every character belongs to exactly one step (whitespace goes with the text before it), so joining the
steps gives back the reasoning byte for byte.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from limopro_plugins.pir import markers
from limopro_plugins.text import PARAGRAPH_BREAK, Mode

SENTENCE_BREAK = re.compile(r"[.!?\n](?:(?<=[.!?])[\"')\]*]*[ \t]+(?=[^\sa-z])|(?<=\n)\s*)")
"""A sentence ends after . ! ? (and closing quotes or brackets) before whitespace and a character that is
not lower-case ("e.g. the" and "3.5" stay whole); a line break always ends one."""

OPENING_CHARS = 240
"""How much of a sentence is read for the cues that open an episode."""
SENTENCE_CHARS = 1000
"""How much of a sentence is read for the other cues (a verdict, a conclusion): a longer "sentence" is
degenerate output, and the cap keeps every regex search bounded, so a chain costs time linear in its
length."""
STEP_SENTENCES = 3
"""A progressive step closes at the end of the paragraph that brings it to this many sentences."""
LONG_PARAGRAPH = 6
CUT_SENTENCES = 4
"""A progressive paragraph of LONG_PARAGRAPH sentences or more is cut every CUT_SENTENCES sentences."""


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
    ends = [m.end() for m in PARAGRAPH_BREAK.finditer(text, leading.end() if leading else 0)]
    if ends and ends[-1] == len(text):
        ends.pop()
    return [0, *ends]


def sentence_bounds(text: str) -> tuple[list[int], list[int]]:
    """Where the sentences of `text` start (then its end), and each sentence's paragraph index. The
    sentences cover the text without gap: the whitespace after a sentence is part of it, a paragraph's
    last sentence holds the blank line after it, and a break right after another cuts nothing."""
    edges = paragraph_starts(text)
    if not edges:
        return [0], []
    starts, paragraphs = [0], [0]
    paragraph, cursor = 0, 0  # the paragraph at hand and its open sentence's start
    end = edges[1] if len(edges) > 1 else len(text)
    for cut in SENTENCE_BREAK.finditer(text):
        cut_start, cut_end = cut.span()
        while cut_start >= end:  # the cut lies in a later paragraph
            paragraph += 1
            cursor = edges[paragraph]
            starts.append(cursor)
            paragraphs.append(paragraph)
            end = edges[paragraph + 1] if paragraph + 1 < len(edges) else len(text)
        if cut_end < end and text[cursor:cut_start].strip():
            starts.append(cut_end)
            paragraphs.append(paragraph)
            cursor = cut_end
    for later in range(paragraph + 1, len(edges)):  # paragraphs after the last cut
        starts.append(edges[later])
        paragraphs.append(later)
    return [*starts, len(text)], paragraphs


def answer_position(reasoning: str, answer: str | None) -> int:
    """Where the chain's final answer first appears in its reasoning, written as in the answer or with
    \\sqrt{x} as √x or sqrt(x) and \\frac{a}{b} as a/b, spaces ignored; -1 when no answer is known (then
    any derived value counts as a result to confirm), past the end when the reasoning never states it."""
    plain = (answer or "").strip().strip("$").strip()
    if not plain:
        return -1
    forms = {plain}
    if "\\" in plain:  # LaTeX: also as the reasoning may write it in plain text
        forms |= {
            re.sub(r"\\sqrt\{([^{}]*)\}", r"√\1", plain),
            re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", plain),
            re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"\1/\2", plain),
        }
    first = len(reasoning) + 1
    for form in forms:
        found = _written(form.replace(" ", "")).search(reasoning)
        if found:
            first = min(first, found.start())
    return first


@functools.lru_cache(maxsize=1024)
def _written(form: str) -> re.Pattern[str]:
    """`form` with any spaces between its characters, not inside a longer word or number. It opens with
    its first character, not a look-behind, so that the search skips ahead to that character."""
    chars = list(map(re.escape, form))
    return re.compile(chars[0] + r"(?<![\w.].)" + "".join(r"\s*" + c for c in chars[1:]) + r"(?!\w)")


class _Chain:
    """A reasoning's sentences, its folded text and the cue anchors in each sentence."""

    def __init__(self, text: str, *, shortcut: bool = True) -> None:
        self.text = text
        self.folded = markers.fold(text)
        self.starts, self.paragraphs = sentence_bounds(text)
        paragraphs = self.paragraphs
        self.paragraph_firsts = [i for i in range(len(paragraphs)) if i == 0 or paragraphs[i - 1] != paragraphs[i]]
        self.anchors: dict[int, frozenset[str]]
        if shortcut:
            self.anchors = markers.anchors_by_sentence(self.folded, self.starts)
        else:  # every branch of every cue read on every sentence: what the shortcut must equal
            self.anchors = dict.fromkeys(range(len(paragraphs)), markers.ALL_ANCHORS)
        self._heads: dict[int, markers.Sentence] = {}

    def __len__(self) -> int:
        return len(self.paragraphs)

    def sentence(self, i: int) -> markers.Sentence:
        """Sentence i as the opening cues read it (its first OPENING_CHARS characters); NO_SENTENCE past
        the end or for a sentence without anchors (no cue can match it)."""
        anchors = self.anchors.get(i)
        if anchors is None:
            return markers.NO_SENTENCE
        head = self._heads.get(i)
        if head is None:
            head = markers.Sentence(self._folded(i, OPENING_CHARS), markers.candidates(anchors))
            self._heads[i] = head
        return head

    def whole(self, i: int) -> markers.Sentence:
        """Sentence i (its first SENTENCE_CHARS characters) as the cues that may match anywhere read it."""
        return markers.Sentence(self._folded(i, SENTENCE_CHARS), markers.candidates(self.anchors[i]))

    def first_result(self) -> int:
        """The first sentence holding a derived value (`markers.RESULT`), or the number of sentences."""
        for i in range(len(self)):
            if markers.RESULT.found_in(self._folded(i, SENTENCE_CHARS)):
                return i
        return len(self)

    def _folded(self, i: int, limit: int) -> str:
        """The first `limit` characters of sentence i, folded."""
        start, end = self.starts[i], self.starts[i + 1]
        return self.folded[start : end if end - start <= limit else start + limit]

    def paragraph_start(self, i: int) -> bool:
        return i == 0 or self.paragraphs[i - 1] != self.paragraphs[i]

    def starts_with(self, pattern: re.Pattern[str], i: int) -> bool:
        return pattern.match(self.folded, self.starts[i], self.starts[i + 1]) is not None

    def holds(self, cue: markers.Cue, i: int) -> bool:
        """Whether sentence i holds the cue anywhere (a sentence without any anchor is skipped at once)."""
        anchors = self.anchors.get(i)
        return anchors is not None and cue.name in markers.candidates(anchors) and cue.search(self.whole(i))

    def weight(self, i: int) -> int:
        """A sentence counts toward a step's length when it holds two words (not a lone `\\[` line)."""
        return 1 if len(self.text[self.starts[i] : self.starts[i + 1]].split(None, 2)) >= 2 else 0


def _concludes(chain: _Chain, i: int, mode: Mode) -> bool:
    """Whether the paragraph from sentence i holds the episode's own conclusion (its verdict), so that a
    "Therefore" opening it still belongs to the episode."""
    cue = markers.CONFIRM if mode is Mode.MULTI_METHOD else markers.VERDICT
    k = i
    while k < len(chain) and chain.paragraphs[k] == chain.paragraphs[i]:
        if chain.holds(cue, k):
            return True
        k += 1
    return False


def _closes(chain: _Chain, i: int, mode: Mode, opens: Mode | None, verdict: bool, first: int) -> bool:
    """Whether the open episode (`mode`, opened at sentence `first`, its verdict seen or not) ends before
    sentence i, which would open an episode of mode `opens` (or None)."""
    paragraph_start = chain.paragraph_start(i)
    if mode is Mode.ERROR_CORRECTION:
        if opens is Mode.ERROR_CORRECTION and verdict:
            return True
        return paragraph_start and (
            chain.holds(markers.CONCLUDE, i)
            or chain.starts_with(markers.SO, i)
            or chain.starts_with(markers.MOVE_ON, i)
        )
    if opens is not None and (verdict or (opens is not mode and opens is not Mode.VERIFICATION)):
        return True
    if paragraph_start or verdict:
        concludes = chain.holds(markers.CONCLUDE, i)  # read once for both tests below
        if paragraph_start:
            moves = concludes or (mode is Mode.VERIFICATION and chain.starts_with(markers.MOVE_ON, i))
            if moves and (verdict or not _concludes(chain, i, mode)):
                return True
        if verdict and (paragraph_start or concludes):
            return True
    return mode is Mode.VERIFICATION and i > first and chain.holds(markers.GO_ON, i)


def _opener(chain: _Chain, i: int, result_seen: bool, answer_seen: bool) -> Mode | None:
    """The mode of an episode opening at sentence i, or None."""
    if markers.OPENING_ANCHORS.isdisjoint(chain.anchors.get(i, ())):
        return None
    first = chain.sentence(i)
    same_paragraph = i + 1 < len(chain) and chain.paragraphs[i + 1] == chain.paragraphs[i]
    second = chain.sentence(i + 1) if same_paragraph else markers.NO_SENTENCE
    mode = markers.opener_mode(first, second, result_seen=result_seen, answer_seen=answer_seen)
    if (
        mode is None
        and result_seen
        and first.text.rstrip().endswith("?")
        and 0 < len(second.text) < 60
        and markers.VERIFY.search(second)
        and not markers.DOUBT.search(second)
    ):
        mode = Mode.VERIFICATION  # "Is 27 the smallest? Let me check." opens at the question
    return mode


def _episodes(chain: _Chain, answer_at: int) -> list[tuple[int, int, Mode]]:
    """The functional episodes as (first sentence, sentence after the last, mode).

    Only two kinds of sentence can change anything: those holding a cue anchor, and paragraph starts
    inside an episode (where one may close). Every other sentence is stepped over."""
    found: list[tuple[int, int, Mode]] = []
    first_result = chain.first_result()
    mode: Mode | None = None
    first, verdict = 0, False
    anchored = chain.anchors
    events = sorted({*anchored, *chain.paragraph_firsts})
    for i in events:
        if mode is None and i not in anchored:
            continue
        result_seen = first_result < i
        opens = None if i == 0 else _opener(chain, i, result_seen, answer_at < 0 or chain.starts[i] > answer_at)
        if mode is not None and _closes(chain, i, mode, opens, verdict, first):
            found.append((first, i, mode))
            mode = None
        if mode is None and opens is not None:
            mode, first, verdict = opens, i, False
        if mode is not None and i > first and not verdict:
            verdict = chain.holds(markers.CONFIRM if mode is Mode.MULTI_METHOD else markers.VERDICT, i)
    if mode is not None:
        found.append((first, len(chain), mode))
    return found


def _progressive_starts(chain: _Chain, start: int, end: int) -> list[int]:
    """Where the progressive steps of sentences [start, end) start: whole paragraphs until a step holds
    STEP_SENTENCES sentences; a paragraph of LONG_PARAGRAPH or more is cut every CUT_SENTENCES; a step of
    one sentence joins the paragraph after it, or at the end the step before it."""
    starts: list[int] = []
    weight = -1  # sentences in the open step; -1: none open
    i = start
    while i < end:
        j = i
        while j < end and chain.paragraphs[j] == chain.paragraphs[i]:
            j += 1
        sizes = [chain.weight(k) for k in range(i, j)]
        size = sum(sizes)
        if weight < 0 or weight >= STEP_SENTENCES or (size >= LONG_PARAGRAPH and weight >= 2):
            starts.append(i)
            weight = 0
        if size >= LONG_PARAGRAPH:
            left = size
            for k in range(i, j):
                if weight >= CUT_SENTENCES and left >= 2:
                    starts.append(k)
                    weight = 0
                weight += sizes[k - i]
                left -= sizes[k - i]
            weight = max(weight, STEP_SENTENCES)  # the paragraph's last piece closes with it
        else:
            weight += size
        i = j
    if len(starts) > 1 and sum(chain.weight(k) for k in range(starts[-1], end)) < 2:
        starts.pop()
    return starts


def structure(reasoning: str, answer: str | None = None, *, shortcut: bool = True) -> list[tuple[Step, Mode]]:
    """The steps of `reasoning` with their modes (see the module docstring). `answer`, the chain's final
    answer where known, tells where a second method has something to confirm. `shortcut=False` runs
    every cue on every sentence instead of only where its anchors are (the same result, slower: tests)."""
    if not reasoning:
        return []
    chain = _Chain(reasoning, shortcut=shortcut)
    bounds: list[tuple[int, Mode]] = []  # (first sentence, mode) of each step
    done = 0
    for first, after, mode in _episodes(chain, answer_position(reasoning, answer)):
        bounds += [(k, Mode.PROGRESSIVE) for k in _progressive_starts(chain, done, first)]
        bounds.append((first, mode))
        done = after
    bounds += [(k, Mode.PROGRESSIVE) for k in _progressive_starts(chain, done, len(chain))]
    offsets = [chain.starts[k] for k, _ in bounds] + [len(reasoning)]
    return [
        (Step(reasoning[offsets[n] : offsets[n + 1]], offsets[n], offsets[n + 1]), mode)
        for n, (_, mode) in enumerate(bounds)
    ]


def segment(reasoning: str, answer: str | None = None) -> list[Step]:
    """The steps of `reasoning` (see `structure`)."""
    return [step for step, _ in structure(reasoning, answer)]


def rule_steps(reasoning: str, answer: str | None = None) -> tuple[int, list[tuple[int, int, Mode]]]:
    """How many steps `structure` makes of `reasoning`, and the functional ones as (start, end, mode):
    what the evaluation's pattern metrics count."""
    steps = structure(reasoning, answer)
    return len(steps), [(step.start, step.end, mode) for step, mode in steps if mode.functional]
