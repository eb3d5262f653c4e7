"""The prune run: read -> segment -> classify -> score -> write, resumable and crash-safe.

Files in the output folder:
- `run.json`: the settings that determine the scores; a resumed run must match them (it may raise
  `--limit` to go on, not lower it below records already done). With an LLM component they include a
  fingerprint of its prompts. A run.json without one was written before `--classifier hybrid` existed:
  its `--classifier llm` was the hybrid, so it resumes as `--classifier hybrid` (and `--classifier llm`,
  which now lets the LLM label every step, is refused on it).
- `structure.jsonl`: one line per chain in input order (steps with text, offsets, mode, tokens, PIR),
  appended and flushed (fsync) as each chain finishes. It is the checkpoint: after Ctrl-C or kill -9
  the same command drops a torn last line, skips the chains already there and goes on.
- `rejects.jsonl`: bad records with line number and reason, appended the same way. A row of either file
  holds the SHA-256 of its record as read (`record_hash`): a resumed run redoes the records edited since
  and drops the rows of removed ones, so its files always describe the current input.
- `pruning/<name>_<ratio>.jsonl` and `meta.json`: rebuilt from the two files above at the end of every
  run and written atomically, so they are identical to those of an uninterrupted run. `pruning/` holds
  exactly the files `meta.json` describes: those of earlier --ratios or --name are removed (the same
  command with those ratios rebuilds them from structure.jsonl without scoring).
- `.lock`: held by the run writing the folder; a second run on it is refused (`claimed_folder`).
Chains too long for the scoring model are recorded with status `skipped` and copied unpruned into
every pruned file (the dataset keeps its size); the summary counts them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import sys
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from limopro_plugins import __version__
from limopro_plugins.pir.answers import extract_math_answer
from limopro_plugins.pir.cluster import ClusterError, RaySpec, imap_ordered
from limopro_plugins.pir.config import AnswerMode, Backend, Dtype, ModelConfig, RayConfig, RunConfig
from limopro_plugins.pir.io import (
    FolderError,
    append_jsonl,
    atomic_write_json,
    atomic_write_jsonl,
    claimed_folder,
    read_jsonl_tolerant,
)
from limopro_plugins.pir.llm import (
    OUTCOMES,
    PROMPTS_BEFORE_FINGERPRINTS,
    Annotation,
    ChatClient,
    ClassifierName,
    LLMConfig,
    LLMError,
    SegmenterName,
    annotate_reasoning,
    prompts_fingerprint,
)
from limopro_plugins.pir.records import Chain, Fields, InputError, Reject, SchemaName, read_chains
from limopro_plugins.pir.select import Strategy, chain_rng, select_removals
from limopro_plugins.pir.stats import stats_from_structure
from limopro_plugins.text import THINK_CLOSE, Mode

if TYPE_CHECKING:
    from limopro_plugins.pir.score import PIRScorer, VLLMScorer

SAMPLE_NAME = "sample"
ROW_FILES = ("structure.jsonl", "rejects.jsonl")
"""The checkpoint files, one row per record processed (a chain's structure or a bad record)."""
NO_BOXED_ANSWER = (
    "--answer boxed: nothing to box (no \\boxed{} and no 'the answer is ...' in the final "
    "solution, and no answer field)"
)


class PipelineError(RuntimeError):
    """A run cannot start or go on; the message says why and what to do."""

    status = 2
    """The command's exit status."""


class DiskFullError(PipelineError):
    """The disk filled up mid-run: every finished chain is on disk, and the same command resumes."""

    status = 1


def _os_failure(error: OSError, out: Path) -> PipelineError:
    """One sentence for a failed read or write, naming the file (a full disk: exit 1, resumable)."""
    where = error.filename or out
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(
            f"{where}: no space left on the device; the chains finished so far are kept in {out}: free "
            "space and run the same command again to resume"
        )
    return PipelineError(f"{where}: {error.strerror or error}")


def sample_path() -> Path:
    """The bundled sample of reasoning chains (LIMO schema), used when no --input is given."""
    return Path(str(resources.files("limopro_plugins") / "data" / "sample_chains.jsonl"))


@dataclass
class Counts:
    read: int = 0
    scored: int = 0
    skipped: int = 0
    rejected: int = 0

    def line(self) -> str:
        return (
            f"read: {self.read}, scored: {self.scored}, skipped (too long, kept unpruned): "
            f"{self.skipped}, rejected: {self.rejected}"
        )


@dataclass(frozen=True)
class Settings:
    """What determines the scores of a run: run.json holds them (`asdict`) and a resumed run must match."""

    input: str
    model: str
    backend: Backend
    dtype: Dtype
    answer: AnswerMode
    score_all: bool
    max_tokens: int | None
    schema: SchemaName | None
    fields: Fields = Fields()
    limit: int | None = None
    segmenter: SegmenterName = "rule"
    classifier: ClassifierName = "rule"
    llm_model: str | None = None
    llm_prompts: dict[str, str] | None = None

    @property
    def uses_llm(self) -> bool:
        return self.segmenter != "rule" or self.classifier != "rule"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        """The settings a run.json holds (without its shard)."""
        return cls(**(data | {"fields": Fields(**data.get("fields", {}))}))


def _settings(config: RunConfig, source: str) -> Settings:
    model = config.model
    return Settings(
        source,
        model.name,
        model.backend,
        model.dtype,
        config.answer,
        config.score_all or config.strategy == "ppl-all",
        model.max_tokens,
        config.schema,
        config.fields,
        config.limit,
        config.segmenter,
        config.classifier,
        config.llm.model if config.llm else None,
        prompts_fingerprint(config.segmenter, config.classifier),
    )


def _run_record(settings: Settings, shard: tuple[int, int] | None) -> dict[str, Any]:
    """Contents of run.json: the scoring settings, and the shard when the run is one."""
    return asdict(settings) | ({"shard": f"{shard[0]}/{shard[1]}"} if shard else {})


def read_run_record(path: Path) -> dict[str, Any]:
    """A run.json as this version writes it (`upgraded_run_record`)."""
    return upgraded_run_record(json.loads(path.read_text()))


def upgraded_run_record(written: dict[str, Any]) -> dict[str, Any]:
    """The settings of a run.json as this version writes them. One without "llm_prompts" was written
    before `--classifier hybrid` existed: its classifier "llm" was the paper's hybrid and is read as
    "hybrid", and its LLM components used the prompts of that time."""
    if "llm_prompts" in written:
        return written
    record = dict(written)
    if record.get("classifier") == "llm":
        record["classifier"] = "hybrid"
    before = {"segment": record.get("segmenter") == "llm", "classify": record.get("classifier") == "hybrid"}
    record["llm_prompts"] = {part: PROMPTS_BEFORE_FINGERPRINTS[part] for part, used in before.items() if used} or None
    return record


def _check_settings(out: Path, settings: Settings, shard: tuple[int, int] | None) -> None:
    """Refuse to resume a run made with other scoring settings. The limit is checked against the rows
    instead (`_check_limit`): raising it continues a run."""
    path = out / "run.json"
    if not path.exists():
        return
    now = _run_record(settings, shard)
    written = json.loads(path.read_text())
    before = upgraded_run_record(written)
    changed = {k: (before.get(k), v) for k, v in now.items() if before.get(k) != v and k != "limit"}
    if not changed:
        return
    if changed.get("classifier") == ("hybrid", "llm") and written.get("classifier") == "llm":
        raise PipelineError(
            f"{out} holds a run made with --classifier llm before --classifier hybrid existed: that was the "
            "paper's hybrid (the rules decide where they see a functional step, the LLM labels the rest). "
            "Resume it with --classifier hybrid, or use another --output for --classifier llm, which now lets "
            "the LLM label every step"
        )
    if set(changed) == {"llm_prompts"}:
        raise PipelineError(
            f"{out} holds a run made with other LLM prompts (another version of limopro-plugins): resuming "
            "would label its chains two ways; use another --output or delete the folder"
        )
    raise PipelineError(
        f"{out} holds a run with other settings {changed} (was, now); use another --output or delete the folder"
    )


def _check_limit(out: Path, limit: int | None, rows: Iterable[dict[str, Any]]) -> None:
    """Refuse a --limit below records already done: their rows would stay in structure.jsonl while
    meta.json and the pruned files describe only the first `limit` records."""
    last = max((row["index"] for row in rows), default=-1)
    if limit is not None and last >= limit:
        raise PipelineError(
            f"{out} already holds results for records past --limit {limit} (up to record {last + 1}); a "
            f"resumed run can raise or drop --limit, not lower it: use another --output for the first {limit}"
        )


def record_hash(item: Chain | Reject) -> str:
    """SHA-256 of a record as read, with its line: what a resumed run compares to notice an edited input."""
    return hashlib.sha256(json.dumps([item.line, item.record], ensure_ascii=False).encode()).hexdigest()


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace a checkpoint file atomically; with no rows remove it, as a run that never had any leaves none."""
    if rows:
        atomic_write_jsonl(path, rows)
    else:
        path.unlink(missing_ok=True)


def _resume(out: Path, settings: Settings, shard: tuple[int, int] | None, strict: bool) -> set[int]:
    """Indices of the records a resumed run need not process again: those whose rows hold the hash of
    the record now in the input. Rows of records edited or removed since are dropped (the files are
    rewritten atomically), so the run ends as an uninterrupted one on the current input. With --strict,
    rejects are read again, so the run stops at the first one as it would from the start."""
    rows = {name: read_jsonl_tolerant(out / name) for name in ROW_FILES}
    if not any(rows.values()):
        return set()
    _check_limit(out, settings.limit, (row for found in rows.values() for row in found))
    current = {item.index: record_hash(item) for item in _limited(settings.input, settings, shard)}
    done: set[int] = set()
    for name, found in rows.items():
        # a row without a hash was written before hashes were kept: trusted, not redone
        kept = [
            row
            for row in found
            if row["index"] in current and row.get("record_hash", current[row["index"]]) == current[row["index"]]
        ]
        if len(kept) < len(found):
            print(
                f"{len(found) - len(kept)} row(s) of {name} belong to records edited or removed in "
                f"{settings.input} since: dropped, the current records are processed",
                file=sys.stderr,
            )
            _write_rows(out / name, kept)
        if name == "structure.jsonl" or not strict:
            done.update(row["index"] for row in kept)
    return done


def _device(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def boxed_answer(chain: Chain) -> str | None:
    """What `--answer boxed` scores inside \\boxed{}: the final solution's own answer (its last non-empty
    box, else its "the answer is X" phrase, read as the graders read it), else the answer field. None
    when there is none: an empty box would measure nothing about the reasoning."""
    found = extract_math_answer(chain.solution) if chain.solution else None
    return found or (chain.answer or "").strip() or None


def _scorable(item: Chain | Reject, answer_mode: AnswerMode) -> Chain | Reject:
    """A chain with nothing to score is a reject (line and reason kept), as records.py rejects one with no
    final solution and no answer: with --answer boxed, one where `boxed_answer` finds no answer."""
    if isinstance(item, Chain) and answer_mode == "boxed" and boxed_answer(item) is None:
        return Reject(item.index, item.line, NO_BOXED_ANSWER, item.record)
    return item


def answer_text(chain: Chain, mode: AnswerMode) -> tuple[str, str]:
    """(bridge, answer) texts: what joins reasoning and answer, and the tokens PIR measures."""
    bridge = f"{THINK_CLOSE}\n\n" if THINK_CLOSE in chain.split.tail else ""
    if mode == "boxed":
        return bridge, f"\\boxed{{{boxed_answer(chain)}}}"
    return bridge, chain.solution or f"\\boxed{{{(chain.answer or '').strip()}}}"


def _limited(source: str, settings: Settings, shard: tuple[int, int] | None = None) -> Iterator[Chain | Reject]:
    """The records of this run: the first `limit`, and of those this shard's (index mod N == I); chains
    the settings cannot score come as rejects (`_scorable`)."""
    for item in read_chains(source, schema=settings.schema, fields=settings.fields):
        if settings.limit is not None and item.index >= settings.limit:
            return
        if shard is None or item.index % shard[1] == shard[0]:
            yield _scorable(item, settings.answer)


def _count_records(source: str, limit: int | None) -> int | None:
    """Records in a JSONL file (for the progress bar's ETA); None when it is not cheap to know."""
    path = Path(source)
    if not path.is_file() or path.suffix != ".jsonl":
        return None
    with path.open("rb") as handle:
        total = sum(1 for line in handle if line.strip())
    return min(total, limit) if limit is not None else total


def annotate(chain: Chain, settings: Settings, client: ChatClient | None = None) -> Annotation:
    """Segment and classify one chain with the rules, or the LLM where the settings ask for it."""
    # the chain's answer tells the rules where a second method has a result to confirm
    return annotate_reasoning(
        client, chain.question, chain.reasoning, settings.segmenter, settings.classifier, boxed_answer(chain)
    )


def annotated(
    items: Iterable[Chain | Reject], fn: Callable[[Chain], Annotation], workers: int
) -> Iterator[tuple[Chain | Reject, Annotation | None]]:
    """(item, annotation) in input order. With workers > 0 the annotations of the next chains are
    computed on that many threads while the caller scores, so LLM calls overlap scoring; at most
    2 x workers chains are held ahead."""
    if workers <= 0:
        for item in items:
            yield item, fn(item) if isinstance(item, Chain) else None
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="limopro-llm")
    pending: deque[tuple[Chain | Reject, Future | None]] = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(fn, item) if isinstance(item, Chain) else None))
            while len(pending) > 2 * workers:
                ready, future = pending.popleft()
                yield ready, future.result() if future else None
        while pending:
            ready, future = pending.popleft()
            yield ready, future.result() if future else None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def score_chain(chain: Chain, annotation: Annotation, tokenizer: Any, scorer: Any, settings: Settings) -> dict:
    """Score one annotated chain into its structure.jsonl entry."""
    from limopro_plugins.pir.score import ChainTooLongError, encode

    steps, modes = annotation.steps, annotation.modes
    texts = [s.text for s in steps]
    bridge, answer = answer_text(chain, settings.answer)
    encoded = encode(tokenizer, chain.question, texts, bridge, answer)
    which = [i for i, m in enumerate(modes) if settings.score_all or m.functional]
    entry: dict[str, Any] = {
        "index": chain.index,
        "line": chain.line,
        "record_hash": record_hash(chain),
        "status": "scored",
        "prompt_tokens": len(encoded.prompt),
        "answer_tokens": len(encoded.answer),
    }
    pirs: dict[int, float] = {}
    try:
        if which:
            values, full = scorer.score(encoded, which)
            pirs = dict(zip(which, values))
            entry["answer_nll"] = full
        else:
            scorer.check_length(encoded)
    except ChainTooLongError as error:
        entry.update(status="skipped", reason=str(error))
    details = annotation.details or [{}] * len(steps)
    entry["steps"] = [
        {"text": s.text, "start": s.start, "end": s.end, "mode": m.value, "tokens": len(ids), "pir": pirs.get(i)}
        | extra
        for i, (s, m, ids, extra) in enumerate(zip(steps, modes, encoded.steps, details))
    ]
    if annotation.llm:
        entry["llm"] = annotation.llm
    return entry


