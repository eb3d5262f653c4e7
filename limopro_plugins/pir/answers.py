"""The final answer of a response or solution: the last non-empty `\\boxed{}`, else an answer phrase.

Read the same way where PIR scores a chain's answer (`--answer boxed`) and where evaluation grades a
response (`limopro_plugins.eval.grading`). Responses are untrusted text, so the scans are linear and
phrases are searched only in a response's tail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

TAIL_CHARS = 4000
"""Answer phrases ("the answer is X", "Answer: C") are searched only in the response's last characters:
the final statement comes last, and earlier mentions are often intermediate or hypothetical."""

# --------------------------------------------------------------------------- boxes

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)  # escaped characters (\{, \}, \\) are not braces
_BOX_ARGUMENT = re.compile(r"\s*(?:(\{)|([^\s{}\\$]+))")  # a {...} group, or TeX's brace-less next token


def _braced(text: str, start: int) -> str | None:
    """Content of the {...} group opening at text[start], or None if it is never closed.

    One forward scan over brace tokens only, so the cost is linear in what follows `start`."""
    depth = 0
    for token in _BRACE_TOKEN.finditer(text, start):
        if token.group() == "{":
            depth += 1
        elif token.group() == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : token.start()]
    return None


def _boxes_from_last(text: str) -> Iterator[tuple[int, str | None]]:
    """(position, stripped content) of each box command, the last one first; content None when the box is
    unbalanced or has no argument. Lazy: callers stop at the first non-empty or broken box, so the work
    stays linear (an empty box's scan ends at its own closing brace)."""
    for box in reversed(list(_BOX_COMMAND.finditer(text))):  # C-level scan; Python runs once per box
        argument = _BOX_ARGUMENT.match(text, box.end())
        if argument is None:
            content = None
        elif argument.group(1):
            content = _braced(text, argument.start(1))
        else:  # `\boxed 5`: TeX takes the next token as the argument
            content = argument.group(2).rstrip(".,;")
        yield box.start(), None if content is None else content.strip()


def last_box(text: str) -> tuple[int, str | None] | None:
    """(position, content) of the last non-empty box; None if there is none.

    Empty boxes are skipped ("I put the answer in \\boxed{}" after the real one). Content None means that
    box is broken (unbalanced or without argument, typically a response cut off while writing its
    answer): for math there is then no answer at all, as an earlier box or phrase is a superseded
    intermediate result."""
    for position, content in _boxes_from_last(text):
        if content != "":
            return position, content
    return None


def extract_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` / `\\fbox{...}` (nested braces handled, `\\boxed 5` too), empty or
    not; None if there is no box or the last one is unbalanced."""
    return next(_boxes_from_last(text), (0, None))[1]


# --------------------------------------------------------------------------- math answers

_PHRASE_LEAD = re.compile(r"(?i:answer)(?:\*\*)?\s*(?:(?i:is)\b\s*:?|:)[\s*]*")
_PHRASE_CHARS = 200
"""An answer phrase's answer is read from at most this many characters after its lead."""
_ANSWER_TOKEN = re.compile(
    r"(?P<math>\$+|\\[()\[\]])"  # math delimiters: $, $$, \( \), \[ \]
    r"|\\[A-Za-z]+|\\."  # commands (\frac, \text) and escapes (\{, \$, \,)
    r"|(?P<brace>[{}])"
    r"|(?P<word>[A-Za-z]{2,})"
    r"|(?P<stop>[.?!;]+(?=[\s*]|$)|\n|\*\*)"  # a sentence's end (not the point of 3.5), bold's end
    r"|(?P<paren>[^\S\n]+\()"  # a parenthesis after a space: "12 (or 25 ...)"
    r"|[^\s\\{}$A-Za-z.?!;*]+|[^\S\n]+|.",  # numbers, operators, spaces, anything else
    re.DOTALL,
)
_MATH_DELIMITERS = re.compile(r"(?<!\\)\$+|\\[()\[\]]")


def _ends_answer(token: re.Match[str], text: str, in_math: bool) -> bool:
    """Whether `token`, outside braces, ends the answer at the start of `text`: a sentence's end, a prose
    word (two or more letters after a space: `2xy` stays), or, outside math, a line break or a parenthesis
    after a complete term ("12 (or 25 ...)"; "x = (3, 4)" stays). Sentences and words end the answer
    inside `$...$` too, as a lone `$` is often a currency sign ("the answer is $12. Or $25?")."""
    before = text[token.start() - 1] if token.start() else " "
    if token.lastgroup == "word":
        return before.isspace() or before == "("
    if token.lastgroup == "paren":
        return not in_math and (before.isalnum() or before in ")]}$")
    return token.lastgroup == "stop" and not (in_math and token.group() == "\n")  # display math spans lines


def _leading_math(text: str) -> str:
    """The answer at the start of `text` (what follows "the answer is"), without math delimiters.

    What follows the answer is free text, from which math-verify would pick some number ("12? Let me
    verify with 25" would equal 25), so the answer ends at the first `_ends_answer` token; braces
    (`\\frac{ab}{c}`, `\\text{ or }`) are taken whole."""
    end, depth, in_math = 0, 0, False
    for token in _ANSWER_TOKEN.finditer(text):
        if token.lastgroup == "math":
            in_math = not in_math if token.group()[0] == "$" else token.group() in ("\\(", "\\[")
        elif token.lastgroup == "brace":
            depth = depth + 1 if token.group() == "{" else max(0, depth - 1)
        elif depth == 0 and _ends_answer(token, text, in_math):
            break
        end = token.end()
    return _MATH_DELIMITERS.sub("", text[:end]).strip().rstrip(",:;*(-—–").strip()


def _phrase_answer(tail: str) -> str | None:
    """The answer after the last "answer is" / "Answer:" in `tail` that looks mathematical.

    Leads are tried from the last backwards, so "Final Answer: The final answer is $5$" gives 5 and a
    trailing "...whether the answer is correct" does not hide an earlier "the answer is 12"."""
    for lead in reversed(list(_PHRASE_LEAD.finditer(tail))):
        answer = _leading_math(tail[lead.end() : lead.end() + _PHRASE_CHARS])
        if re.search(r"[0-9\\]", answer):
            return answer
    return None


def extract_math_answer(text: str) -> str | None:
    """The last non-empty boxed answer, else the last "final answer is X" / "The answer is: X" /
    "**Answer:** X" phrase of the response's tail. A box outranks a later phrase: boxes hold exactly
    the answer, phrases are followed by free text. A broken (unbalanced) last box means no answer, not
    an earlier phrase's (see `last_box`)."""
    box = last_box(text)
    return box[1] if box else _phrase_answer(text[-TAIL_CHARS:])
