"""Grading of model responses: extract the final answer, decide whether it equals the gold answer.

Math (AIME, AMC): the answer is the content of the last non-empty `\\boxed{}` / `\\fbox{}` in the
response, else the last "final answer is X" style phrase near its end. Equivalence is decided by
math-verify (LaTeX -> sympy), after an exact numeric fast path that settles the common case of two
plain numbers ("025" = 25 = 25.0, AMC's gold 27.0 = "27") without sympy.
Multiple choice (GPQA): the option letter from `\\boxed{C}`, "Answer: C", "**(C)**", ...

Responses are untrusted text and graders run unattended over thousands of them, so every step is
bounded: the box is found by one linear scan, phrases are searched only in the response's tail, an
extracted answer reaches sympy only when it is short and shallowly nested, expressions that denote
astronomically large numbers are never compared, and math-verify's own time limits apply: in the main
thread, or off it in a child process that is killed when a comparison runs too long. Any failure means
"wrong", never an exception.
"""

from __future__ import annotations

import atexit
import functools
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from multiprocessing.connection import Connection
from typing import Any

from limopro_plugins.pir.answers import TAIL_CHARS, extract_math_answer, last_box

MAX_ANSWER_CHARS = 500
"""Longer extracted answers are wrong without asking sympy: AIME/AMC/GPQA answers are a few characters,
and parsing time grows quickly with length."""
MAX_NESTING = 8
"""Deeper bracket nesting is wrong without asking sympy: math-verify's LaTeX parsing time grows
exponentially with the depth of `{{{...}}}` and polynomially with `(((...)))`."""
MAX_MAGNITUDE = 10**5
"""Exponents, factorial arguments and sum/product bounds above this, and numbers with more digits than
this, make an answer too large to compare (see `_too_large`)."""
TIMEOUT_SECONDS = 2
"""math-verify's per-step limit (signal alarms, so main thread only; whole seconds)."""
CHILD_TIMEOUT_SECONDS = 10.0
"""Off the main thread, math-verify runs in a child process (see `_verified_in_child`), which is killed
when one comparison takes longer than this: its own alarms stop most slow work there, this bound also
stops what they cannot interrupt."""
CHILD_START_SECONDS = 120.0
"""How long the child process may take to start and import math-verify (sympy) before comparisons
count as failed."""


@dataclass(frozen=True)
class Graded:
    """The answer found in a response (None if none) and whether it matches the gold answer."""

    answer: str | None
    correct: bool


# --------------------------------------------------------------------------- choice answers

_LETTER_WRAPPER = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_LETTER_WINDOW = 100
"""A boxed option letter is looked for in the box's first characters only: the letter leads."""
_BOXED_LETTER = re.compile(
    r"[\s$*]*(?:(?i:option|choice)\s*)?\(?([A-Za-z])"
    r"(?!\)?(?:\s|\\[ ,;:!])*(?:[=<>≈≤≥≠⩽⩾→]|[!:]\s*=|\\(?:approx|sim|equiv|propto|cdot|times|le|ge|ne|[lg][lt]|not"
    r"|to(?![A-Za-z])|rightarrow)))"
    r"\)?(?:[\s.:),$*]|\\[ ,;:!]|$)"
)
_CHOICE_STATEMENT = (
    r"(?:\*\*)?\s*(?:(?i:is)\b|:)[\s:*$]*(?:\\\(\s*)?(?:(?i:option|choice)\s*)?"
    r"(?:\\(?:text|textbf|mathrm|mathbf)\{)?\\?\(?([A-Z])(?![A-Za-z0-9])"
)
_CHOICE_PHRASES = (
    re.compile(r"(?i:answer)" + _CHOICE_STATEMENT),  # "answer is (C)", "Answer: **C**", "answer is option C"
    # "the correct option is (C)", "Final choice: C", but not "option A is wrong". The adjective is checked
    # behind the noun so that the search starts from a literal: sre then skips ahead instead of trying the
    # pattern at every position (about 8x faster over a long response).
    re.compile(
        "(?:option|choice)(?:"
        + "|".join(
            f"(?<=[{word[0].upper()}{word[0]}]{word[1:]} {noun})"  # one fixed-width look-behind per pair
            for word in ("correct", "right", "best", "final")
            for noun in ("option", "choice")
        )
        + ")"
        + _CHOICE_STATEMENT
    ),
)
_BOLD_LETTER = re.compile(r"\*\*\s*\(?([A-Z])(?:\)|[.:]?\s*\*\*)")
_LINE_LETTER = re.compile(r"[\s*$(]*([A-Z])[\s).*$]*")


