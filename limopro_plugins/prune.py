"""`python -m limopro_plugins.prune`: refine reasoning chains with PIR (segment, classify, score, prune).

Argument parsing, the typed run configuration built from it, and the LLaMA-Factory registration of the
result; the run itself is `limopro_plugins.pir.run`, the pruning rule `limopro_plugins.pir.select`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from limopro_plugins.cli import add_field_flags, fields_from
from limopro_plugins.pir.config import ANSWER_MODES, BACKENDS, DTYPES, ModelConfig, RayConfig, RunConfig
from limopro_plugins.pir.llm import CLASSIFIERS, SEGMENTERS, LLMConfig
from limopro_plugins.pir.records import SCHEMAS
from limopro_plugins.pir.run import Finished, PipelineError, merge, run
from limopro_plugins.pir.select import DEFAULT_RATIOS, STRATEGIES


def parse_ratios(text: str) -> list[float]:
    """'0.2,0.3' -> [0.2, 0.3], each in (0, 1]."""
    try:
        ratios = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--ratios: {error}") from error
    if not ratios or any(not 0 < r <= 1 for r in ratios):
        raise argparse.ArgumentTypeError("--ratios needs values in (0, 1], e.g. 0.2,0.3,0.5")
    return ratios


def parse_shard(text: str) -> tuple[int, int]:
    """'2/8' -> (2, 8): this process handles the records whose index mod 8 is 2."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError as error:
        raise argparse.ArgumentTypeError("--shard takes I/N, e.g. 0/4") from error
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= I < N")
    return i, n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m limopro_plugins.prune",
        description="Refine reasoning chains with PIR: segment, classify, score, prune. With no --input "
        "it runs on the bundled sample chains with the offline default model.",
    )
    io = parser.add_argument_group("input and output")
    io.add_argument("--input", help="JSON / JSONL / Parquet file, or a Hugging Face dataset NAME[:SPLIT]")
    io.add_argument("--output", default="out/pir", help="output folder (default: %(default)s)")
    io.add_argument("--name", help="dataset name in output files (default: <input stem>_<strategy>)")
    io.add_argument("--schema", choices=SCHEMAS, help="input schema (default: detected per record)")
    add_field_flags(io)
    io.add_argument("--limit", type=int, help="read only the first N records")
    io.add_argument("--strict", action="store_true", help="stop at the first bad record")
    io.add_argument(
        "--shard",
        type=parse_shard,
        metavar="I/N",
        help="process only records with index mod N == I (then: prune merge OUT_0 ... OUT_N-1)",
    )
    io.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="score on a Ray cluster, one scorer per GPU (or CPU slot): at ADDRESS (HOST:PORT, auto), or "
        "without one on the local instance Ray finds or starts (needs limopro-plugins[ray])",
    )
    io.add_argument("--ray-actors", type=int, metavar="N", help="with --ray: at most N scorer actors")
    io.add_argument(
        "--register", metavar="DIR", help="also register every pruned ratio in DIR/dataset_info.json for LLaMA-Factory"
    )
    io.add_argument(
        "--force", action="store_true", help="with --register: replace existing dataset_info entries of the same name"
    )
    method = parser.add_argument_group("method")
    method.add_argument(
        "--ratios",
        type=parse_ratios,
        default=list(DEFAULT_RATIOS),
        help="comma-separated pruning ratios (default: 0.2,...,0.8)",
    )
    method.add_argument("--strategy", choices=STRATEGIES, default="pir")
    method.add_argument(
        "--score-all", action="store_true", help="score progressive steps too (analysis; implied by --strategy ppl-all)"
    )
    method.add_argument(
        "--answer",
        choices=ANSWER_MODES,
        default="solution",
        help="tokens whose perplexity PIR measures: the final solution, or its \\boxed{} only",
    )
    method.add_argument("--seed", type=int, default=0, help="seed of the random strategy")
    model = parser.add_argument_group("scoring model")
    model.add_argument(
        "--model",
        default="smollm2",
        help="hub id, local folder or .gguf file (default: bundled SmolLM2-135M-Instruct; "
        "the paper used Qwen/Qwen2.5-32B-Instruct)",
    )
    model.add_argument(
        "--backend",
        choices=BACKENDS,
        default="transformers",
        help="vllm: prompt log-probs, the variants reading the shared prefix from vLLM's prefix cache "
        "(vLLM >= 0.11.1), in vLLM's own environment",
    )
    model.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs per model (vllm backend)")
    model.add_argument("--dtype", default="float32", choices=DTYPES)
    model.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if present)")
    model.add_argument("--batch-size", type=int, default=1, help="ablated suffixes run per forward pass")
    model.add_argument(
        "--max-tokens", type=int, help="skip (and count) chains longer than this (default: the model's context)"
    )
    llm = parser.add_argument_group("LLM segmentation and classification (needs limopro-plugins[llm])")
    llm.add_argument(
        "--segmenter",
        choices=SEGMENTERS,
        default="rule",
        help="llm: an LLM groups the sentences into steps, whole checks and corrections each one step "
        "(validated; rules on failure)",
    )
    llm.add_argument(
        "--classifier",
        choices=CLASSIFIERS,
        default="rule",
        help="hybrid: the paper's way, the rules decide where they see a functional step and the LLM labels "
        "the rest; llm: the LLM labels every step, with the rule label as a hint (one request per chain "
        "either way; rules on failure)",
    )
    llm.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (vllm serve)")
    llm.add_argument("--llm-model", help="model name the endpoint serves")
    llm.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (default: %(default)s; unset: no key)",
    )
    llm.add_argument("--llm-concurrency", type=int, default=8, help="requests in flight (default: %(default)s)")
    llm.add_argument("--llm-timeout", type=float, default=300.0, help="seconds per request (default: %(default)s)")
    llm.add_argument(
        "--llm-retries",
        type=int,
        default=4,
        help="retries with backoff on 429, 5xx and timeouts (default: %(default)s)",
    )
    llm.add_argument(
        "--llm-cache", metavar="DIR", help="answer cache, shared by reruns and shards (default: the user cache folder)"
    )
    return parser


