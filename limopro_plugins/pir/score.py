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

`VLLMScorer` computes the same PIR through vLLM's prompt log-probabilities, the variants reading the
shared prefix from vLLM's prefix cache (its section below says how, and from which vLLM version).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

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


# vLLM: the prefix cache and prompt log-probabilities.
#
# vLLM (V1 engine) computes a prompt token's log-probability from the logits of the position before it,
# and only at positions it runs. A request that reads its first c tokens from the prefix cache never runs
# them, so it has no log-probability for tokens 1..c. Because of that, vLLM makes every request that asks
# for prompt log-probabilities skip reading the cache (`SamplingParams.skip_reading_prefix_cache`
# defaults to True for it), and then the prefill is the whole prompt: the naive cost. The parameter is
# settable from vLLM 0.11.1 on (vllm/sampling_params.py and vllm/v1/core/kv_cache_manager.py of the 0.11.1
# release; 0.11.0 skips the cache for such requests unconditionally). With cache reads allowed the answer
# tokens, which follow the removed step, are still run, since a variant shares with the full chain only the
# tokens before that step; `answer_logprobs` says when that fails and what comes back then.
MIN_VLLM_CACHE_READS = "0.11.1"


@dataclass(frozen=True)
class PromptRequest:
    """One prompt sent to vLLM: the full chain (`variant` None) or the chain without step `variant`."""

    variant: int | None
    tokens: list[int]
    answer: range  # positions of the answer tokens, whose log-probabilities PIR averages


@dataclass(frozen=True)
class RequestPlan:
    """The requests of one chain, in the order they run: the full chain alone, then every variant.

    The full chain goes first and alone because requests scheduled together cannot share KV blocks that
    none of them has computed yet; once it has run, its blocks are in the prefix cache and each variant
    reads the tokens before its removed step from there.
    """

    full: PromptRequest
    variants: tuple[PromptRequest, ...]
    starts: tuple[int, ...]  # position of each variant's removed step in the full chain

    @property
    def waves(self) -> tuple[tuple[PromptRequest, ...], ...]:
        return (self.full,), self.variants

    def naive_tokens(self) -> int:
        """Tokens run when every request is computed whole."""
        return len(self.full.tokens) + sum(len(v.tokens) for v in self.variants)

    def bound_tokens(self) -> int:
        """Tokens a prefix-reusing scorer must run: the full chain, then per variant its suffix from the
        token before the removed step (that token's logits predict what follows the step), as the
        transformers scorer does."""
        return len(self.full.tokens) + sum(len(v.tokens) - start + 1 for v, start in zip(self.variants, self.starts))


def plan_requests(encoded: Encoded, which: Sequence[int]) -> RequestPlan:
    """The full chain and one variant per distinct step of `which`, each with its answer positions."""
    starts = encoded.step_starts()
    steps = list(dict.fromkeys(which))
    variants = tuple(PromptRequest(i, encoded.sequence(without=i), encoded.answer_span(i)) for i in steps)
    return RequestPlan(
        PromptRequest(None, encoded.sequence(), encoded.answer_span()), variants, tuple(starts[i] for i in steps)
    )


def answer_logprobs(
    request: PromptRequest, prompt_logprobs: Sequence[Any] | None, num_cached_tokens: int | None
) -> list[float] | None:
    """The log-probabilities of the request's answer tokens from a vLLM result, or None when one of them
    was not computed (the request is then run again without cache reads).

    The token at position p gets its log-probability from the logits of position p-1, which exist only
    if p-1 was run, i.e. p > num_cached_tokens. What a result holds for cached positions depends on the
    version, so it is never read: vLLM 0.11.1-0.33 return a row of a buffer that was never written there
    (any value), vLLM's V2 model runner leaves those rows out (a shorter list, aligned at its end), and an
    entry may be None. The list is therefore read from its end, where both layouts agree, and only at
    positions after the cached ones. An answer token inside the cached part happens when the same
    sequence was computed before (a chain scored twice, a duplicate record) or when the answer follows the
    removed step directly and that step starts on a cache-block boundary.
    """
    if prompt_logprobs is None or num_cached_tokens is None:
        return None
    shift = len(request.tokens) - len(prompt_logprobs)  # rows left out before the first computed one
    if shift < 0:
        return None
    values = []
    for position in request.answer:
        if position - 1 < num_cached_tokens or position - shift < 1:
            return None
        entry = prompt_logprobs[position - shift]
        token = request.tokens[position]
        if entry is None or token not in entry:
            return None
        values.append(float(entry[token].logprob))
    return values


@dataclass
class TokenCounts:
    """What vLLM reported for the requests a VLLMScorer sent."""

    requests: int = 0
    prompt: int = 0  # prompt tokens sent
    cached: int = 0  # of them read from the prefix cache (vLLM's num_cached_tokens)
    rescored: int = 0  # requests sent again without cache reads because an answer log-prob was missing

    @property
    def computed(self) -> int:
        return self.prompt - self.cached


class PromptLogprobsEngine(Protocol):
    """What VLLMScorer uses of `vllm.LLM`; tests pass a stand-in built on a transformers model."""

    def generate(self, prompts: Any, sampling_params: Any, *, use_tqdm: bool = ...) -> Sequence[Any]: ...


