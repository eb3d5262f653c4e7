"""The cue lexicon of the rule segmenter: which sentences open, continue or close a functional episode.

A reasoning model announces what it is doing in a sentence's first words ("Wait, let me double-check",
"Alternatively, ...", "Wait, no, ..."), so the rules read sentence openings. A cue is only a hint
(the gold set's annotation guide follows the paper: markers are hints, not proof): the same "Wait"
opens a check, a correction or a step forward, so `opener_mode` weighs the opening sentence, the one
after it and what the chain has obtained so far. Every cue is a general pattern of how reasoning models
write, never a phrase taken from one chain: the gold set measures the rules, other chains test them.

Cues match lower-cased text (`fold`). Each cue is a few regular-expression branches, each with the
literal *anchors* one of which every match of the branch contains: one Aho-Corasick pass over a text
finds all anchors, and a branch runs only on sentences that hold one of its anchors. Most sentences
hold none, so a chain costs one automaton pass plus a few short regex searches (tests check that every
match holds an anchor, so the shortcut never changes a result).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick_rs

from limopro_plugins.text import Mode

_LEAD = (
    r"(?:(?:but|and|so|hmm+|oh|ok(?:ay)?|well|yeah|also|however|now|actually|wait|hold on|hang on|no)\b[,:.!;]?\s*)*"
)
"""Discourse particles that may stand before a cue at a sentence's start ("But wait, ...")."""

_INTENT = (
    r"(?:let(?:'s| me| us)|to|i(?:'ll| will| want to| should| need to| can| could|'d like to)"
    r"|we(?:'ll| will| should| need to| can| could)|need to|should|must)\s+"
    r"(?:just |quickly |also |now |first |again |carefully |briefly )?"
)
"""An announced intention ("let me", "I should", "to"): a check verb after it is a check being started."""


@dataclass(frozen=True, eq=False)
class Branch:
    """One regular expression of a cue and the literal strings one of which each of its matches holds."""

    cue: str
    anchors: tuple[str, ...]
    pattern: re.Pattern[str]


class Cue:
    """A named set of branches: the cue is present where any branch matches."""

    def __init__(self, name: str, branches: Iterable[tuple[str, str]]) -> None:
        self.name = name
        self.branches = tuple(
            Branch(name, tuple(anchors.split("|")), re.compile(pattern)) for anchors, pattern in branches
        )

    def __repr__(self) -> str:
        return f"Cue({self.name!r})"

    def found_in(self, folded: str) -> bool:
        """Whether the cue occurs in a folded text, its branches run only where one of their anchors is
        a substring (the automaton's test, without the automaton)."""
        return any(
            branch.pattern.search(folded) for branch in self.branches if any(a in folded for a in branch.anchors)
        )

    def search(self, sentence: Sentence) -> bool:
        """Whether the cue occurs in the sentence (only the branches with an anchor there are run)."""
        branches = sentence.branches.get(self.name)
        if branches:
            text = sentence.text
            for branch in branches:
                if branch.pattern.search(text):
                    return True
        return False


@dataclass(frozen=True)
class Sentence:
    """A sentence's lower-cased text (`fold`) and, per cue, the branches whose anchors it holds."""

    text: str
    branches: dict[str, list[Branch]]


