"""A deterministic stand-in for `vllm.LLM` on a transformers model, for the vLLM scorer's CPU tests.

It keeps the contract of `LLM.generate` that VLLMScorer relies on for prompt log-probabilities, with the
prefix cache of vLLM's V1 engine:
- the cache holds whole blocks of `block_size` tokens, keyed by every token up to the block's end;
- a request reads the longest cached run of whole blocks of its prompt, at most its length minus one
  (the last token is always run for its logits), unless its sampling parameters skip cache reads;
- requests of one `generate` call are scheduled together: they read only blocks that earlier calls
  computed (a conservative model of blocks not yet computed when the request is scheduled);
- `prompt_logprobs[p]` is `{token: Logprob}` for the token at p from the logits of p-1, `None` at p = 0;
  for p <= num_cached_tokens vLLM never ran p-1, and `cached_rows` says what comes back there: `"none"`
  (None), `"stale"` (the right token with a wrong log-probability, like the unwritten buffer rows of
  vLLM 0.11.1-0.33) or `"absent"` (left out, a shorter list, like vLLM's V2 model runner).
Log-probabilities are real: one forward pass of the model over the whole prompt (equal, by causality, to
what a run from cached keys and values gives). `computed` counts the tokens a real engine would run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch


@dataclass
class Logprob:
    logprob: float


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    prompt_logprobs: list[dict[int, Logprob] | None]
    num_cached_tokens: int


class SamplingParams:
    """The fields VLLMScorer sets, with vLLM >= 0.11.1's default for cache reads."""

    def __init__(
        self,
        *,
        max_tokens: int = 16,
        prompt_logprobs: int | None = None,
        temperature: float = 1.0,
        skip_reading_prefix_cache: bool | None = None,
    ):
        self.max_tokens, self.prompt_logprobs, self.temperature = max_tokens, prompt_logprobs, temperature
        if skip_reading_prefix_cache is None:
            skip_reading_prefix_cache = prompt_logprobs is not None
        self.skip_reading_prefix_cache = skip_reading_prefix_cache


class OldSamplingParams:
    """vLLM < 0.11.1: no such parameter, and a prompt-log-prob request never reads the cache."""

    def __init__(self, *, max_tokens: int = 16, prompt_logprobs: int | None = None, temperature: float = 1.0):
        self.max_tokens, self.prompt_logprobs, self.temperature = max_tokens, prompt_logprobs, temperature
        self.skip_reading_prefix_cache = prompt_logprobs is not None


class PrefixCacheEngine:
    def __init__(self, model: Any, *, block_size: int = 4, cached_rows: Literal["none", "stale", "absent"] = "none"):
        self.model = model
        self.block_size = block_size
        self.cached_rows = cached_rows
        self.blocks: set[tuple[int, ...]] = set()
        self.calls: list[list[list[int]]] = []  # the prompts of each generate call, in order
        self.computed = 0

    def reset_prefix_cache(self) -> None:
        self.blocks.clear()

    def _hit(self, ids: list[int]) -> int:
        hit = 0
        while hit + self.block_size <= len(ids) - 1 and tuple(ids[: hit + self.block_size]) in self.blocks:
            hit += self.block_size
        return hit

    def _logprobs(self, ids: list[int]) -> list[float]:
        """log P(ids[p] | ids[:p]) for p = 1..len-1."""
        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
        rows = torch.log_softmax(logits, dim=-1)
        return rows.gather(-1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()

    def generate(
        self, prompts: list[dict[str, list[int]]], sampling_params: Any, *, use_tqdm: bool = True
    ) -> list[RequestOutput]:
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        self.calls.append([p["prompt_token_ids"] for p in prompts])
        outputs, written = [], set()
        for prompt, param in zip(prompts, params):
            ids = list(prompt["prompt_token_ids"])
            cached = 0 if param.skip_reading_prefix_cache else self._hit(ids)
            self.computed += len(ids) - cached
            values = self._logprobs(ids)
            rows: list[dict[int, Logprob] | None] = [None]
            for p in range(1, len(ids)):
                if p > cached:
                    rows.append({ids[p]: Logprob(values[p - 1])})
                elif self.cached_rows == "stale":
                    rows.append({ids[p]: Logprob(0.0)})
                elif self.cached_rows == "none":
                    rows.append(None)
            outputs.append(RequestOutput(ids, rows, cached))
            written.update(tuple(ids[:end]) for end in range(self.block_size, len(ids) + 1, self.block_size))
        self.blocks |= written
        return outputs