def _load_scorer(model: ModelConfig) -> tuple[Any, PIRScorer | VLLMScorer]:
    """The tokenizer and the PIR scorer of the chosen backend."""
    from limopro_plugins.pir.models import ModelUnavailableError, load_causal_lm, load_tokenizer, resolve
    from limopro_plugins.pir.score import PIRScorer, VLLMScorer

    try:
        source = resolve(model.name)
        tokenizer = load_tokenizer(source)
        if model.backend == "vllm":
            return tokenizer, VLLMScorer.load(
                source.path,
                dtype=model.dtype,
                max_tokens=model.max_tokens,
                tensor_parallel_size=model.tensor_parallel_size,
            )
        causal_lm = load_causal_lm(source, dtype=model.dtype, device=_device(model.device))
    except (ModelUnavailableError, ImportError) as error:
        raise PipelineError(str(error)) from error
    return tokenizer, PIRScorer(causal_lm, batch_size=model.batch_size, max_tokens=model.max_tokens)


def _llm_client(config: LLMConfig) -> ChatClient:
    try:
        return ChatClient(config)
    except LLMError as error:
        raise PipelineError(str(error)) from error


def chain_scorer(model: ModelConfig, settings: Settings) -> Callable[[tuple[Chain, Annotation]], dict]:
    """Load the scorer once; the function it returns scores one annotated chain into its structure.jsonl
    entry. Module-level, so a Ray actor can build it from (model, settings)."""
    tokenizer, scorer = _load_scorer(model)
    return lambda job: score_chain(job[0], job[1], tokenizer, scorer, settings)