ERROR = Cue(
    "error",
    [
        (
            "t no|t, no|t. no|t! no|n no|n, no|n. no|n! no|m no|m, no|m. no|m! no|h no|h, no|h. no|h! no",
            r"\b(?:wait|hold on|hmm+|oh)[,.!]? no\b",
        ),
        ("no,|no.|no!", r"^\W*no[,.!]\s+(?:wait|that|this|it|i|actually)\b"),
        ("no wait|no, wait", r"\bno,? wait\b"),
        ("oops", r"\b(?:wh)?oops\b"),
        (
            "wrong|incorrect|mistake|error",
            r"\b(?:that|this|it|which)(?:'s| is| was)(?: not)? (?:quite )?(?:wrong|incorrect|a mistake|an error)\b",
        ),
        ("not right|not correct|not true", r"\b(?:that|this|it)(?:'s| is| was) not (?:right|correct|true)\b"),
        (
            "be right|be correct|be true|seem right|make sense|add up",
            r"\bthat (?:can(?:'t|not)|doesn't|does not|couldn't) (?:be right|be correct|be true|seem right|make sense|add up)\b",
        ),
        (
            "mistake|error|slip",
            r"\bi (?:think i |must have |might have |may have )?(?:made|make|have made) (?:a |an )?(?:\w+ )?(?:mistake|error|slip)",
        ),
        ("mistake|error|my bad", r"\bmy (?:mistake|error|bad)\b"),
        (
            "mis|messed up|wrong|forgot|overlooked",
            r"\bi (?:think i |must have |might have )?(?:mis(?:read|calculated|counted|computed|applied|understood|interpreted"
            r"|placed|wrote)|messed up|got (?:it|that|this) wrong|was wrong|forgot|overlooked)\b",
        ),
        ("incorrect|mistake|wrong", r"\b(?:i|we) (?:incorrectly|mistakenly|wrongly)\b"),
        (
            "incorrect|mistake|wrong",
            r"\b(?:incorrectly|mistakenly|wrongly) (?:\w+ )?(?:computed|calculated|assumed|counted|expanded|wrote|added|applied"
            r"|simplified|stated)\b",
        ),
        (
            "conflict|contradict|inconsistent|disagree|t match",
            r"\b(?:conflict(?:s|ing)?|contradict(?:s|ing)?|inconsistent|disagree(?:s|ing)?|doesn't match|does not match)\b"
            r"[^.?!\n]{0,30}\b(?:previous|earlier|first|original|prior|above|before|initial)\b",
        ),
        (
            "wrong|flawed|incorrect|invalid|mistaken| off",
            r"\b(?:my|the|this|that|our) (?:whole |entire |previous |earlier |initial |first |original )?(?:approach|reasoning"
            r"|assumption|calculation|computation|answer|method|logic|count|result|expansion|simplification) (?:is|was|must be"
            r"|seems|might be) (?:wrong|flawed|incorrect|invalid|mistaken|off)\b",
        ),
        ("let me correct|let me fix", r"\blet me (?:correct|fix) (?:that|this|it|the|my)\b"),
        (", not", r"\bshould (?:be|have been) [^.?!\n]{1,40}, not\b"),
        (", not", r"\b(?:is|are|be|equals?|gives?) [^.?!\n]{1,25}, not [-\d\\$(]"),
        ("wrong", r"\b(?:where|what) did i go wrong\b"),
        ("mistake|error", r"\bthat's the (?:mistake|error)\b|\bthe (?:mistake|error) (?:is|was)\b"),
    ],
)
"""Recognising that something earlier was wrong: "Wait, no", "that's not right", "I miscalculated", "my
approach is wrong", "it is 31, not 30", a result that conflicts with an earlier one. A contradiction
with an assumption (case elimination) is not here: it moves forward."""

MULTI = Cue(
    "multi_method",
    [
        ("alternatively", r"^\W*" + _LEAD + r"alternatively\b"),
        ("another", r"\banother (?:way|method|approach|route)\b"),
        (
            "different|second|alternative|other|independent",
            r"\b(?:different|second|alternative|other|independent) (?:method|approach|way|route|derivation)\b",
        ),
        ("also", r"\bwe (?:can|could) also (?:approach|solve|compute|derive|think|use|calculate|find|get|see this)\b"),
        (
            "another way|different way",
            r"\b(?:solve|compute|derive|do|approach|calculate|find|check|verify|confirm) (?:it|this|that) (?:another|a different) way\b",
        ),
    ],
)
"""Reaching a result again by another route: "Alternatively, ...", "another way", "a different method"."""

