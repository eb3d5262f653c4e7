"""PIR scoring: how much the answer's perplexity rises when one reasoning step is removed.

    PIR(step) = log( PPL(answer | question + chain without step) / PPL(answer | question + full chain) )
              = mean NLL(answer | without step) - mean NLL(answer | full chain)

Higher means the step matters more to the answer. The sequence scored is

    [chat-template prompt with the question] [step 1] ... [step n] [bridge] [answer]

where each piece is tokenized on its own, so removing a step removes exactly its tokens and every
variant shares the other pieces' tokens (a piece boundary may tokenize differently from the same text
tokenized whole; that is identical in the full and ablated sequences, which is what PIR compares).

What is computed, and why it is exact:
- One forward pass over the full sequence, keeping the KV cache. The tokens before step i are the same in
  the full sequence and in "without step i", and attention is causal, so their keys/values are the same:
  the cache cropped to them is reused and only the suffix (steps after i, bridge, answer) is run, with
  positions continuing from the prefix exactly as in a recomputation.
- Steps are visited from the last to the first, so one cache is cropped shorter each time: no copies.
- Vocabulary logits are computed only at the answer positions (`logits_to_keep`), never over the chain.
- This holds for full-attention layers only. A sliding-window layer forgets early tokens and cannot be
  cropped back; a linear-attention (recurrent) layer keeps one state that has already seen the whole
  chain. For models with such layers every ablated chain is recomputed from scratch (`naive`): exact,
  slower, and said once in the log.
Token floor for n scored steps of a chain of L tokens: L + sum of suffix lengths (the naive way runs
(n+1)·L). `--batch-size B` runs B suffixes at once (right-padded, so no mask is needed) from the
earliest of their prefixes, trading some recomputation for parallelism on a GPU.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Encoded:
    """Token ids of one chain's pieces."""

    prompt: list[int]
    steps: list[list[int]]
    bridge: list[int]
    answer: list[int]

    @property
    def total(self) -> int:
        return len(self.prompt) + sum(map(len, self.steps)) + len(self.bridge) + len(self.answer)

    def step_starts(self) -> list[int]:
        """Position of each step's first token in the full sequence."""
        starts, cursor = [], len(self.prompt)
        for ids in self.steps:
            starts.append(cursor)
            cursor += len(ids)
        return starts

    def answer_span(self, without: int | None = None) -> range:
        """Positions of the answer tokens in `sequence(without)`: the tokens whose log-probabilities
        PIR averages. Every backend scores exactly these positions."""
        end = self.total - (len(self.steps[without]) if without is not None else 0)
        return range(end - len(self.answer), end)

    def sequence(self, without: int | None = None) -> list[int]:
        """The full sequence, or the one with step `without` removed."""
        ids = list(self.prompt)
        for i, step in enumerate(self.steps):
            if i != without:
                ids += step
        return ids + self.bridge + self.answer


class ChainTooLongError(ValueError):
    """The chain does not fit the scoring model's context; it is skipped and counted, never truncated."""


def check_length(encoded: Encoded, max_tokens: int | None) -> None:
    """Raise ChainTooLongError for a chain longer than the scoring limit (None: no limit)."""
    if max_tokens is not None and encoded.total > max_tokens:
        raise ChainTooLongError(f"chain has {encoded.total} tokens, more than the scoring limit of {max_tokens}")


def build_prompt(tokenizer: PreTrainedTokenizerBase, question: str) -> str:
    """The text before the reasoning: the model's chat template (user turn, assistant opened) if it has
    one, else the bare question and a blank line."""
    if getattr(tokenizer, "chat_template", None):
        return str(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
            )
        )
    return f"{question}\n\n"


def encode(
    tokenizer: PreTrainedTokenizerBase,
    question: str,
    steps: Sequence[str],
    bridge: str,
    answer: str,
) -> Encoded:
    """Tokenize the pieces of one chain separately (see the module docstring)."""

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    prompt_text = build_prompt(tokenizer, question)
    if getattr(tokenizer, "chat_template", None):
        prompt = ids(prompt_text)  # a chat template writes its own special tokens (a BOS included)
    else:  # a base model is trained with the BOS its tokenizer adds: score with it
        prompt = tokenizer(prompt_text, add_special_tokens=True)["input_ids"]
    if not prompt and tokenizer.bos_token_id is not None:
        prompt = [tokenizer.bos_token_id]
    encoded = Encoded(prompt, [ids(s) for s in steps], ids(bridge), ids(answer))
    if not encoded.prompt or not encoded.answer:
        raise ValueError("the prompt and the answer must both have at least one token")
    return encoded


