"""The vLLM scorer's request plan, cache reads, missing log-probs and fallback, on CPU.

vLLM itself needs a GPU and its own environment; these tests drive VLLMScorer's real code path through
`PrefixCacheEngine` (tests/pir/vllm_standin.py), which keeps vllm.LLM.generate's contract for prompt
log-probabilities and its block prefix cache on the tiny transformers model, and compare every PIR with
the transformers scorer's on the same chains.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from limopro_plugins.pir.score import (
    PIRScorer,
    PromptRequest,
    VLLMScorer,
    accepts_cache_reads,
    answer_logprobs,
    encode,
    plan_requests,
)
from tests.pir.vllm_standin import OldSamplingParams, PrefixCacheEngine, SamplingParams

STEPS = [
    "First we compute 2 + 3 = 5. ",
    "Wait, let me check: 2 + 3 is 5. ",
    "So the sum is 5.\n\n",
    "Alternatively, count up from 2. ",
    "Hmm, this is wrong. It is 5.\n\n",
    "Therefore the total is 5.\n\n",
]
ANSWER = "The answer is \\boxed{5}."


@pytest.fixture(scope="module")
def tiny(tiny_qwen_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (
        AutoTokenizer.from_pretrained(tiny_qwen_dir),
        AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype="float32").eval(),
    )


def scorer(model, *, params=SamplingParams, **engine) -> VLLMScorer:
    return VLLMScorer(PrefixCacheEngine(model, **engine), params, max_tokens=4096)


def test_plan_runs_the_full_chain_alone_then_each_variant_with_its_answer_positions(tiny) -> None:
    tokenizer, _ = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "</think>\n\n", ANSWER)
    plan = plan_requests(enc, [3, 1, 3, 4])
    assert [w[0].variant for w in plan.waves] == [None, 3]
    assert plan.full.tokens == enc.sequence() and len(plan.waves[0]) == 1
    assert [v.variant for v in plan.variants] == [3, 1, 4]  # a step asked for twice is run once
    for request in (plan.full, *plan.variants):
        assert request.tokens == enc.sequence(without=request.variant)
        assert [request.tokens[p] for p in request.answer] == enc.answer
        assert request.answer.stop == len(request.tokens)
    starts = enc.step_starts()
    assert plan.naive_tokens() == enc.total + sum(enc.total - len(enc.steps[i]) for i in (3, 1, 4))
    assert plan.bound_tokens() == enc.total + sum(enc.total - len(enc.steps[i]) - starts[i] + 1 for i in (3, 1, 4))


def test_answer_log_probs_of_cached_positions_are_never_read(tiny) -> None:
    """A row at or before num_cached_tokens is not used whatever it holds: None, a plausible stale value,
    or left out (a shorter list, read from its end)."""
    tokenizer, _ = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "", ANSWER)
    request = plan_requests(enc, [2]).full
    n, first = len(request.tokens), request.answer.start

    class Lp:
        def __init__(self, value: float):
            self.logprob = value

    rows = [None] + [{request.tokens[p]: Lp(-p / 100)} for p in range(1, n)]
    expected = [-p / 100 for p in request.answer]
    assert answer_logprobs(request, rows, 0) == expected
    assert answer_logprobs(request, rows, first - 1) == expected  # row first-1 was run: its logits exist
    assert answer_logprobs(request, rows, first) is None  # ... now it was read from the cache
    assert answer_logprobs(request, [None] + rows[first:], first - 1) == expected  # rows left out
    assert answer_logprobs(request, [None] + rows[first + 1 :], first) is None
    holed = list(rows)
    holed[request.answer[2]] = None
    assert answer_logprobs(request, holed, 0) is None
    assert answer_logprobs(request, rows[:-1] + [{0 if request.tokens[-1] else 1: Lp(0.0)}], 0) is None
    assert answer_logprobs(request, None, 0) is None
    assert answer_logprobs(request, rows, None) is None  # no cache count: nothing can be trusted
    assert answer_logprobs(request, rows + [None], 0) is None


@pytest.mark.parametrize("cached_rows", ["none", "stale", "absent"])
def test_scores_equal_the_transformers_scorer_at_the_prefix_cache_bound(tiny, cached_rows: str) -> None:
    tokenizer, model = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "</think>\n\n", ANSWER)
    which = [4, 1, 3, 0]
    vllm = scorer(model, block_size=4, cached_rows=cached_rows)
    pirs, full = vllm.score(enc, which)
    expected, expected_full = PIRScorer(model).score(enc, which)
    assert full == pytest.approx(expected_full, abs=1e-4)
    assert pirs == pytest.approx(expected, abs=1e-4)
    assert len(set(round(v, 5) for v in pirs)) > 1
    engine, plan = vllm.engine, plan_requests(enc, which)
    # One call with the full chain, then one with every variant: nothing run twice, nothing rescored.
    assert engine.calls == [[enc.sequence()], [enc.sequence(without=i) for i in which]]
    assert vllm.counts.rescored == 0 and vllm.counts.requests == 1 + len(which)
    # Tokens run: the transformers scorer's bound, give or take a cache block per variant.
    assert engine.computed == vllm.counts.computed
    assert plan.bound_tokens() - len(which) <= engine.computed <= plan.bound_tokens() + len(which) * 3
    assert engine.computed < plan.naive_tokens() * 0.75


def test_a_chain_scored_twice_is_rescored_without_cache_reads(tiny) -> None:
    """The second time every answer token lies in the cached part: missing, so run again whole."""
    tokenizer, model = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "</think>\n\n", ANSWER)
    vllm = scorer(model, block_size=1, cached_rows="stale")
    first = vllm.score(enc, [1, 4])
    assert vllm.counts.rescored == 0
    second = vllm.score(enc, [1, 4])
    assert vllm.counts.rescored == 3
    assert second[0] == pytest.approx(first[0], abs=1e-5) and second[1] == pytest.approx(first[1], abs=1e-5)
    assert second[0] == pytest.approx(PIRScorer(model).score(enc, [1, 4])[0], abs=1e-4)


def test_answer_right_after_a_removed_last_step_is_rescored(tiny) -> None:
    """Without a bridge the answer follows the last step: the variant's cached prefix (block size 1: all
    of it) reaches the token whose logits predict the first answer token."""
    tokenizer, model = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "", ANSWER)
    last = len(STEPS) - 1
    vllm = scorer(model, block_size=1)
    pirs, _ = vllm.score(enc, [1, last])
    assert vllm.counts.rescored == 1
    assert vllm.engine.calls[-1] == [enc.sequence(without=last)]
    assert pirs == pytest.approx(PIRScorer(model).score(enc, [1, last])[0], abs=1e-4)


def test_vllm_without_cache_reads_scores_at_the_naive_cost_and_says_so_once(tiny, caplog) -> None:
    tokenizer, model = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "</think>\n\n", ANSWER)
    with caplog.at_level(logging.WARNING, logger="limopro_plugins.score"):
        vllm = scorer(model, params=OldSamplingParams)
        pirs, _ = vllm.score(enc, [1, 3])
        vllm.score(enc, [2])
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "skip_reading_prefix_cache" in caplog.text and "naive cost" in caplog.text
    assert vllm.counts.cached == 0 and vllm.counts.rescored == 0
    assert vllm.engine.computed == plan_requests(enc, [1, 3]).naive_tokens() + plan_requests(enc, [2]).naive_tokens()
    assert pirs == pytest.approx(PIRScorer(model).score(enc, [1, 3])[0], abs=1e-4)


def test_naive_runs_every_request_whole_in_one_call(tiny) -> None:
    tokenizer, model = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "</think>\n\n", ANSWER)
    vllm = scorer(model)
    vllm.score(enc, [1, 3])
    before = vllm.engine.computed
    pirs, _ = vllm.naive(enc, [1, 3])
    assert vllm.engine.computed - before == plan_requests(enc, [1, 3]).naive_tokens()
    assert len(vllm.engine.calls[-1]) == 3
    assert pirs == pytest.approx(PIRScorer(model).score(enc, [1, 3])[0], abs=1e-4)


def test_a_log_prob_missing_without_cache_reads_is_an_error_not_a_score(tiny) -> None:
    tokenizer, model = tiny
    enc = encode(tokenizer, "What is 2+3?", STEPS, "</think>\n\n", ANSWER)

    class Dropping(PrefixCacheEngine):
        def generate(self, prompts, sampling_params, *, use_tqdm=True):
            outputs = super().generate(prompts, sampling_params, use_tqdm=use_tqdm)
            for output in outputs:
                output.prompt_logprobs[-1] = None
            return outputs

    vllm = VLLMScorer(Dropping(model), SamplingParams, max_tokens=4096)
    with pytest.raises(RuntimeError, match="no log-probability"):
        vllm.score(enc, [1])


def test_prune_with_the_vllm_backend_without_vllm_says_how_to_install(tmp_path: Path, capsys) -> None:
    try:
        import vllm  # noqa: F401
    except ImportError:
        from limopro_plugins.prune import main

        assert main(["--backend", "vllm", "--limit", "1", "--output", str(tmp_path / "out")]) == 2
        assert 'pip install "limopro-plugins[vllm]"' in capsys.readouterr().err
    else:
        pytest.skip("vllm is installed here: benchmarks/gpu_check.sh is the check on a GPU")


@pytest.mark.slow
def test_the_gpu_benchmark_table_runs_on_the_stand_in(tiny, capsys) -> None:
    """The table `benchmarks/bench_pir.py --backend vllm` prints (`pir.vllm_check`), on three chains of
    the bundled sample: the code the GPU check runs, ending in PASS, and in FAIL at the naive cost."""
    from limopro_plugins.pir.vllm_check import print_vllm_rows, sample_chain_set, vllm_rows

    tokenizer, model = tiny
    name, chains = sample_chain_set()
    sample = [(name, chains[:3])]
    rows = vllm_rows(sample, tokenizer, PIRScorer(model), scorer(model, block_size=4, cached_rows="stale"), 1)
    assert print_vllm_rows(rows, 1e-3)
    (row,) = rows
    assert row.steps == sum(len(which) for _, which in chains[:3]) > 3
    assert row.within_bound() and row.computed < 0.75 * row.naive
    assert row.vs_transformers < 1e-4 and row.vs_whole < 1e-4
    assert "PASS" in capsys.readouterr().out
    rows = vllm_rows([(name, chains[:1])], tokenizer, PIRScorer(model), scorer(model, params=OldSamplingParams), 1)
    assert rows[0].computed == rows[0].naive
    assert not print_vllm_rows(rows, 1e-3)
    assert "FAIL" in capsys.readouterr().out


def test_the_gpu_check_stops_with_one_sentence_without_a_gpu(tmp_path: Path) -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has an NVIDIA GPU: run benchmarks/gpu_check.sh itself")
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, env={**os.environ, "VENV": str(venv)}, timeout=60
    )
    assert result.returncode == 2
    assert "gpu_check: no NVIDIA GPU here" in result.stderr
    assert not venv.exists()  # nothing installed


def test_the_installed_vllm_takes_the_cache_switch_and_its_results_are_read_alike() -> None:
    """Where vLLM is installed (benchmarks/gpu_check.sh runs this file in its environment): its
    SamplingParams accepts the cache switch, its RequestOutput reports num_cached_tokens, and its own
    Logprob entries are read as the stand-in's."""
    import inspect

    pytest.importorskip("vllm")
    from vllm import RequestOutput, SamplingParams
    from vllm.logprobs import Logprob

    assert accepts_cache_reads(SamplingParams)
    assert SamplingParams(max_tokens=1, prompt_logprobs=0).skip_reading_prefix_cache  # the default worked around
    assert "num_cached_tokens" in inspect.signature(RequestOutput).parameters
    tokens = list(range(5, 15))
    rows = [None] + [{token: Logprob(logprob=-p / 10)} for p, token in enumerate(tokens) if p]
    request = PromptRequest(None, tokens, range(7, 10))
    assert answer_logprobs(request, rows, 6) == pytest.approx([-0.7, -0.8, -0.9])
    assert answer_logprobs(request, rows, 7) is None
