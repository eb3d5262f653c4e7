"""Reasoning-pattern metrics of responses: known steps give known shares; shares sum to one."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from transformers import PythonBackend

from limopro_plugins.eval.metrics import pattern_metrics
from limopro_plugins.eval.patterns import (
    Profile,
    TokensBefore,
    _find_think_end,
    _offset_counter,
    _word_counter,
    profiles,
)
from limopro_plugins.pir.answers import extract_boxed
from limopro_plugins.pir.classify import RuleClassifier
from limopro_plugins.pir.segment import segment
from tests.data.texts import SAMPLE
from tests.pir.test_structure import fuzz_texts

RESPONSE = (
    "First we add the numbers, so the sum is 10.\n\n"  # progressive: 10 words
    "Wait, let me check the sum again: 1 + 2 + 3 + 4 = 10. Yes, correct.\n\n"  # verification: 18 words
    "Alternatively, the formula gives 4 * 5 / 2 = 10, the same result.\n\n"  # multi-method: 14 words
    "So the answer is 10."  # progressive: 5 words
)


def test_known_steps_give_known_shares_with_word_tokens() -> None:
    (found,) = profiles([RESPONSE], None)
    assert found.steps == 4 and found.tokens == 47
    assert found.mode_tokens == {"progressive": 15, "verification": 18, "multi_method": 14, "error_correction": 0}
    shares = found.shares()
    assert shares["verification"] == pytest.approx(18 / 47) and sum(shares.values()) == pytest.approx(1)
    assert found.think_tokens is None and found.answer_tokens is None


def test_think_split_counts_thinking_and_answer_tokens() -> None:
    text = "<think>\nWe compute 2 + 1 = 3.\n\nWait, let me check it: 3 - 1 = 2.\n</think>\n\nThe answer is \\boxed{3}."
    (found,) = profiles([text], None)
    assert found.think_tokens == 18  # "<think>", "We", ..., "3.", "Wait,", "let", ..., "2."
    assert found.answer_tokens == 5  # "</think>", "The", "answer", "is", "\\boxed{3}."
    assert found.tokens == found.think_tokens + found.answer_tokens
    assert found.mode_tokens["verification"] == 10 and found.steps == 2


def test_think_end_is_the_first_closing_tag() -> None:
    """The jump from "<" to "<" finds what str.find finds, also after other tags and partial ones."""
    rng = random.Random(9)
    pieces = ["<", "</", "</think", "</think>", "<think>", "</THINK>", "x < y", "a", "\n\n", "<</think>"]
    texts = [
        "",
        "<",
        "</think>",
        *("".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(3000)),
    ]
    for text in texts:
        assert _find_think_end(text) == text.find("</think>"), text


def test_a_token_before_the_first_character_is_in_no_step() -> None:
    """An offset-trimming byte-level tokenizer (RoBERTa style) gives a leading space token the offsets
    (0, 0): no character holds it, so no step (and no mode) gets it; TOK still counts it."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(pre_tokenizers.ByteLevel.alphabet())}, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.post_processor = processors.ByteLevel(trim_offsets=True)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe)
    texts = [" 1 + 1 = 2. Wait, no.", " 1 + 1 = 2. Wait, no.</think>x", " So 5.\n\nWait, no."]
    assert tokenizer(texts[:1], add_special_tokens=False).encodings[0].offsets[0] == (0, 0)
    found = profiles(texts, tokenizer)
    assert [p.tokens for p in found] == [len(text) for text in texts]  # one token per byte
    assert found[0].mode_tokens["error_correction"] == len("Wait, no.")
    assert sum(found[0].mode_tokens.values()) == found[0].tokens - 1  # the leading token is in no step
    assert found[1].think_tokens == len(" 1 + 1 = 2. Wait, no.")
    for text, p in zip(texts, found):
        encoding = tokenizer([text], add_special_tokens=False).encodings[0]
        assert p == reference_profile(text, len(encoding), _offset_counter(encoding, len(text), len(encoding)))