def context_limit(model: PreTrainedModel) -> int | None:
    """The model's maximum sequence length, when its config states one."""
    return getattr(model.config, "max_position_embeddings", None)


def full_attention_only(config: Any) -> bool:
    """Whether every layer of the model attends to all earlier tokens (see the module docstring): only
    then can its cache be cropped to a prefix and extended."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    layer_types = getattr(text, "layer_types", None)
    if layer_types is not None:
        return all(kind == "full_attention" for kind in layer_types)
    return getattr(text, "sliding_window", None) is None or getattr(text, "use_sliding_window", True) is False


class PIRScorer:
    """Scores steps of encoded chains with a causal LM (transformers), exactly and without waste."""

    def __init__(self, model: PreTrainedModel, *, batch_size: int = 1, max_tokens: int | None = None):
        self.model = model
        self.batch_size = max(1, batch_size)
        self.max_tokens = max_tokens or context_limit(model)
        self.reuses_cache = full_attention_only(model.config)
        if not self.reuses_cache:
            logger.warning(
                "%s has sliding-window or linear-attention layers, whose cache cannot be cropped "
                "to a prefix: every chain without a step is recomputed from scratch (exact, "
                "slower)",
                type(model).__name__,
            )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def check_length(self, encoded: Encoded) -> None:
        check_length(encoded, self.max_tokens)

    @staticmethod
    def _kept(logits: torch.Tensor, rows: int) -> torch.Tensor:
        """The logits of a forward pass asked for `rows` positions. A transformers version without
        `logits_to_keep` (before 4.49) ignores it and returns every position: reading the last rows as
        the answer's would then be wrong, so that is an error, never a silent score."""
        if logits.shape[-2] != rows:
            raise RuntimeError(
                f"the model returned logits for {logits.shape[-2]} positions, not the {rows} "
                "asked for with logits_to_keep: transformers >= 4.49 is needed"
            )
        return logits

    def _answer_nll(self, logits: torch.Tensor, answer: torch.Tensor) -> float:
        """Mean NLL of `answer` (A ids) from the A logits rows that predict them."""
        import torch

        logprobs = torch.log_softmax(logits.float(), dim=-1)
        return float(-logprobs.gather(-1, answer[:, None]).mean())

    def naive(self, encoded: Encoded, which: Sequence[int]) -> tuple[list[float], float]:
        """Reference implementation: recompute every ablated sequence from scratch. Returns the PIR of
        each step in `which` and the full-chain answer NLL."""
        import torch

        n_answer = len(encoded.answer)
        answer = torch.tensor(encoded.answer, device=self.device)

        def nll(ids: list[int]) -> float:
            with torch.inference_mode():
                out = self.model(
                    input_ids=torch.tensor([ids], device=self.device),
                    use_cache=False,
                    logits_to_keep=n_answer + 1,
                )
            return self._answer_nll(self._kept(out.logits, n_answer + 1)[0, :-1], answer)

        full = nll(encoded.sequence())
        return [nll(encoded.sequence(without=i)) - full for i in which], full

    def score(self, encoded: Encoded, which: Sequence[int]) -> tuple[list[float], float]:
        """PIR of each step in `which`, reusing the full chain's KV cache. Returns (pirs, full NLL)."""
        import torch

        self.check_length(encoded)
        if not self.reuses_cache:
            return self.naive(encoded, which)
        n_answer = len(encoded.answer)
        answer = torch.tensor(encoded.answer, device=self.device)
        full_ids = encoded.sequence()
        starts = encoded.step_starts()
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([full_ids], device=self.device),
                use_cache=True,
                logits_to_keep=n_answer + 1,
            )
            full = self._answer_nll(self._kept(out.logits, n_answer + 1)[0, :-1], answer)
            cache = out.past_key_values
            pirs: dict[int, float] = {}
            order = sorted(set(which), key=lambda i: starts[i], reverse=True)
            for group_at in range(0, len(order), self.batch_size):
                group = order[group_at : group_at + self.batch_size]
                for i, value in zip(group, self._score_group(encoded, group, full_ids, starts, cache)):
                    pirs[i] = value - full
        return [pirs[i] for i in which], full

    def _score_group(
        self, encoded: Encoded, group: list[int], full_ids: list[int], starts: list[int], cache
    ) -> list[float]:
        """Answer NLLs without each step of `group`, run as one batch from the earliest step's prefix.

        The cache is cropped to the tokens before that step's start minus one: the last prefix token is
        re-run so its logits (which predict the first answer token when nothing follows the step) exist.
        """
        import torch

        keep = min(starts[i] for i in group) - 1
        cache.crop(keep)
        rows = []
        for i in group:
            end_of_step = starts[i] + len(encoded.steps[i])
            rows.append(full_ids[keep : starts[i]] + full_ids[end_of_step:])
        width = max(map(len, rows))
        n_answer = len(encoded.answer)
        answer = torch.tensor(encoded.answer, device=self.device)
        if len(rows) > 1:
            cache.batch_repeat_interleave(len(rows))
        batch = torch.tensor([r + [0] * (width - len(r)) for r in rows], device=self.device)
        shortest = min(map(len, rows))
        # Positions whose logits predict answer tokens, for every row: a contiguous window covers all.
        first = shortest - n_answer - 1
        out = self.model(
            input_ids=batch,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=torch.arange(first, width, device=self.device),
        )
        self._kept(out.logits, width - first)
        nlls = []
        for row, ids in enumerate(rows):
            lo = len(ids) - n_answer - 1 - first
            nlls.append(self._answer_nll(out.logits[row, lo : lo + n_answer], answer))
        cache.crop(keep)
        if len(rows) > 1:
            cache.batch_select_indices(torch.tensor([0], device=self.device))
        return nlls


