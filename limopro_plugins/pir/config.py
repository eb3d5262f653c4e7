"""The settings of a prune run, typed: what the command line asks for, built once by the CLI.

The run never sees the command line itself; tests and scripts build a `RunConfig` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from limopro_plugins.pir.llm import ClassifierName, LLMConfig, SegmenterName
from limopro_plugins.pir.records import Fields, SchemaName
from limopro_plugins.pir.select import DEFAULT_RATIOS, Strategy

Backend = Literal["transformers", "vllm"]
"""transformers: PIR with the cached-prefix scorer; vllm: prompt log-probs with prefix caching."""
BACKENDS: tuple[Backend, ...] = get_args(Backend)
Dtype = Literal["float32", "bfloat16", "float16"]
DTYPES: tuple[Dtype, ...] = get_args(Dtype)
AnswerMode = Literal["solution", "boxed"]
"""The tokens whose perplexity PIR measures: the final solution, or its \\boxed{} answer only."""
ANSWER_MODES: tuple[AnswerMode, ...] = get_args(AnswerMode)


@dataclass(frozen=True)
class ModelConfig:
    """The scoring model and how it runs."""

    name: str = "smollm2"
    backend: Backend = "transformers"
    dtype: Dtype = "float32"
    device: str = "auto"
    batch_size: int = 1
    max_tokens: int | None = None
    tensor_parallel_size: int = 1


@dataclass(frozen=True)
class RayConfig:
    """`--ray`: score on a Ray cluster (pir/cluster.py) instead of in this process."""

    address: str | None = None
    """HOST:PORT or auto; None joins the local instance Ray finds, or starts one."""
    max_actors: int | None = None


@dataclass(frozen=True)
class RunConfig:
    """One prune run: input and output, the method, the scoring model, and the LLM when one is asked.

    `llm` is set exactly when `segmenter` or `classifier` is not "rule"."""

    input: str | None = None
    output: Path = Path("out/pir")
    name: str | None = None
    schema: SchemaName | None = None
    fields: Fields = Fields()
    limit: int | None = None
    strict: bool = False
    shard: tuple[int, int] | None = None
    ratios: tuple[float, ...] = DEFAULT_RATIOS
    strategy: Strategy = "pir"
    score_all: bool = False
    answer: AnswerMode = "solution"
    seed: int = 0
    model: ModelConfig = ModelConfig()
    segmenter: SegmenterName = "rule"
    classifier: ClassifierName = "rule"
    llm: LLMConfig | None = None
    ray: RayConfig | None = None