def _scored_here(
    pairs: Iterable[tuple[Chain | Reject, Annotation | None]], model: ModelConfig, settings: Settings
) -> Generator[tuple[Chain | Reject, dict | None], None, None]:
    """(item, entry) in input order, scored in this process; the model loads at the first chain."""
    score = None
    for item, annotation in pairs:
        if isinstance(item, Reject):
            yield item, None
            continue
        assert annotation is not None  # every chain is annotated
        if score is None:
            score = chain_scorer(model, settings)
        yield item, score((item, annotation))


def _scored_on_ray(
    pairs: Iterable[tuple[Chain | Reject, Annotation | None]], model: ModelConfig, settings: Settings, ray: RayConfig
) -> Generator[tuple[Chain | Reject, dict | None], None, None]:
    """The same, scored by actors on a Ray cluster, each loading the scorer once (pir/cluster.py): one
    per tensor-parallel group of GPUs with vLLM, per GPU with transformers, per CPU slot without GPUs."""
    gpus = model.tensor_parallel_size if model.backend == "vllm" else 1
    spec = RaySpec(ray.address, gpus, cpu_only=model.device == "cpu", max_actors=ray.max_actors)
    jobs = (
        (item, (item, annotation) if isinstance(item, Chain) and annotation else None) for item, annotation in pairs
    )
    return imap_ordered(partial(chain_scorer, model, settings), jobs, spec, lambda item: item.location)