def _boxed_letter(text: str) -> tuple[int, str] | None:
    """(position, letter) if the last box holds an option letter: C, (C), \\text{(C)} 4.2 eV, C) 4.2 eV,
    Option C, c.

    Text wrappers are removed wherever they are (`(\\text{C})`, `\\text{C}\\ 4.2\\text{ eV}`), innermost
    first, from the box's first characters only (the letter leads; this bounds the loop). A letter
    followed by a relation is a quantity, not an option: \\boxed{a = 2g}, \\boxed{D \\approx 3.1}."""
    box = last_box(text)
    if box is None or box[1] is None:
        return None
    content = box[1][:_LETTER_WINDOW]
    while (unwrapped := _LETTER_WRAPPER.sub(r"\1", content)) != content:
        content = unwrapped
    letter = _BOXED_LETTER.match(content)
    return (box[0], letter.group(1).upper()) if letter else None


def extract_choice(text: str, letters: str = "ABCD") -> str | None:
    """The chosen option letter (upper case), or None.

    Explicit statements (a boxed letter, "answer is (C)", "Answer: C", "Final answer: **C**", "the correct
    option is (C)") come first, and among them the last one wins: models revise themselves. Without one,
    the last bold letter ("**(C)**") counts, then a final line holding only a letter. Outside a box the
    letter must be upper case, so "the answer is a bit subtle" is not option A. Letters not among
    `letters` are ignored."""
    letters = letters.upper()
    offset = max(0, len(text) - TAIL_CHARS)
    tail = text[offset:]
    explicit = [(offset + m.start(), m.group(1)) for phrase in _CHOICE_PHRASES for m in phrase.finditer(tail)]
    boxed = _boxed_letter(text)
    explicit += [boxed] if boxed else []
    explicit = [found for found in explicit if found[1] in letters]
    if explicit:
        return max(explicit)[1]
    bold = [m.group(1) for m in _BOLD_LETTER.finditer(tail) if m.group(1) in letters]
    if bold:
        return bold[-1]
    last_line = _LINE_LETTER.fullmatch(tail.rstrip().rsplit("\n", 1)[-1])
    return last_line.group(1) if last_line and last_line.group(1) in letters else None


# --------------------------------------------------------------------------- equivalence

_THIN_SPACE = re.compile(r"\\[,!;:]")  # typographic spacing, also thousands separators: 1\,000
_DECORATION = re.compile(
    r"\\\$|\$|\\ |\\left|\\right|\\displaystyle|\\%|%|\^\s*\{?\s*\\circ\s*\}?"
    r"|\\(?:text|textbf|mathrm|textrm|mbox)\s*\{[^{}]*\}"
)
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[+-]?\.\d+")
_SIMPLE_FRACTION = re.compile(r"([+-]?)\\[dt]?frac\{([+-]?\d+)\}\{(\d+)\}|([+-]?\d+)/(\d+)")
_VARIABLE = re.compile(r"\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?\s*")
"""The left side of an assignment (`x`, `k`, `a_1`, `\\theta`, `x_{n}`)."""
_RELATION = re.compile(
    r"[<>≤≥≠≮≯⩽⩾≪≫→]|!=|(?<!\S)!\s*="
    r"|\\(?:[lg]eq?|[lg]eqslant|n[lg]eq|neq?|not|[lg]t|nless|ngtr|ll|gg|sim|propto|to|[Rr]ightarrow|mapsto)"
    r"(?![A-Za-z])"
)
"""An inequality, a non-equality or a limit-like relation: `<` `>` `<=` `>=` `=<` `=>` `!=` `≤` `≥` `≠`
(spaced or not), `\\le` `\\geq` `\\neq` `\\not=` `\\lt` `\\sim` `\\to` ... (`=`, `\\approx` and `\\equiv`
are equations). A `!` written after its operand is a factorial: `5! = 120` is an equation."""
_NOT_RELATION = re.compile(r"\\(?:left|right)\s*[<>]|[_^]\{[^{}]*\}")
"""What holds `<` or a relation command without being a relation: `\\left< v \\right>`, and the
sub- and superscripts of `\\sum_{i<j}` or `\\lim_{x \\to 0}`."""
_CLOSING_MODULUS = re.compile(
    r"(?:\s|\\[ ,;:!])*(?:\\pmod\s*(?:\{[^{}]*\}|\w+)|(?:\\text\{\s*)?\([^()]*mod(?![A-Za-z])[^()]*\))\s*$"
)
"""A modulus closing an answer: `\\pmod{1000}`, `(\\mod 1000)`, `\\ (\\mathrm{mod}\\ 1000)`, `\\text{ (mod } 1000)`."""
_MISREAD_SPELLINGS = [
    (re.compile(r"[<≤]\s*=|=\s*[<≤]|⩽"), r"\\leq "),
    (re.compile(r"[>≥]\s*=|=\s*[>≥]|⩾"), r"\\geq "),
    (re.compile(r"!=|(?<!\S)!\s*=|\\not\s*="), r"\\neq "),
    (_CLOSING_MODULUS, ""),
    (re.compile(r"\\bmod(?![A-Za-z])"), r"\\mod"),
]
"""Spellings math-verify's LaTeX parser misreads, rewritten before it parses them: relations it does
not know (it reads `x =< 3` as 3) or that are spaced, written as the relations they are; a closing
modulus, `\\pmod{1000}` or `(\\mod 1000)` (read as `\\pm` or as 1000), dropped, so that the residue
counts; and `a \\bmod m` (read as m) written `a \\mod m`."""