def mean_nll(token_logprobs: Sequence[float]) -> float:
    """Mean negative log-likelihood of the answer from its tokens' log-probabilities."""
    return -sum(token_logprobs) / len(token_logprobs)


class VLLMScorer:
    """The same PIR through vLLM: prompt log-probabilities of every variant, prefix caching on.

    vLLM shares the KV blocks of the common prefix between the full chain and each ablated variant
    (automatic prefix caching), and `tensor_parallel_size` spreads a large scoring model over GPUs.
    vLLM is imported only here; it lives in an environment of its own (its pins conflict with
    LLaMA-Factory's).
    """

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "bfloat16",
        tensor_parallel_size: int = 1,
        max_tokens: int | None = None,
        gpu_memory_utilization: float = 0.9,
    ):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as error:
            raise ImportError(
                "--backend vllm needs vLLM, which conflicts with the training extra's pins: create a "
                'separate environment and run `pip install "limopro-plugins[vllm]"` there'
            ) from error
        self.llm = LLM(
            model=model,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=True,
            gpu_memory_utilization=gpu_memory_utilization,
        )
        self.params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        self.max_tokens = max_tokens or self.llm.llm_engine.model_config.max_model_len

    def check_length(self, encoded: Encoded) -> None:
        check_length(encoded, self.max_tokens)

    def score(self, encoded: Encoded, which: Sequence[int]) -> tuple[list[float], float]:
        from vllm.inputs import TokensPrompt

        self.check_length(encoded)
        variants: list[int | None] = [None, *which]
        prompts = [TokensPrompt(prompt_token_ids=encoded.sequence(without=v)) for v in variants]
        outputs = self.llm.generate(prompts, self.params, use_tqdm=False)
        nlls = []
        for variant, output in zip(variants, outputs):
            ids = encoded.sequence(without=variant)
            logprobs = output.prompt_logprobs
            nlls.append(mean_nll([logprobs[p][ids[p]].logprob for p in encoded.answer_span(variant)]))
        return [nll - nlls[0] for nll in nlls[1:]], nlls[0]