def test_real_tokenizer_offsets_match_plain_token_counts(tiny_qwen_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    texts = [RESPONSE, "", "Hmm, this is wrong. The mistake was here.\n\nSo 5."]
    found = profiles(texts, tokenizer)
    plain = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    assert [p.tokens for p in found] == plain
    for p in found:
        assert sum(p.mode_tokens.values()) == p.tokens
    assert found[2].mode_tokens["error_correction"] > 0 and found[1].steps == 0


def test_per_question_items() -> None:
    found = profiles([RESPONSE, "<think>a b</think> c"], None)  # words: "<think>a", "b</think>" | "c"
    items = pattern_metrics(found)
    assert items["steps"] == [4, 1]
    assert [
        sum(items[f"share_{m}"][i] for m in ("progressive", "verification", "multi_method", "error_correction"))
        for i in range(2)
    ] == [1, 1]
    assert items["think_rate"] == [0, 1] and items["think_tok"] == [2] and items["answer_tok"] == [1]


def reference_profile(text: str, total: int, tokens_before: TokensBefore) -> Profile:
    """Every step's tokens counted and added to its mode (what `profile` shortcuts)."""
    think_end = text.find("</think>")
    reasoning = text[:think_end] if think_end >= 0 else text
    answer = extract_boxed(text[think_end:] if think_end >= 0 else text)
    steps = segment(reasoning, answer)
    modes = RuleClassifier(answer).classify([s.text for s in steps])
    before = [tokens_before(c) for c in [s.start for s in steps] + [len(reasoning)]]
    result = Profile(tokens=total, steps=len(steps))
    for i, mode in enumerate(modes):
        result.mode_steps[mode.value] += 1
        result.mode_tokens[mode.value] += before[i + 1] - before[i]
    if think_end >= 0:
        result.think_tokens, result.answer_tokens = before[-1], total - before[-1]
    return result


def test_profiles_equal_the_per_step_reference(tiny_qwen_dir: Path) -> None:
    from transformers import AutoTokenizer

    rng = random.Random(3)
    texts = [json.loads(line)["solution"] for line in SAMPLE.read_text().splitlines() if line.strip()]
    texts += fuzz_texts(300, rng.randrange(1000))
    texts += [t[: len(t) // 2] + "</think>" + t[len(t) // 2 :] for t in texts[:50]]
    assert profiles(texts, None) == [reference_profile(t, *_word_counter(t)) for t in texts]
    texts = [t for t in texts if not re.search("[\ud800-\udfff]", t)]  # no tokenizer takes a lone surrogate
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    batch = tokenizer(texts, add_special_tokens=False)
    expected = []
    for text, encoding in zip(texts, batch.encodings):
        expected.append(reference_profile(text, len(encoding), _offset_counter(encoding, len(text), len(encoding))))
    assert profiles(texts, tokenizer) == expected


class WordTokenizer(PythonBackend):
    """A slow (pure Python) tokenizer: whitespace-separated words, no character offsets."""

    def __init__(self, **kwargs: Any) -> None:
        self.vocab: dict[str, int] = {"<unk>": 0}
        super().__init__(unk_token="<unk>", **kwargs)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def _tokenize(self, text: str, **kwargs: Any) -> list[str]:
        return text.split()

    def _convert_token_to_id(self, token: str) -> int:
        return self.vocab.setdefault(token, len(self.vocab))

    def _convert_id_to_token(self, index: int) -> str:
        return {i: t for t, i in self.vocab.items()}.get(index, "<unk>")


def test_a_slow_tokenizer_counts_tokens_without_offsets() -> None:
    """A tokenizer without offsets (no `encodings`) gives exact TOK and the same shares as words."""
    tokenizer = WordTokenizer()
    assert not tokenizer.is_fast
    texts = [RESPONSE, "", "<think>\nWe compute it.\n\nWait, check it.\n</think>\n\nThe answer is 3."]
    found = profiles(texts, tokenizer)
    assert [p.tokens for p in found] == [len(t.split()) for t in texts]
    assert found == profiles(texts, None)