def _is_relation(text: str) -> bool:
    """Whether `text` states an inequality or a non-equality (or `\\sim`, `\\to`): such an answer is
    never a number, however it is spelled (`x != 3`, `x >= 5`, `x \\ge 5`, `x ≠ 3`, `x =< 3`)."""
    return _RELATION.search(_NOT_RELATION.sub(" ", text)) is not None


def _as_number(text: str, *, gold: bool = False) -> Fraction | None:
    """The exact value of a plain number or simple fraction, else None.

    Accepts "025", "1,000", "1{,}000", "1\\,000", "27.0", "$25$", "25^\\circ", "50\\%", "72\\text{ cm}", "x = 25",
    "\\frac{1}{2}", "-\\dfrac{3}{4}", "3/4". Decoration is replaced by spaces and inner spaces reject the
    text, so "5 \\text{ and } 7" is not 57. Exact (Fraction) so that equal values get equal keys.
    An equation counts by its right-hand side, as math-verify reads an answer's equation ("5+5+1 = 11"
    is 11), but a gold equation only when its left side is a variable ("k = 1" is 1, "2x + z = 1" is an
    equation to solve). A relation (`x >= 5`) is not a number, and neither is a text longer than
    MAX_ANSWER_CHARS (Python refuses to convert integers of more than 4,300 digits)."""
    if len(text) > MAX_ANSWER_CHARS or _is_relation(text):
        return None
    cleaned = _DECORATION.sub(" ", _THIN_SPACE.sub("", text.replace("{,}", ","))).strip().rstrip(".").strip()
    if cleaned.count("=") == 1:
        left, right = cleaned.split("=")
        if gold and not _VARIABLE.fullmatch(left.rstrip(":")):
            return None
        cleaned = right.strip()
    if _PLAIN_NUMBER.fullmatch(cleaned):
        return Fraction(cleaned.replace(",", "").rstrip("."))
    fraction = _SIMPLE_FRACTION.fullmatch(cleaned)
    if fraction is None or int(fraction.group(3) or fraction.group(5)) == 0:
        return None
    if fraction.group(4) is not None:
        return Fraction(int(fraction.group(4)), int(fraction.group(5)))
    value = Fraction(int(fraction.group(2)), int(fraction.group(3)))
    return -value if fraction.group(1) == "-" else value


def _nesting(text: str) -> int:
    """Deepest nesting of (), [] and {} together (unbalanced closers are ignored)."""
    depth = deepest = 0
    for bracket in re.finditer(r"[(\[{]|[)\]}]", text):
        depth = depth + 1 if bracket.group() in "([{" else max(0, depth - 1)
        deepest = max(deepest, depth)
    return deepest


def _in_main_thread() -> bool:
    """math-verify's limits are signal alarms, which only the main thread may set (elsewhere it would
    raise, and without them a comparison can run for minutes)."""
    return threading.current_thread() is threading.main_thread()