NEW_VALUE = Cue(
    "new_value",
    [
        (
            "alternatively",
            r"^\W*(?:but\s+)?alternatively,?\s+(?:if\s+)?(?:maybe\s+|perhaps\s+)?(?:let\s+)?\$?\\?\(?[a-z]\s*=",
        ),
        (
            "alternatively",
            r"^\W*alternatively,?\s+(?:maybe|perhaps)\s+(?:the problem|they|it)\s+(?:means?|wants?|is asking|intends?)",
        ),
    ],
)
""""Alternatively, x = 2" tries another value, "Alternatively, maybe the problem means ..." another
reading: both move forward."""

VERIFY = Cue(
    "verification",
    [
        (
            "double|verif|confirm|make sure|be sure|ensure|recheck|re-check|reexamine|re-examine|recalculate|re-calculate"
            "|recompute|re-compute|reverify|re-verify|reevaluate|re-evaluate|sanity|cross|thorough|careful",
            _INTENT + r"(?:double[- ]?check|verify|confirm|make sure|be sure|ensure|re-?check|re-?examine|re-?calculate"
            r"|re-?compute|re-?verify|re-?evaluate|sanity[- ]check|cross[- ]check|be thorough|be careful)\b",
        ),
        (
            "check|test|try|plug|substitut",
            _INTENT
            + r"(?:check|test|try|plug|substitute)\w* (?:(?:[a-z]+ ){0,2}(?:again|back)\b|(?:my|our|this|that|it|these"
            r"|those|the (?:answer|result|solution|calculation|computation|arithmetic|work|steps?|formula|reasoning|values?"
            r"|sum|product|total|count|expansion|factorization|simplification|algebra|derivative|integral))\b"
            r"(?! (?:can|could|is possible)))",
        ),
        ("check", r"\blet(?:'s| me| us) (?:just |quickly )?(?:double[- ]?)?check\s*:"),
        (
            "k if|k whether|ks if|ks whether|ked if|ked whether|king if|king whether|t if|t whether|ts if|ts whether"
            "|ted if|ted whether|ting if|ting whether|see if|see whether|sees if|sees whether|seeing if|seeing whether",
            _INTENT
            + r"(?:check|test|see)(?:s|ed|ing)? (?:if|whether) (?:that|this|it|my|our|the (?:answer|result|formula|value)s?)"
            r" (?:is|was|works|holds|makes sense|checks|satisf|gives|equals|matches|agrees|fits|really|indeed|correct|right)",
        ),
        ("check", r"\blet(?:'s| me| us) (?:just )?check\s*[.:!]?\s*$"),
        ("double|sanity", r"\bdouble[- ]?check|\bsanity[- ]check"),
        ("just to", r"\bjust to (?:be sure|be safe|make sure|confirm|verify|check|be thorough)"),
        (
            "back",
            r"\b(?:plug(?:ging)?|substitut(?:e|ing)|put(?:ting)?) (?:\S+ ){0,4}back (?:in(?:to)? )?(?:the |our )?original\b",
        ),
        (
            "again|reconsider|miss",
            r"\bthink (?:about it |this |it )?(?:again|through again)\b|\breconsider\b|\bmaybe i missed\b|\bdid i miss\b",
        ),
        ("right|correct", r"\bis (?:this|that|it) (?:right|correct)"),
        (
            "l case|l example|l number|l value|r case|r example|r number|r value|e case|e example|e number|e value",
            r"\b(?:small(?:er)?|simple(?:r)?) (?:case|example|number|value)s?\b",
        ),
        ("check|verif", r"^\W*" + _LEAD + r"(?:check(?:ing)?|verif(?:y|ying|ication))\s*[:,]"),
    ],
)
"""Starting to re-check something already obtained: "let me double-check", "let me verify that",
"plugging back into the original", "test a smaller case", "is that right". "Let's check if 49 is
divisible by 3" is forward work and does not match: a bare check needs something to refer back to."""

DOUBT = Cue(
    "doubt",
    [
        ("wait|hold on|hang on", r"^\W*(?:(?:but|and|hmm+|oh|so|okay|well)[,.]?\s+)*(?:wait|hold on|hang on)\b"),
    ],
)
"""A sentence opening with a doubt word ("Wait", "But hold on"): a check only if more follows."""

