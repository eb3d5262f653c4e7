"""Reasoning patterns of generated responses: steps, token share per mode, thinking vs answer tokens.

The evaluation tasks already tokenize every response once to count TOK; the pattern metrics reuse that
call: a response is segmented and classified (regular expressions), and each step's tokens are counted
from the token index at its first character (a fast tokenizer's `char_to_token`); a token straddling a
step boundary counts for the later step. A response with `</think>` also gets its thinking tokens (before the
marker) and final-answer tokens (after it) counted; its modes are measured over the thinking part.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from limopro_plugins.classify import Mode
from limopro_plugins.segment import rule_steps

THINK_END = "</think>"
_WORD = re.compile(r"\S+")
MODE_NAMES = tuple(mode.value for mode in Mode)


def _per_mode() -> dict[str, int]:
    """A zero per mode name (built from a tuple of names: iterating the Enum costs 5 µs a profile)."""
    return dict.fromkeys(MODE_NAMES, 0)


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


def _token_at(encoding: Any, char: int, text_length: int, n_tokens: int) -> int:
    """Index of the token holding character `char`, or of the next token when `char` is in none
    (n_tokens past the end): a token straddling a step boundary counts for the later step."""
    for position in range(char, text_length):
        token = encoding.char_to_token(position)
        if token is not None:
            return token
    return n_tokens


def _word_boundaries(text: str, cuts: Sequence[int]) -> tuple[int, list[int]]:
    """Without a tokenizer, whitespace-separated words stand in for tokens."""
    starts = [m.start() for m in _WORD.finditer(text)]
    return len(starts), [bisect.bisect_left(starts, c) for c in cuts]


def _prefix_counts(tokenizer: Any, text: str, cuts: Sequence[int]) -> tuple[int, list[int]]:
    """For a tokenizer without character offsets (not a fast one, e.g. a SentencePiece or mistral-common
    backend): the tokens before a cut are those of the text up to it, tokenized alone. TOK is still
    exact; a step's tokens can differ by one where its boundary cuts a word. Slower, but scoring a
    long run never fails on the tokenizer's kind."""

    def count(piece: str) -> int:
        return len(tokenizer(piece, add_special_tokens=False)["input_ids"]) if piece else 0

    total = count(text)
    return total, [min(count(text[:c]), total) for c in cuts]


def profile(text: str, tokens_before: Callable[[Sequence[int]], tuple[int, list[int]]]) -> Profile:
    """The pattern profile of one response (rule segmentation and modes). `tokens_before(cuts)` gives
    the response's token count and, for each character offset in `cuts`, the number of tokens that
    start before it."""
    think_end = text.find(THINK_END)
    reasoning = text[:think_end] if think_end >= 0 else text
    n_steps, functional = rule_steps(reasoning)
    # Most steps are progressive: look tokens up at the functional steps' bounds only, and give the
    # progressive mode the rest of the reasoning.
    cuts = [0, len(reasoning)]
    for start, end, _ in functional:
        cuts += (start, end)
    total, before = tokens_before(cuts)
    result = Profile(tokens=total, steps=n_steps)
    progressive_tokens = before[1] - before[0]
    for k, (_, _, mode) in enumerate(functional):
        tokens = before[2 * k + 3] - before[2 * k + 2]
        name = mode.value
        result.mode_steps[name] += 1
        result.mode_tokens[name] += tokens
        progressive_tokens -= tokens
    result.mode_steps[Mode.PROGRESSIVE.value] = n_steps - len(functional)
    result.mode_tokens[Mode.PROGRESSIVE.value] = progressive_tokens if n_steps else 0
    if think_end >= 0:
        result.think_tokens = before[1]
        result.answer_tokens = total - before[1]
    return result


def profiles(texts: Sequence[str], tokenizer: Any | None) -> list[Profile]:
    """Profiles of many responses from one batched tokenizer call, the same call that counts TOK.

    A fast tokenizer maps a character to its token in constant time (`char_to_token`), so only the
    step boundaries are looked up: no offsets list is built. Without a tokenizer, words are counted."""
    if tokenizer is None:
        return [profile(t, lambda cuts, t=t: _word_boundaries(t, cuts)) for t in texts]
    if not getattr(tokenizer, "is_fast", False):
        return [profile(t, lambda cuts, t=t: _prefix_counts(tokenizer, t, cuts)) for t in texts]
    return encoded_profiles(texts, tokenizer(list(texts), add_special_tokens=False))


def encoded_profiles(texts: Sequence[str], batch: Any) -> list[Profile]:
    """Profiles of responses a fast tokenizer has already encoded (`batch`, without special tokens)."""
    found = []
    for i, text in enumerate(texts):
        encoding = batch.encodings[i]
        n_tokens = len(encoding)

        def tokens_before(cuts: Sequence[int], encoding=encoding, text=text, n=n_tokens) -> tuple[int, list[int]]:
            return n, [_token_at(encoding, c, len(text), n) for c in cuts]

        found.append(profile(text, tokens_before))
    return found