def build_merge_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m limopro_plugins.prune merge",
        description="Combine the output folders of a sharded run (--shard I/N) into the files one "
        "unsharded run would have written.",
    )
    parser.add_argument("shards", nargs="+", type=Path, help="the N shard output folders")
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--register", metavar="DIR")
    parser.add_argument("--force", action="store_true")
    return parser


def run_config(args: argparse.Namespace) -> RunConfig:
    """The typed run configuration the parsed flags describe."""
    llm = None
    if (args.segmenter, args.classifier) != ("rule", "rule"):
        llm = LLMConfig(
            args.base_url,
            args.llm_model,
            args.api_key_env,
            args.llm_concurrency,
            args.llm_timeout,
            args.llm_retries,
            Path(args.llm_cache) if args.llm_cache else None,
        )
    model = ModelConfig(
        args.model,
        args.backend,
        args.dtype,
        args.device,
        args.batch_size,
        args.max_tokens,
        args.tensor_parallel_size,
    )
    return RunConfig(
        input=args.input,
        output=Path(args.output),
        name=args.name,
        schema=args.schema,
        fields=fields_from(args),
        limit=args.limit,
        strict=args.strict,
        shard=args.shard,
        ratios=tuple(args.ratios),
        strategy=args.strategy,
        score_all=args.score_all,
        answer=args.answer,
        seed=args.seed,
        model=model,
        segmenter=args.segmenter,
        classifier=args.classifier,
        llm=llm,
        ray=RayConfig(args.ray or None, args.ray_actors) if args.ray is not None else None,
    )


def register(finished: Finished, dataset_dir: str, force: bool) -> None:
    """Register every pruned ratio for LLaMA-Factory. The pruned records keep the input's schema and
    field names, so they are read with the run's own --schema and --*-field settings."""
    from limopro_plugins.train.dataset_info import RegistrationError, register_pruned

    try:
        register_pruned(
            Path(dataset_dir),
            finished.out,
            finished.spec.name,
            [f"{r:g}" for r in finished.spec.ratios],
            schema=finished.settings.schema,
            fields=finished.settings.fields,
            force=force,
        )
    except RegistrationError as error:
        raise PipelineError(
            f"{error}. The files in {finished.out} are complete: once that is fixed, the same "
            "command registers them without scoring again"
        ) from error


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    merging = bool(argv) and argv[0] == "merge"
    parser = build_merge_parser() if merging else build_parser()
    args = parser.parse_args(argv[1:] if merging else argv)
    if not merging and (args.segmenter, args.classifier) != ("rule", "rule") and not (args.base_url and args.llm_model):
        parser.error("--segmenter llm and --classifier hybrid / llm need --base-url and --llm-model")
    if not merging and args.llm_concurrency < 1:
        parser.error("--llm-concurrency must be at least 1")
    if not merging and args.ray is not None and args.device.startswith("cuda:"):
        parser.error("--ray gives each scorer its own GPUs: use --device auto (or cuda, or cpu), not a GPU number")
    if not merging and args.ray_actors is not None and args.ray_actors < 1:
        parser.error("--ray-actors must be at least 1")
    try:
        finished = merge(args.shards, args.output) if merging else run(run_config(args))
        if args.register:
            register(finished, args.register, args.force)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"\ninterrupted: run the same command again to resume from {args.output}", file=sys.stderr)
        return 130
    print(finished.summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