DOUBTING = Cue(
    "doubting",
    [
        (
            "wait|hold on|hang on",
            r"^\W*(?:but[,]?\s+(?:wait|hold on|hang on)"
            r"|(?:wait|hold on|hang on)[,:.!]?\s+(?:but|is|are|was|could|did|does|what|how|why|actually|no\b))",
        ),
    ],
)
""""But wait", "Wait, is ...", "Hold on, what about ...": a doubt that questions what came before."""

CHALLENGE = Cue(
    "challenge",
    [
        (
            "?",
            r"^\W*(?:but|however|hmm+|wait|hold on|so)[,:]?\s*(?:wait[,:]?\s*)?(?:but\s+)?(?:is|are|could|can|does|do|did"
            r"|would|should|what about|how about|was|were|will|isn't|aren't|might)\b[^\n]*\?\s*$",
        ),
    ],
)
""""But is it the smallest?", "So could there be a smaller one?": a question that challenges a result."""

FORWARD = Cue(
    "forward",
    [
        (
            "wait|hold on|hang on",
            r"^\W*(?:(?:but|and|hmm+|oh|so|okay|well)[,.]?\s+)*(?:wait|hold on|hang on)[,.:!]?\s+(?:so |now |then |first |next )?"
            r"(?:let(?:'s| me| us) (?:now )?(?:consider|look|try|think about (?:the|what|how|this|whether)|see|compute|calculate"
            r"|find|write|denote|set|define|start|move|go|proceed|list|count|figure)|we (?:need|have|can|want|should|must|get)"
            r"|i (?:need|have|can|want|should)|the (?:problem|question) (?:says|asks|states))",
        ),
    ],
)
""""Wait, let's consider the case n = 3": a doubt word followed by a step forward."""

VERDICT = Cue(
    "verdict",
    [
        (
            "check|correct|right|consistent|valid|fine|good|solid|accurate|confirm|same|match|work|hold|sense|yep|yes"
            "|perfect|great|indeed|agree|expected|before|found|computed",
            r"\b(?:checks? out|checked out|(?:is|are|seems?|looks?|was) (?:all )?(?:correct|right|consistent|valid|fine|good"
            r"|solid|accurate|confirmed)|that's (?:correct|right|consistent|good)|correct(?: again)?[.!]|consistent(?: again)?[.!]"
            r"|confirms?|confirmed|same (?:result|answer|value)|matches|(?:it|that|this|which) works|works[.!]|holds[.!]"
            r"|makes sense|yep|yes[,.!]|perfect[.!,]|great[.!,]|good[.!,]|indeed|agrees?|as (?:expected|before|found|we found"
            r"|computed))",
        ),
    ],
)
"""The conclusion of a check: "that checks out", "correct", "yes", "so indeed ..."."""

CONFIRM = Cue(
    "confirm",
    [
        (
            "same|confirm|consistent|match|agree|before|expected|found|got|had|check|indeed|again",
            r"\b(?:same (?:result|answer|value|thing|conclusion)|confirms?|confirmed|consistent|matches|agrees?|as (?:before"
            r"|expected|we (?:found|got|had)|i (?:found|got|had)|found (?:earlier|before))|checks? out|indeed|again\b)",
        ),
    ],
)
"""The conclusion of a second method: the same result reached again."""

RESULT = Cue(
    "result",
    [
        (
            "so|thus|therefore|hence|that means|which gives|which means|we get|we have|we find|we obtain|i get|i got|i have"
            "|i find|this gives|that gives|answer is|result is",
            r"(?:^|[,;:]\s*)\W*(?:so|thus|therefore|hence|that means|which (?:gives|means)|we (?:get|have|find|obtain)"
            r"|i (?:get|got|have|find)|this gives|that gives|the (?:answer|result) is)\b[^\n?]*(?:=|\bis\b|\bare\b|\bequals?\b"
            r"|\bgives?\b|\bget\b|\bbe\b)[^\n?]*[\d√]",
        ),
        ("=", r"\d\s*[-+*/×·^]\s*\d[^=\n]*=\s*-?\d"),
    ],
)
"""A derived value ("So x = 3", "we get 12", "2 + 3 = 5"): before one, there is nothing to check. Only
the first one matters, so it is looked for sentence by sentence from the start (`found_in`), not through
the automaton, whose pass over the whole text its frequent anchors ("so", "=") would slow down."""