def _too_large(expr: Any) -> bool:
    """Whether comparing `expr` would make sympy build an astronomically large number.

    verify() evaluates 9^{9^{9}}, 2^2^...^2, 10^{10^{8}} or (10^9)! in full, which takes minutes to
    forever and, being integer arithmetic in C, cannot be interrupted by an alarm; no AIME/AMC/GPQA answer
    is such a number. Sizes are estimated with floating point (sympy.N), children before parents, so each
    estimate only involves numbers already known to be moderate."""
    import mpmath
    import sympy

    factorials = (
        sympy.factorial,
        sympy.factorial2,
        sympy.subfactorial,
        sympy.binomial,
        sympy.gamma,
        sympy.RisingFactorial,
        sympy.FallingFactorial,
    )
    huge_number = mpmath.mpf(10) ** MAX_MAGNITUDE  # a float: building the integer would cost ~0.3 s
    for node in sympy.postorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            sizes: Sequence[Any] = [node.exp]
            if node.is_number and abs(sympy.N(node, 3)) > huge_number:
                return True
        elif isinstance(node, factorials):
            sizes = node.args
        elif isinstance(node, (sympy.Sum, sympy.Product)):
            sizes = [bound for limit in node.limits for bound in limit[1:]]
        else:
            continue
        if any(size.is_number and abs(sympy.N(size, 3)) > MAX_MAGNITUDE for size in sizes):
            return True
    return False


@functools.lru_cache(maxsize=1 << 16)
def _parsed(text: str) -> tuple[Any, ...]:
    """math-verify's parse of one answer, or () if it cannot be compared safely. Main thread only.

    Cached: a question's gold answer and its samples' answers repeat across the n samples."""
    from math_verify import parse  # imported on first use: it pulls in sympy and the LaTeX parser

    for spelling, meaning in _MISREAD_SPELLINGS:
        text = spelling.sub(meaning, text)
    try:
        parsed = parse(f"${text}$", parsing_timeout=TIMEOUT_SECONDS)
        return () if any(_too_large(item) for item in parsed) else tuple(parsed)
    except Exception:  # noqa: BLE001 - sympy can raise anything on hostile input: that is "not comparable"
        return ()


def _is_number(parsed: tuple[Any, ...]) -> bool:
    """Whether math-verify read an answer as a number (`3`, `2\\sqrt{3}`), not a set, interval or relation."""
    import sympy

    return isinstance(parsed[0], sympy.Expr) and bool(parsed[0].is_number)


def _sympy_equal(pred: str, gold: str) -> bool:
    """math-verify's equivalence of two short answers, with its time limits. Main thread only.

    A relation is never a number: `x \\ge 5` is not 5, whichever side holds it (math-verify compares a
    relation with a set or interval, `-7 < a < 10` with `(-7, 10)`, and a relation with a relation)."""
    from math_verify import verify

    pred_parsed, gold_parsed = _parsed(pred), _parsed(gold)
    if not pred_parsed or not gold_parsed:
        return False
    pred_relation, gold_relation = _is_relation(pred), _is_relation(gold)
    if pred_relation != gold_relation and _is_number(gold_parsed if pred_relation else pred_parsed):
        return False
    try:
        return bool(verify(list(gold_parsed), list(pred_parsed), timeout_seconds=TIMEOUT_SECONDS))
    except Exception:  # noqa: BLE001 - as above: an error in comparing is "not equal"
        return False


def _serve(descriptor: int) -> None:
    """The child process of `_verified_in_child`: compares the pairs it receives on the socket
    `descriptor` until the parent closes it, in its main thread, where math-verify's alarms work."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, whose exit ends this process
    import math_verify  # noqa: F401 - before the first answer, which the parent waits for longer

    connection = Connection(descriptor)
    connection.send(True)
    while True:
        try:
            pred, gold = connection.recv()
        except EOFError:
            return
        connection.send(_sympy_equal(pred, gold))


_child_lock = threading.Lock()
_child: tuple[subprocess.Popen[bytes], Connection] | None = None


def _started_child() -> tuple[subprocess.Popen[bytes], Connection] | None:
    """The running child process and its end of the socket, started if needed; None if it does not
    start in time. Call with `_child_lock` held.

    A plain `python -c` with this process's import path, rather than multiprocessing, whose start
    methods either fork a process that has threads (unsafe) or run the caller's main script again."""
    global _child
    if _child is not None:
        if _child[0].poll() is None:
            return _child
        _stop(*_child)  # it died between two comparisons
    here, there = multiprocessing.Pipe()
    command = f"from {__name__} import _serve; _serve({there.fileno()})"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    process = subprocess.Popen(
        [sys.executable, "-c", command], stdin=subprocess.DEVNULL, pass_fds=[there.fileno()], env=environment
    )
    there.close()
    try:
        if here.poll(CHILD_START_SECONDS) and here.recv():
            _child = (process, here)
            return _child
    except (OSError, EOFError):  # it exited during start-up
        pass
    _stop(process, here)
    return None