def _score_new(config: RunConfig, source: str, settings: Settings, out: Path, done: set[int]) -> None:
    """Score every chain not yet in structure.jsonl / rejects.jsonl, appending each row in input order,
    here or on a Ray cluster (the same rows either way)."""
    from tqdm import tqdm

    client = _llm_client(config.llm) if config.llm and settings.uses_llm else None
    total = _count_records(source, settings.limit)
    if total is not None and config.shard:
        total = len(range(config.shard[0], total, config.shard[1]))
    bar = tqdm(total=total, unit="chain", desc="PIR", dynamic_ncols=True, disable=None)
    bar.update(len(done))
    todo = (item for item in _limited(source, settings, config.shard) if item.index not in done)
    workers = config.llm.concurrency if client and config.llm else 0
    pairs = annotated(todo, lambda chain: annotate(chain, settings, client), workers)
    scored = (
        _scored_on_ray(pairs, config.model, settings, config.ray)
        if config.ray
        else _scored_here(pairs, config.model, settings)
    )
    try:
        with closing(scored):
            for item, entry in scored:
                if isinstance(item, Reject):
                    print(f"rejected {item.location}: {item.reason}", file=sys.stderr)
                    if config.strict:  # not recorded: once fixed, the same command reads it again
                        raise PipelineError(
                            f"{source} {item.location}: {item.reason} (--strict: fix it, then "
                            "run the same command again to resume)"
                        )
                    append_jsonl(out / "rejects.jsonl", item.to_json() | {"record_hash": record_hash(item)})
                else:
                    assert entry is not None  # every chain is scored
                    append_jsonl(out / "structure.jsonl", entry)
                bar.update(1)
    except (LLMError, ClusterError) as error:
        raise PipelineError(str(error)) from error
    finally:
        bar.close()