class VLLMScorer:
    """The same PIR through vLLM's prompt log-probabilities, reading the shared prefix from its cache.

    Per chain the full sequence runs first, alone; then its variants, each allowed to read the prefix
    cache, so vLLM runs about the token bound of the transformers scorer instead of (n+1)·L tokens (up to
    a cache block more per variant: vLLM caches whole blocks). A request whose answer log-probabilities
    did not come back (see `answer_logprobs`) is run again without cache reads; still missing is an error,
    never a score. `counts` adds up the tokens sent, read from the cache and rescored.
    """

    def __init__(
        self,
        engine: PromptLogprobsEngine,
        sampling_params: Callable[..., Any],
        *,
        max_tokens: int | None,
        block_size: int = 16,
    ):
        self.engine = engine
        self.max_tokens = max_tokens
        self.block_size = block_size
        self.counts = TokenCounts()
        self.reads_cache = accepts_cache_reads(sampling_params)
        base = {"max_tokens": 1, "prompt_logprobs": 0, "temperature": 0.0}
        if self.reads_cache:
            self._params = {read: sampling_params(**base, skip_reading_prefix_cache=not read) for read in (True, False)}
        else:
            logger.warning(
                "this vLLM has no SamplingParams.skip_reading_prefix_cache (vLLM >= %s): requests for "
                "prompt log-probabilities cannot read the prefix cache, so every chain without a "
                "step is computed whole, at the naive cost of (n+1)·L tokens per chain",
                MIN_VLLM_CACHE_READS,
            )
            self._params = dict.fromkeys((True, False), sampling_params(**base))

    @classmethod
    def load(
        cls,
        model: str,
        *,
        dtype: str = "bfloat16",
        tensor_parallel_size: int = 1,
        max_tokens: int | None = None,
        gpu_memory_utilization: float = 0.9,
    ) -> VLLMScorer:
        """Load `model` in vLLM. vLLM is imported only here: it lives in an environment of its own (its pins
        conflict with LLaMA-Factory's)."""
        try:
            from vllm import LLM, SamplingParams
        except ImportError as error:
            raise ImportError(
                "--backend vllm needs vLLM, which conflicts with the training extra's pins: create a "
                'separate environment and run `pip install "limopro-plugins[vllm]"` there'
            ) from error
        # Without cache reads for these requests the cache would only cost memory, and vLLM's V0 engine
        # failed on prompt log-probabilities of cached prompts (vLLM issues 3251, 8268): off there.
        llm = LLM(
            model=model,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=accepts_cache_reads(SamplingParams),
            gpu_memory_utilization=gpu_memory_utilization,
        )
        engine = llm.llm_engine
        return cls(
            llm,
            SamplingParams,
            max_tokens=max_tokens or engine.model_config.max_model_len,
            block_size=engine.vllm_config.cache_config.block_size,
        )

    def check_length(self, encoded: Encoded) -> None:
        check_length(encoded, self.max_tokens)

    def score(self, encoded: Encoded, which: Sequence[int]) -> tuple[list[float], float]:
        """PIR of each step in `which` and the full-chain answer NLL, the variants reading the shared prefix
        from the cache."""
        self.check_length(encoded)
        plan = plan_requests(encoded, which)
        nlls: dict[int | None, float] = {}
        for wave in plan.waves:
            nlls.update(self._run(wave, read_cache=self.reads_cache))
        return [nlls[i] - nlls[None] for i in which], nlls[None]

    def naive(self, encoded: Encoded, which: Sequence[int]) -> tuple[list[float], float]:
        """The same, every request computed whole (the reference the benchmark times against)."""
        self.check_length(encoded)
        plan = plan_requests(encoded, which)
        nlls = self._run((plan.full, *plan.variants), read_cache=False)
        return [nlls[i] - nlls[None] for i in which], nlls[None]

    def _run(self, requests: Sequence[PromptRequest], *, read_cache: bool) -> dict[int | None, float]:
        """Answer NLL of each request, run together; those whose answer log-probs are missing again
        without cache reads."""
        if not requests:
            return {}
        outputs = self.engine.generate(
            [{"prompt_token_ids": r.tokens} for r in requests], self._params[read_cache], use_tqdm=False
        )
        nlls: dict[int | None, float] = {}
        missing = []
        for request, output in zip(requests, outputs, strict=True):
            cached = output.num_cached_tokens
            self.counts.requests += 1
            self.counts.prompt += len(request.tokens)
            self.counts.cached += cached or 0
            values = answer_logprobs(request, output.prompt_logprobs, cached)
            if values is None:
                missing.append(request)
            else:
                nlls[request.variant] = mean_nll(values)
        if missing and not read_cache:
            raise RuntimeError(
                f"vLLM returned no log-probability for an answer token of a prompt of "
                f"{len(missing[0].tokens)} tokens computed without the prefix cache"
            )
        if missing:
            self.counts.rescored += len(missing)
            nlls.update(self._run(missing, read_cache=False))
        return nlls


def accepts_cache_reads(sampling_params: Callable[..., Any]) -> bool:
    """Whether this vLLM lets a prompt-log-prob request read the prefix cache (vLLM >= 0.11.1)."""
    try:
        sampling_params(max_tokens=1, prompt_logprobs=0, skip_reading_prefix_cache=False)
    except TypeError:
        return False
    return True