_PLANS = (
    "need",
    "want",
    "have to",
    "should",
    "must",
    "will",
    "are looking",
    "look for",
    "can now",
    "move",
    "turn",
    "proceed",
    "go back to",
)

CONCLUDE = Cue(
    "conclude",
    [
        (
            "therefore|thus|hence|consequently|conclusion|summary|summarize|recap|conclude|sum up|overall|finally|putting"
            "|answer|back to",
            r"^\W*(?:therefore|thus|hence|consequently|in (?:conclusion|summary)|to (?:summarize|recap|conclude|sum up)"
            r"|just to recap|so,? to recap|so,? (?:in )?(?:summary|conclusion|overall|finally)|overall|finally"
            r"|putting (?:it|this|everything) (?:all )?together|the (?:final )?answer is|so,? the (?:final )?answer"
            r"|(?:going )?back to (?:the|our) (?:original|main))\b",
        ),
    ],
)
"""A sentence that draws the conclusion and so resumes forward reasoning."""

GO_ON = Cue(
    "go_on",
    [
        (
            "|".join(f"{who} {does}" for who in ("we", "i", "let's", "let me", "let us") for does in _PLANS),
            r"^\W*(?:so|then|now|next|okay|alright),? (?:now )?(?:we|i|let(?:'s| me| us)) (?:need|want|have to|should|must"
            r"|will|are looking|look for|can now|move|turn|proceed|go back to (?:the|our) (?:problem|question))",
        ),
    ],
)
""""So we need to find ...": forward planning, which ends a check even inside a paragraph."""

MOVE_ON = re.compile(
    r"\W*(?:now,? (?:let|we|i|the|to|for|moving|that|since|with|using|back)|next(?:,| (?:we|i|let|step)\b)|moving on|okay,? (?:so )?now|let's move)\b"
)
"""A paragraph that moves on to the next part ("Now, let's ...", "Next, ..."): it ends a check (matched
at a paragraph's start)."""

SO = re.compile(r"\W*(?:so|therefore|thus|hence|then|now)\b")
"""After a correction, a paragraph opening with a consequence resumes on the corrected basis."""

CUES = (ERROR, MULTI, NEW_VALUE, VERIFY, DOUBT, DOUBTING, CHALLENGE, FORWARD, VERDICT, CONFIRM, CONCLUDE, GO_ON)
"""The cues found through the automaton's anchors (RESULT is looked for by `Cue.found_in`)."""
OPENING_CUES = (ERROR, MULTI, VERIFY, DOUBT, CHALLENGE)
"""A sentence can open an episode only when it holds an anchor of one of these (DOUBTING, FORWARD and
NEW_VALUE are consulted only after one of them matched)."""

_FOLD_FIRST = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


def fold(text: str) -> str:
    """`text` lower-cased with its length kept (the capital dotted I would otherwise become two
    characters and shift every offset after it)."""
    if not text.isascii() and ("\u0130" in text or "\u0131" in text or "\u017f" in text):
        text = text.translate(_FOLD_FIRST)
    return text.lower()


@functools.cache
def _automaton() -> tuple[ahocorasick_rs.BytesAhoCorasick, list[str]]:
    """All anchors in one automaton over UTF-8 bytes (reporting byte offsets is cheap; character offsets
    in non-ASCII text are not)."""
    anchors = sorted({anchor for cue in CUES for branch in cue.branches for anchor in branch.anchors})
    automaton = ahocorasick_rs.BytesAhoCorasick(
        [anchor.encode() for anchor in anchors], implementation=ahocorasick_rs.Implementation.DFA
    )
    return automaton, anchors