def _stop(process: subprocess.Popen[bytes], connection: Connection) -> None:
    """Ends the child (running or not) and forgets it: the next comparison starts a new one."""
    global _child
    process.kill()
    process.wait()
    connection.close()
    _child = None


@atexit.register
def _stop_at_exit() -> None:
    """Ends the child with this process (it would end by itself, on the closed socket, a moment later)."""
    if _child is not None:
        _child[0].kill()
        _child[0].wait()


def _verified_in_child(pred: str, gold: str) -> bool:
    """`_sympy_equal` off the main thread: in a child process, killed after CHILD_TIMEOUT_SECONDS.

    A thread cannot be interrupted, and sympy's integer arithmetic not even by an alarm, only by ending
    its process; `\\sum_{n=1}^{99999}\\sin(n)` would otherwise run for minutes. One child serves all
    threads, one comparison at a time; it starts at the first comparison off the main thread (importing
    sympy takes seconds) and again after a kill."""
    with _child_lock:
        child = _started_child()
        if child is None:
            return False
        process, connection = child
        try:
            connection.send((pred, gold))
            if connection.poll(CHILD_TIMEOUT_SECONDS):
                return bool(connection.recv())
        except (OSError, EOFError):  # the child died (killed from outside, out of memory)
            pass
        _stop(process, connection)
        return False


@functools.lru_cache(maxsize=1 << 16)
def _verified(pred: str, gold: str) -> bool:
    """math-verify's equivalence of two short answers, bounded in time in any thread; cached per pair
    (samples repeat answers)."""
    return _sympy_equal(pred, gold) if _in_main_thread() else _verified_in_child(pred, gold)


def math_equal(pred: str | None, gold: str | int | float) -> bool:
    """Whether a predicted answer equals the gold answer.

    Two plain numbers (or simple fractions) that are exactly equal are equal, and two different integers
    are different, without sympy; everything else (radicals, expressions, sets, near-equal decimals, whose
    rounding rules are math-verify's) goes to math-verify, if the answer is short and shallow enough."""
    if pred is None:
        return False
    pred, gold_text = pred.strip(), str(gold).strip()
    if not pred or len(pred) > MAX_ANSWER_CHARS or _nesting(pred) > MAX_NESTING:
        return False
    pred_value, gold_value = _as_number(pred), _as_number(gold_text, gold=True)
    if pred_value is not None and gold_value is not None:
        if pred_value == gold_value:
            return True
        if pred_value.denominator == gold_value.denominator == 1:
            return False
    return _verified(pred, gold_text)


def grade_math(response: str, gold: str | int | float) -> Graded:
    """Grade an AIME/AMC response: its extracted answer and whether it equals `gold`."""
    answer = extract_math_answer(response)
    return Graded(answer, math_equal(answer, gold))


def grade_choice(response: str, gold_letter: str) -> Graded:
    """Grade a GPQA response: its option letter and whether it is `gold_letter` ("C" or "(C)")."""
    answer = extract_choice(response)
    return Graded(answer, answer is not None and answer == gold_letter.strip().strip("()").upper())


_KEY_NOISE = re.compile(r"\s+|\\[,!;: ]|\\left|\\right|\\displaystyle|\$")


def answer_key(answer: str | None, kind: str) -> str | None:
    """Canonical form of an answer for majority voting (maj@n): equal answers must vote together.

    Math: numbers and simple fractions by exact value ("025", "25.0", "x = 25" -> "25"; "\\frac{1}{2}",
    "0.5" -> "1/2"); anything else as LaTeX without spacing and sizing commands and with \\dfrac and
    \\tfrac written \\frac. Choice: the upper-case letter."""
    if kind not in ("math", "choice"):
        raise ValueError(f"answer kind must be 'math' or 'choice', not {kind!r}")
    if answer is None:
        return None
    if kind == "choice":
        return answer.strip().upper()
    value = _as_number(answer)
    if value is not None:
        return str(value)  # Fraction: "25", "1/2", "-3/4"
    return re.sub(r"\\[dt]frac", r"\\frac", _KEY_NOISE.sub("", answer)).rstrip(".")