@dataclass(frozen=True)
class OutputSpec:
    """What is written from the scores: which variants, under which name."""

    ratios: tuple[float, ...]
    strategy: Strategy
    seed: int
    name: str


def _variants(
    source: str, settings: Settings, out: Path, structure: dict[int, dict], spec: OutputSpec
) -> dict[str, Any]:
    """Write pruning/<name>_<ratio>.jsonl for every ratio; return token counts per ratio (Table 5)."""
    chains = [c for c in _limited(source, settings) if isinstance(c, Chain) and c.index in structure]
    tokens: dict[str, Any] = {}
    written: set[str] = set()
    for ratio in spec.ratios:
        records, before, after = [], 0, 0
        for chain in chains:
            entry = structure[chain.index]
            steps = entry["steps"]
            before += sum(s["tokens"] for s in steps)
            removed: set[int] = set()
            if entry["status"] == "scored":
                modes = [Mode(s["mode"]) for s in steps]
                pirs = [s["pir"] for s in steps]
                removed = select_removals(modes, pirs, ratio, spec.strategy, chain_rng(spec.seed, chain.index, ratio))
            after += sum(s["tokens"] for i, s in enumerate(steps) if i not in removed)
            kept = "".join(s["text"] for i, s in enumerate(steps) if i not in removed)
            records.append(chain.with_reasoning(kept))
        path = out / "pruning" / f"{spec.name}_{ratio:g}.jsonl"
        atomic_write_jsonl(path, records)
        written.add(path.name)
        tokens[f"{ratio:g}"] = {
            "file": str(path.relative_to(out)),
            "reasoning_tokens_before": before,
            "reasoning_tokens_after": after,
            "reduction": round(1 - after / before, 4) if before else 0.0,
        }
    for old in sorted((out / "pruning").glob("*.jsonl")):
        if old.name not in written:  # of earlier --ratios or --name: meta.json describes this run's only
            old.unlink()
            print(f"removed pruning/{old.name}: not one of this run's ratios and name", file=sys.stderr)
    return tokens