def anchors_by_sentence(folded: str, starts: Sequence[int]) -> dict[int, frozenset[str]]:
    """The anchors each sentence of a folded text holds (`starts`: the sentences' character offsets,
    then the text's end), for the sentences that hold any."""
    automaton, anchors = _automaton()
    data = folded.encode("utf-8", "surrogatepass")  # a lone surrogate (not valid text) holds no anchor
    byte_starts = starts
    if len(data) != len(folded):
        byte_starts = [0]
        for start, end in zip(starts, starts[1:]):
            byte_starts.append(byte_starts[-1] + len(folded[start:end].encode("utf-8", "surrogatepass")))
    found: dict[int, set[str]] = {}
    for index, start, _ in automaton.find_matches_as_indexes(data, overlapping=True):
        found.setdefault(bisect.bisect_right(byte_starts, start) - 1, set()).add(anchors[index])
    return {i: frozenset(held) for i, held in found.items()}


@functools.cache
def _branches_of() -> dict[str, tuple[tuple[int, Branch], ...]]:
    """The branches each anchor belongs to, with each branch's place in CUES order."""
    found: dict[str, list[tuple[int, Branch]]] = {}
    order = 0
    for cue in CUES:
        for branch in cue.branches:
            for anchor in branch.anchors:
                found.setdefault(anchor, []).append((order, branch))
            order += 1
    return {anchor: tuple(branches) for anchor, branches in found.items()}


_NONE: dict[str, list[Branch]] = {}


@functools.lru_cache(maxsize=4096)
def candidates(anchors: frozenset[str]) -> dict[str, list[Branch]]:
    """Per cue, the branches that hold one of `anchors` (each once, in the cue's order). The same few
    anchor sets recur in every chain, so answers are cached; callers must not change them."""
    by_anchor = _branches_of()
    chosen = sorted({pair for anchor in anchors for pair in by_anchor[anchor]}, key=lambda pair: pair[0])
    if not chosen:
        return _NONE
    found: dict[str, list[Branch]] = {}
    for _, branch in chosen:
        found.setdefault(branch.cue, []).append(branch)
    return found


NO_SENTENCE = Sentence("", _NONE)


ALL_ANCHORS = frozenset(anchor for cue in CUES for branch in cue.branches for anchor in branch.anchors)
OPENING_ANCHORS = frozenset(anchor for cue in OPENING_CUES for branch in cue.branches for anchor in branch.anchors)
"""A sentence without any of these anchors opens no episode (`opener_mode` is None for it)."""


def opener_mode(first: Sentence, second: Sentence, *, result_seen: bool, answer_seen: bool) -> Mode | None:
    """The mode of an episode that would open with sentence `first` (`second`: the sentence after it in
    its paragraph, or NO_SENTENCE), or None where `first` does not open one.

    A correction can open anywhere after the first sentence (the caller's part). `result_seen`: a value
    was derived before `first`, so there is something to check.
    `answer_seen`: the chain's answer was obtained before it: a second method needs a result to
    confirm; before one, "Alternatively" is a new attempt."""
    if ERROR.search(first):
        return Mode.ERROR_CORRECTION
    if not result_seen:
        return None
    if MULTI.search(first):
        return Mode.MULTI_METHOD if answer_seen and not NEW_VALUE.search(first) else None
    if VERIFY.search(first) or CHALLENGE.search(first) or DOUBTING.search(first):
        if answer_seen and MULTI.search(second):
            return Mode.MULTI_METHOD
        if ERROR.search(second):
            return Mode.ERROR_CORRECTION
        if FORWARD.search(first) and not VERIFY.search(first):
            return None
        return Mode.VERIFICATION
    if DOUBT.search(first):  # a bare "Wait, ..." opens an episode when the next sentence says which
        if ERROR.search(second):
            return Mode.ERROR_CORRECTION
        if answer_seen and MULTI.search(second):
            return Mode.MULTI_METHOD
        if VERIFY.search(second) or first.text.rstrip().endswith("?"):
            return Mode.VERIFICATION
    return None
