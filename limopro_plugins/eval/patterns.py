"""Reasoning patterns of generated responses: steps, token share per mode, thinking vs answer tokens.

The evaluation tasks already tokenize every response once to count TOK; the pattern metrics reuse that
call: a response is segmented and classified (`pir.segment.structure`, with the response's own boxed
answer), and each step's tokens are counted
from the token index at its first character (a fast tokenizer's `char_to_token`); a token straddling a
step boundary counts for the later step. A response with `</think>` also gets its thinking tokens (before the
marker) and final-answer tokens (after it) counted; its modes are measured over the thinking part.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from limopro_plugins.pir.answers import extract_boxed
from limopro_plugins.pir.segment import rule_steps
from limopro_plugins.text import MODE_NAMES, THINK_CLOSE, Mode

_WORD = re.compile(r"\S+")
PROGRESSIVE = Mode.PROGRESSIVE.value
_NAMES = {mode: mode.value for mode in Mode}
"""A mode's name, looked up (`Mode.value` is a property, several times slower)."""


_ZEROS = dict.fromkeys(MODE_NAMES, 0)


def _per_mode() -> dict[str, int]:
    """A zero per mode name (a copy: building it from the Enum costs 5 µs a profile)."""
    return _ZEROS.copy()


@dataclass
class Profile:
    """One response: its token count, steps, tokens per mode, and the thinking/answer split."""

    tokens: int
    steps: int
    mode_tokens: dict[str, int] = field(default_factory=_per_mode)
    mode_steps: dict[str, int] = field(default_factory=_per_mode)
    think_tokens: int | None = None
    answer_tokens: int | None = None

    def shares(self) -> dict[str, float]:
        """Token share of each mode within the reasoning (sums to 1 when it has tokens)."""
        total = sum(self.mode_tokens.values())
        return {m: (t / total if total else 0.0) for m, t in self.mode_tokens.items()}


TokensBefore = Callable[[int], int]
"""How many of a response's tokens start before a character offset (a token straddling the offset
counts for the text after it)."""


def _offset_counter(encoding: Any, text_length: int, n_tokens: int) -> TokensBefore:
    """For a fast tokenizer's encoding: the index of the token holding the character, or of the next
    token when the character is in none (`n_tokens` past the end). One `char_to_token` call per offset,
    so no offsets list of the whole response is built; each call scans the offsets up to the character
    (in Rust, about 0.15 µs per 1,000 characters), cheaper than the list for the few bounds asked."""
    char_to_token = encoding.char_to_token

    def tokens_before(char: int) -> int:
        token = char_to_token(char) if char < text_length else n_tokens
        while token is None:  # a character in no token (rare): the next one's token
            char += 1
            token = char_to_token(char) if char < text_length else n_tokens
        return token

    return tokens_before


def _word_counter(text: str) -> tuple[int, TokensBefore]:
    """Without a tokenizer, whitespace-separated words stand in for tokens."""
    starts = [m.start() for m in _WORD.finditer(text)]
    return len(starts), functools.partial(bisect.bisect_left, starts)


def _prefix_counter(tokenizer: Any, text: str) -> tuple[int, TokensBefore]:
    """For a tokenizer without character offsets (not a fast one, e.g. a SentencePiece or mistral-common
    backend): the tokens before an offset are those of the text up to it, tokenized alone. TOK is still
    exact; a step's tokens can differ by one where its boundary cuts a word. Slower, but scoring a
    long run never fails on the tokenizer's kind."""

    def count(piece: str) -> int:
        return len(tokenizer(piece, add_special_tokens=False)["input_ids"]) if piece else 0

    total = count(text)
    return total, lambda char: min(count(text[:char]), total)


def _find_think_end(text: str) -> int:
    """`text.find(THINK_CLOSE)`, first jumping from one "<" to the next (memchr): str.find compares at
    nearly every character for this marker, several times slower on a response with no "<" or one
    "<think>" before it. After two other "<" (inequalities), str.find takes over, so a response full of
    "<" costs about what str.find does."""
    at = text.find("<")
    for _ in range(3):
        if at < 0 or text.startswith(THINK_CLOSE, at):
            return at
        at = text.find("<", at + 1)
    return text.find(THINK_CLOSE, at) if at >= 0 else -1


def profile(text: str, n_tokens: int, tokens_before: TokensBefore) -> Profile:
    """The pattern profile of one response of `n_tokens` tokens (rule segmentation and modes)."""
    think_end = _find_think_end(text)
    reasoning = text[:think_end] if think_end >= 0 else text
    # the response's own final answer tells where a second method has a result to confirm
    n_steps, functional = rule_steps(reasoning, extract_boxed(text[think_end:] if think_end >= 0 else text))
    reasoning_tokens = tokens_before(think_end) if think_end >= 0 else n_tokens
    mode_tokens, mode_steps = _per_mode(), _per_mode()
    # Most steps are progressive: look tokens up at the functional steps' bounds only (a step ending
    # where the next starts is looked up once), and give the progressive mode the rest.
    functional_tokens, last_end, last_token = 0, -1, 0
    for start, end, mode in functional:
        first = last_token if start == last_end else tokens_before(start)
        last_end, last_token = end, tokens_before(end)
        name = _NAMES[mode]
        mode_steps[name] += 1
        mode_tokens[name] += last_token - first
        functional_tokens += last_token - first
    mode_steps[PROGRESSIVE] = n_steps - len(functional)
    # tokens before the first character's (a zero-width token of an offset-trimming tokenizer) are in no step
    mode_tokens[PROGRESSIVE] = reasoning_tokens - tokens_before(0) - functional_tokens if n_steps else 0
    if think_end < 0:
        return Profile(n_tokens, n_steps, mode_tokens, mode_steps)
    return Profile(n_tokens, n_steps, mode_tokens, mode_steps, reasoning_tokens, n_tokens - reasoning_tokens)


def profiles(texts: Sequence[str], tokenizer: Any | None) -> list[Profile]:
    """Profiles of many responses from one batched tokenizer call, the same call that counts TOK.

    A fast tokenizer maps a character to its token (`char_to_token`), so only the functional steps'
    bounds are looked up: no offsets list is built. Without a tokenizer, words are counted."""
    if tokenizer is None:
        return [profile(t, *_word_counter(t)) for t in texts]
    if not getattr(tokenizer, "is_fast", False):
        return [profile(t, *_prefix_counter(tokenizer, t)) for t in texts]
    return encoded_profiles(texts, tokenizer(list(texts), add_special_tokens=False))


def encoded_profiles(texts: Sequence[str], batch: Any) -> list[Profile]:
    """Profiles of responses a fast tokenizer has already encoded (`batch`, without special tokens)."""
    found = []
    for text, encoding in zip(texts, batch.encodings):
        n_tokens = len(encoding)
        found.append(profile(text, n_tokens, _offset_counter(encoding, len(text), n_tokens)))
    return found