def _llm_outcomes(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per LLM component, how many chains it answered validly at once, after the retry, or fell back
    to the rules for."""
    found: dict[str, dict[str, int]] = {}
    for row in rows:
        for component, outcome in row.get("llm", {}).items():
            found.setdefault(component, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
    return found


def _rows_in_order(path: Path) -> list[dict[str, Any]]:
    """A checkpoint file's rows in input order. Records redone on resume (edited since) were appended
    after later ones, so the file is then rewritten in order, as an uninterrupted run writes it."""
    rows = read_jsonl_tolerant(path)
    ordered = sorted(rows, key=lambda row: row["index"])
    if [row["index"] for row in ordered] != [row["index"] for row in rows]:
        atomic_write_jsonl(path, ordered)
    return ordered


def finalize(out: Path, settings: Settings, spec: OutputSpec) -> Counts:
    """Build pruning/*.jsonl and meta.json from structure.jsonl and rejects.jsonl (atomic writes)."""
    structure = {r["index"]: r for r in _rows_in_order(out / "structure.jsonl")}
    rejects = _rows_in_order(out / "rejects.jsonl")
    counts = Counts(
        read=len(structure) + len(rejects),
        scored=sum(1 for r in structure.values() if r["status"] == "scored"),
        skipped=sum(1 for r in structure.values() if r["status"] == "skipped"),
        rejected=len(rejects),
    )
    try:
        tokens = _variants(settings.input, settings, out, structure, spec)
    except InputError as error:
        raise PipelineError(str(error)) from error
    meta = {
        "version": __version__,
        "settings": asdict(settings),
        "strategy": spec.strategy,
        "seed": spec.seed,
        "ratios": [f"{r:g}" for r in spec.ratios],
        "name": spec.name,
        "counts": asdict(counts),
        "tokens_per_ratio": tokens,
        "modes": stats_from_structure(structure.values()).to_json(),
    }
    llm = _llm_outcomes(structure.values())
    if llm:
        meta["llm"] = llm
    atomic_write_json(out / "meta.json", meta)
    return counts


@dataclass(frozen=True)
class Finished:
    """A finished run (or merge): where its files are, what they hold, and the summary line."""

    out: Path
    spec: OutputSpec
    settings: Settings
    summary: str


def run(config: RunConfig) -> Finished:
    """Run (or resume) a prune job."""
    source = config.input or str(sample_path())
    stem = Path(source).stem.split(".")[0] if config.input else SAMPLE_NAME
    spec = OutputSpec(
        config.ratios, config.strategy, config.seed, config.name or f"{stem}_{config.strategy.replace('-', '_')}"
    )
    out = config.output
    settings = _settings(config, source)
    started = time.monotonic()
    with _claimed(out):
        try:
            _check_settings(out, settings, config.shard)
            done = _resume(out, settings, config.shard, config.strict)
            atomic_write_json(out / "run.json", _run_record(settings, config.shard))
            _score_new(config, source, settings, out, done)
        except InputError as error:
            raise PipelineError(str(error)) from error
        counts = finalize(out, settings, spec)
    return Finished(out, spec, settings, f"{counts.line()} -> {out} ({time.monotonic() - started:.1f} s)")


@contextmanager
def _claimed(out: Path) -> Iterator[None]:
    """The output folder, locked for this run (see `claimed_folder`), with its failures as one sentence."""
    try:
        with claimed_folder(out):
            yield
    except FolderError as error:
        raise PipelineError(str(error)) from error
    except OSError as error:
        raise _os_failure(error, out) from error


def merge(shards: list[Path], out: Path) -> Finished:
    """Combine the folders of a sharded run into exactly the files one unsharded run writes."""
    runs = []
    for shard in shards:
        if not (shard / "meta.json").is_file():
            raise PipelineError(f"{shard} is not a finished prune run (no meta.json): finish or resume it first")
        runs.append((read_run_record(shard / "run.json"), json.loads((shard / "meta.json").read_text())))
    specs = {r.pop("shard", None) for r, _ in runs}
    total = {s.split("/")[1] for s in specs if s}
    if (
        None in specs
        or len(total) != 1
        or len(specs) != len(runs)
        or specs != {f"{i}/{n}" for n in map(int, total) for i in range(n)}
    ):
        raise PipelineError(f"shards {sorted(map(str, specs))} are not exactly the shards 0..N-1 of one run")
    settings, meta = runs[0]
    for other, other_meta in runs[1:]:
        keys = ("strategy", "seed", "ratios", "name")
        if other != settings or any(other_meta[k] != meta[k] for k in keys):
            raise PipelineError("the shards were run with different settings; they cannot be merged")
    rows = {
        name: sorted(
            (r for shard in shards for r in read_jsonl_tolerant(shard / name, repair=False)), key=lambda r: r["index"]
        )
        for name in ROW_FILES
    }
    spec = OutputSpec(tuple(float(r) for r in meta["ratios"]), meta["strategy"], meta["seed"], meta["name"])
    merged = Settings.from_json(settings)
    with _claimed(out):
        atomic_write_json(out / "run.json", settings)
        for name, records in rows.items():
            if records:
                atomic_write_jsonl(out / name, records)
        counts = finalize(out, merged, spec)
    return Finished(out, spec, merged, f"merged {len(shards)} shards: {counts.line()} -> {out}")
