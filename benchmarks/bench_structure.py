"""How well the steps and modes match a careful reading: per-character scores against a gold annotation.

Scores the rules before episode-level steps (commit 75a8fba, read from git history) first, then the
current rules, in one run, on real chains and their gold episodes (`limopro_plugins.pir.gold` says how).
Given an OpenAI-compatible endpoint, it then scores the LLM segmenter and classifier chosen, as
`python -m limopro_plugins.prune` runs them (`llm.llm_structure`):

    python -m benchmarks.bench_structure [--chains ../shared/data/reasoning_traces.jsonl]
        [--gold ../shared/data/reasoning_traces_gold.jsonl] [--tokenizer smollm2|none]
        [--base-url URL --llm-model NAME [--segmenter rule|llm] [--classifier rule|hybrid|llm]
         [--api-key-env VAR] [--llm-cache DIR]]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from pathlib import Path

from limopro_plugins.pir.gold import Spans, Structurer, read_jsonl, rule_structure, score_files
from limopro_plugins.pir.llm import CLASSIFIERS, SEGMENTERS, ChatClient, LLMConfig, llm_structure
from limopro_plugins.pir.records import split_response

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
BASELINE = "75a8fba"
"""The last commit with sentence-level marker rules (segment.py and classify.py at the package root)."""


def baseline() -> Structurer | None:
    """The rules of BASELINE, loaded from git history (None outside a git checkout)."""

    def source(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{BASELINE}:{path}"], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout

    try:
        classify_source = source("limopro_plugins/classify.py")
        segment_source = source("limopro_plugins/segment.py")
    except (OSError, subprocess.CalledProcessError):
        return None
    old_classify = types.ModuleType("baseline_classify")
    exec(compile(classify_source, "baseline/classify.py", "exec"), old_classify.__dict__)
    sys.modules["baseline_classify"] = old_classify
    old_segment = types.ModuleType("baseline_segment")
    sys.modules["baseline_segment"] = old_segment  # dataclasses look their module up there
    segment_source = segment_source.replace("from limopro_plugins.classify import", "from baseline_classify import")
    exec(compile(segment_source, "baseline/segment.py", "exec"), old_segment.__dict__)

    def old(reasoning: str, answer: str | None) -> Spans:
        steps = old_segment.segment(reasoning)
        modes = old_classify.RuleClassifier().classify([s.text for s in steps])
        return [(s.start, s.end, m.value) for s, m in zip(steps, modes)]

    return old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=Path, default=SHARED / "reasoning_traces.jsonl")
    parser.add_argument("--gold", type=Path, default=SHARED / "reasoning_traces_gold.jsonl")
    parser.add_argument("--tokenizer", default="smollm2", help="tokenizer for step lengths in tokens ('none': skip)")
    llm = parser.add_argument_group("an LLM segmenter or classifier, scored when --base-url is given")
    llm.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    llm.add_argument("--llm-model", help="model name the endpoint serves")
    llm.add_argument("--segmenter", choices=SEGMENTERS, default="rule")
    llm.add_argument("--classifier", choices=CLASSIFIERS, default="llm")
    llm.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    llm.add_argument("--llm-cache", type=Path, help="answer cache (default: the user cache folder)")
    args = parser.parse_args()
    if args.base_url and not args.llm_model:
        parser.error("--base-url needs --llm-model")
    tokenizer = None
    if args.tokenizer != "none":
        from limopro_plugins.pir.models import load_tokenizer, resolve

        tokenizer = load_tokenizer(resolve(args.tokenizer))
    chains = read_jsonl(args.chains)
    characters = sum(len(split_response(c["solution"]).reasoning) for c in chains)
    print(
        f"{len(chains)} chains, {characters:,} characters of reasoning, scored per character against {args.gold.name}"
    )
    old = baseline()
    print(f"\n== baseline: sentence-level markers ({BASELINE})")
    print(
        score_files(args.chains, args.gold, old, tokenizer).table() if old else "not available (needs the git history)"
    )
    print("\n== current: episode-level steps, modes from context")
    print(score_files(args.chains, args.gold, rule_structure, tokenizer).table())
    if args.base_url:
        print(f"\n== {args.llm_model}: --segmenter {args.segmenter} --classifier {args.classifier}")
        client = ChatClient(LLMConfig(args.base_url, args.llm_model, args.api_key_env, cache=args.llm_cache))
        print(score_files(args.chains, args.gold, endpoint_structure(client, chains, args), tokenizer).table())


def endpoint_structure(client: ChatClient, chains: list[dict], args: argparse.Namespace) -> Structurer:
    """The LLM components' steps and modes; the structurer is given a reasoning, the LLM its question too."""
    questions = {split_response(c["solution"]).reasoning: c["question"] for c in chains}

    def structured(reasoning: str, answer: str | None) -> Spans:
        found = llm_structure(client, questions[reasoning], reasoning, args.segmenter, args.classifier, answer)
        return [(start, end, mode.value) for start, end, mode in found]

    return structured


if __name__ == "__main__":
    main()
