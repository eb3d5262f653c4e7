"""The optimised PIR scorer equals naive recomputation; the encoding removes exactly one step."""

from __future__ import annotations

from pathlib import Path

import pytest

from limopro_plugins.pir.score import ChainTooLongError, PIRScorer, encode

STEPS = [
    "First we compute 2 + 3 = 5. ",
    "Wait, let me check: 2 + 3 is 5. ",
    "So the sum is 5.\n\n",
    "Alternatively, count up from 2. ",
    "Hmm, this is wrong. It is 5.\n\n",
]


@pytest.fixture(scope="module")
def tiny(tiny_qwen_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (
        AutoTokenizer.from_pretrained(tiny_qwen_dir),
        AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype="float32").eval(),
    )


def test_encoding_removes_exactly_one_step(tiny) -> None:
    tokenizer, _ = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "", "The answer is \\boxed{5}.")
    assert enc.prompt[:1] == tokenizer.convert_tokens_to_ids(["<|im_start|>"])
    full = enc.sequence()
    assert len(full) == enc.total
    for i, step in enumerate(enc.steps):
        assert len(enc.sequence(without=i)) == enc.total - len(step)
        start = enc.step_starts()[i]
        assert full[start : start + len(step)] == step


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_cached_scores_match_naive_recomputation(tiny, batch_size: int) -> None:
    tokenizer, model = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "", "The answer is \\boxed{5}.")
    which = [1, 3, 4, 0, 2]  # every step, out of order: results come back in the order asked
    scorer = PIRScorer(model, batch_size=batch_size)
    fast, fast_full = scorer.score(enc, which)
    slow, slow_full = scorer.naive(enc, which)
    assert fast_full == pytest.approx(slow_full, abs=1e-4)
    assert fast == pytest.approx(slow, abs=1e-3)
    assert len(set(round(v, 6) for v in slow)) > 1  # the steps really differ in importance


def test_scores_match_with_real_model_and_a_bridge(smollm2_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype="float32").eval()
    enc = encode(tokenizer, "What is 2+3?", STEPS, "</think>\n\n", "2 + 3 = 5, so the answer is \\boxed{5}.")
    fast, _ = PIRScorer(model, batch_size=2).score(enc, [1, 3, 4])
    slow, _ = PIRScorer(model).naive(enc, [1, 3, 4])
    assert fast == pytest.approx(slow, abs=1e-3)


def test_too_long_chain_is_refused_not_truncated(tiny) -> None:
    tokenizer, model = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "", "5")
    with pytest.raises(ChainTooLongError, match=str(enc.total)):
        PIRScorer(model, max_tokens=enc.total - 1).score(enc, [1])


def test_sliding_window_models_are_scored_exactly_without_the_cache(tiny, caplog) -> None:
    """A sliding-window cache cannot be cropped back to a prefix (transformers refuses, or a recurrent
    state would already have seen the whole chain): such models are recomputed per ablated chain."""
    import logging

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from limopro_plugins.pir.score import full_attention_only

    tokenizer, model = tiny
    assert full_attention_only(model.config)
    settings = {k: v for k, v in model.config.to_dict().items() if k not in ("model_type", "layer_types")}
    config = AutoConfig.for_model(
        "qwen2", **{**settings, "use_sliding_window": True, "sliding_window": 4, "max_window_layers": 0}
    )
    torch.manual_seed(0)
    windowed = AutoModelForCausalLM.from_config(config).eval()
    assert not full_attention_only(windowed.config)
    enc = encode(tokenizer, "What is 2+3?", STEPS, "", "The answer is \\boxed{5}.")
    with caplog.at_level(logging.WARNING, logger="limopro_plugins.pir.score"):
        scorer = PIRScorer(windowed, batch_size=2)
    assert "recomputed from scratch" in caplog.text
    pirs, full = scorer.score(enc, [0, 1, 2])
    assert (pirs, full) == scorer.naive(enc, [0, 1, 2])


def test_a_base_tokenizer_without_chat_template_scores_with_its_bos(tiny_qwen_dir: Path) -> None:
    from tokenizers import processors
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    tokenizer.chat_template = None
    bos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", bos)]
    )
    enc = encode(tokenizer, "What is 2+3?", STEPS, "", "The answer is \\boxed{5}.")
    assert enc.prompt[0] == bos and bos not in enc.steps[0] + enc.answer
    assert enc.prompt == tokenizer("What is 2+3?\n\n")["input_ids"]
