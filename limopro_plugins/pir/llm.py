"""LLM step grouping and mode labelling over any OpenAI-compatible chat endpoint.

The paper grouped sentences into steps and labelled steps with a strong LLM, rule markers deciding
where they are unambiguous. Three classifiers (`CLASSIFIERS`) put the rules and the LLM together:
- `rule`: the rules alone, no call;
- `hybrid`: the paper's way, kept for faithful reproduction: where the rules find a functional step
  they decide, the LLM labels the rest (so it inherits every rule mistake);
- `llm`: the LLM labels every step, from mode definitions that need context (a check needs a result
  already obtained), with each step's rule label shown to it as a hint that may be wrong.
This module asks any OpenAI-compatible endpoint (a local `vllm serve`, a
hosted provider) through the `openai` client library, which brings bounded retries with exponential
backoff on 429 / 5xx / timeouts. Around it:
- every answer is validated: the steps must rebuild the reasoning exactly (no character changed, added
  or dropped; only the whitespace between steps may be left out of the answer), labels must come from
  the four modes and name every step once. An invalid answer gets one retry that says what was wrong,
  then the rule result is used; the outcome (`ok`, `retried`, `fallback`) is recorded per chain.
- answers are cached on disk under a hash of the request, so a rerun (or a resumed run, or another
  strategy on the same data) makes no repeated calls; a retry's request includes the invalid answer,
  so replays are deterministic too.
- an endpoint that cannot be used (unreachable after the retries, bad key, unknown model) stops the run
  with `LLMError`; the run is resumable, so nothing is lost.
The `openai` package is the `llm` extra and is imported only when an LLM component is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from limopro_plugins.pir.classify import RuleClassifier, rule_opinion
from limopro_plugins.pir.io import atomic_write_json
from limopro_plugins.pir.models import cache_dir
from limopro_plugins.pir.segment import Step, segment, structure
from limopro_plugins.text import MODE_NAMES, Mode

LABELS = MODE_NAMES
OUTCOMES = ("ok", "retried", "fallback")

SegmenterName = Literal["rule", "llm"]
ClassifierName = Literal["rule", "hybrid", "llm"]
SEGMENTERS: tuple[SegmenterName, ...] = ("rule", "llm")
CLASSIFIERS: tuple[ClassifierName, ...] = ("rule", "hybrid", "llm")


class LLMError(RuntimeError):
    """The endpoint cannot be used at all; the message says why and what to do."""


class InvalidAnswer(ValueError):
    """An answer that breaks the requested format; the message is sent back on the retry."""


class RequestRejected(InvalidAnswer):
    """The endpoint refused this one request (400/413/422, e.g. a chain beyond its context)."""


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to ask: endpoint, model, key variable, concurrency, timeout, retries, cache."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 300.0
    retries: int = 4
    cache: Path | None = None

    def cache_folder(self) -> Path:
        return self.cache or cache_dir() / "llm"


SEGMENT_PROMPT = """\
Below is the reasoning a model wrote to solve a problem. Group its consecutive sentences into steps, as a \
careful reader would:
- Forward reasoning (setting up, computing, deriving, trying a case or an approach) goes into coherent \
steps of a few sentences, usually 3-4, that do one thing: never a one-line fragment, never cut in the \
middle of a thought.
- A verification of an earlier result, a solution of it by another method, and the correction of an \
error are each ONE whole step, from its opener to its conclusion: a check runs from "Let me verify ..." \
through the computation that checks to its verdict ("so that is correct"), across paragraph breaks and \
"So ..." sentences inside it. The forward reasoning that follows starts a new step.
Copy the text exactly: do not change, add, drop or reorder a single character (LaTeX included); only the \
whitespace between two steps may be left out. Every sentence belongs to exactly one step.
Answer with JSON only, no other text: {{"steps": ["<text of step 1>", "<text of step 2>", ...]}}

<reasoning>
{reasoning}
</reasoning>"""

CLASSIFY_PROMPT = """\
Below are a problem and the numbered steps of a model's reasoning about it. Label every step with one \
of these reasoning patterns:
- progressive: moves the solution forward (sets up, computes, derives, concludes);
- verification: checks a result or step already obtained;
- multi_method: validates a result by solving it again with a different method;
- error_correction: finds an error in earlier reasoning and corrects it.
For a verification, multi_method or error_correction step, give the number of the progressive step it \
relates to in "relates_to".
Answer with JSON only, no other text, one entry per step in order: {{"labels": [{{"step": 1, "mode": \
"progressive"}}, {{"step": 2, "mode": "verification", "relates_to": 1}}, ...]}}

<problem>
{question}
</problem>

<steps>
{steps}
</steps>"""

LABEL_PROMPT = """\
Below are a problem and the numbered steps of a model's reasoning about it. Label every step with the \
reasoning pattern it serves, judged from what the step does in the context of the steps before it:
- progressive: moves the solution forward: sets up, computes, derives, concludes, explores a case for the \
first time, tries a first approach. A new attempt after a dead end, trying another value, and ruling a \
case out because it leads to a contradiction are progressive too.
- verification: checks a result that was already obtained (recomputing it, substituting it back, testing \
it on a small case, confirming that the conditions hold), up to the check's verdict. A doubt that is \
settled at once ("Is that right? Yes.") is a short verification.
- multi_method: obtains a result that was already obtained once more, by a different method, to confirm it.
- error_correction: recognises that something earlier was wrong (a misreading, a slip in a calculation, \
a wrong assumption, an approach that cannot work) and fixes it, up to where the reasoning goes on from \
the corrected basis; short forms count ("Wait, no, 4 + 8 is 12", "I miscalculated", a corrected value \
replacing an earlier one).
Verification and multi_method need a result obtained earlier: before there is one, a step opening with \
"Wait", "Alternatively" or "Let's check" that moves forward is progressive. When two functional patterns \
fit, choose the one whose purpose dominates.
Each step shows, as "rule hint", the label of a rule-based classifier that reads marker words such as \
"Wait" or "Alternatively". The hint is often wrong: use it as one clue and decide from the text.
For a verification, multi_method or error_correction step, give in "relates_to" the number of the earlier \
step whose result it checks, confirms or corrects.
Answer with JSON only, no other text, one entry per step in order: {{"labels": [{{"step": 1, "mode": \
"progressive"}}, {{"step": 2, "mode": "verification", "relates_to": 1}}, ...]}}

<problem>
{question}
</problem>

<steps>
{steps}
</steps>"""
"""The prompt of `--classifier llm`. CLASSIFY_PROMPT above stays the paper's, for `--classifier hybrid`."""

RETRY_PROMPT = "That answer is invalid: {reason}. Answer again with JSON only, following the instructions exactly."

_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


def parse_json_object(content: str) -> dict[str, Any]:
    """The JSON object of an answer (a ```json fence around it is tolerated)."""
    try:
        value = json.loads(_FENCE.sub("", content))
    except json.JSONDecodeError as error:
        raise InvalidAnswer(f"not valid JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(value, dict):
        raise InvalidAnswer("the answer is not a JSON object")
    return value


def rebuild_steps(reasoning: str, texts: Sequence[Any]) -> list[Step]:
    """Steps located in `reasoning` from the texts an LLM returned, or InvalidAnswer.

    Each text (stripped) must appear exactly at the next non-whitespace character; the whitespace
    between steps goes with the step before it, as in the rule segmenter, so joining the steps gives
    back the reasoning byte for byte."""
    if not isinstance(texts, list) or not texts:
        raise InvalidAnswer('"steps" must be a non-empty list of strings')
    starts, cursor = [], 0
    for number, text in enumerate(texts, 1):
        if not isinstance(text, str) or not text.strip():
            raise InvalidAnswer(f"step {number} is not a non-empty string")
        body = text.strip()
        position = len(reasoning) - len(reasoning[cursor:].lstrip())
        if not reasoning.startswith(body, position):
            differs = next(
                (i for i, (a, b) in enumerate(zip(reasoning[position:], body)) if a != b),
                min(len(body), len(reasoning) - position),
            )
            raise InvalidAnswer(
                f"step {number} does not copy the reasoning exactly: it differs at "
                f"character {position + differs} of the reasoning"
            )
        starts.append(position)
        cursor = position + len(body)
    if reasoning[cursor:].strip():
        raise InvalidAnswer(f"the steps stop at character {cursor} of {len(reasoning)}: text is missing")
    bounds = [0, *starts[1:], len(reasoning)]
    return [Step(reasoning[a:b], a, b) for a, b in zip(bounds, bounds[1:])]


@dataclass(frozen=True)
class Label:
    """The LLM's label of one step and the progressive step a functional one relates to."""

    mode: Mode
    relates_to: int | None


def parse_labels(answer: dict[str, Any], n_steps: int) -> list[Label]:
    """Labels for steps 1..n_steps, or InvalidAnswer."""
    entries = answer.get("labels")
    if not isinstance(entries, list) or len(entries) != n_steps:
        raise InvalidAnswer(f'"labels" must be a list with one entry for each of the {n_steps} steps')
    labels = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or entry.get("step") != number:
            raise InvalidAnswer(f'entry {number} must be an object with "step": {number}')
        if entry.get("mode") not in LABELS:
            raise InvalidAnswer(f"step {number}: mode {entry.get('mode')!r} is not one of {', '.join(LABELS)}")
        relates = entry.get("relates_to")
        if relates is not None and (type(relates) is not int or not 1 <= relates <= n_steps or relates == number):
            raise InvalidAnswer(f"step {number}: relates_to must be another step's number or null")
        mode = Mode(entry["mode"])
        labels.append(Label(mode, relates if mode.functional else None))
    return labels


class ResponseCache:
    """Answers on disk under the SHA-256 of their request; one atomically written file per answer,
    so shards running at once can share a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def key(request: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))["content"]
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, content: str) -> None:
        atomic_write_json(self._path(key), {"content": content})


class ChatClient:
    """Chat completions through the `openai` client (temperature 0), answers cached on disk."""

    def __init__(self, config: LLMConfig) -> None:
        try:
            import openai
        except ImportError as error:
            raise LLMError(
                "the LLM segmenter/classifier needs the openai client: pip install 'limopro-plugins[llm]'"
            ) from error
        self.config = config
        self.cache = ResponseCache(config.cache_folder())
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=os.environ.get(config.api_key_env) or "EMPTY",
            timeout=config.timeout,
            max_retries=config.retries,
        )

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The answer's text. Raises RequestRejected for a request the endpoint refuses, LLMError when
        the endpoint cannot be used at all."""
        request = {"model": self.config.model, "messages": messages, "temperature": 0}
        key = ResponseCache.key(request)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        openai = self._openai
        try:
            response = self._client.chat.completions.create(**request)  # type: ignore[call-overload]
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as error:
            raise LLMError(
                f"{self.config.base_url} refused the request ({error.status_code}): check --llm-model "
                f"and the API key in ${self.config.api_key_env}"
            ) from error
        except openai.APIStatusError as error:
            if error.status_code in (400, 413, 422):
                raise RequestRejected(f"the endpoint rejected the request ({error.status_code})") from error
            raise LLMError(
                f"{self.config.base_url} kept failing ({error.status_code}) after "
                f"{self.config.retries} retries; run the same command again to resume"
            ) from error
        except (openai.APITimeoutError, openai.APIConnectionError) as error:
            raise LLMError(
                f"cannot reach {self.config.base_url} ({type(error).__name__}) after "
                f"{self.config.retries} retries; run the same command again to resume"
            ) from error
        content = response.choices[0].message.content or ""
        self.cache.put(key, content)
        return content


def ask_validated(client: ChatClient, prompt: str, validate: Any) -> tuple[Any, str]:
    """(validated value, outcome): an invalid answer gets one retry that quotes the problem, then
    (None, "fallback"); a request the endpoint rejects (e.g. beyond its context) falls back at once."""
    messages = [{"role": "user", "content": prompt}]
    for outcome in ("ok", "retried"):
        content = ""
        try:
            content = client.complete(messages)
            return validate(parse_json_object(content)), outcome
        except RequestRejected:
            break
        except InvalidAnswer as error:
            messages = [
                *messages,
                {"role": "assistant", "content": content},
                {"role": "user", "content": RETRY_PROMPT.format(reason=error)},
            ]
    return None, "fallback"


def llm_segment(client: ChatClient, reasoning: str) -> tuple[list[Step] | None, str]:
    """The LLM's steps of `reasoning` (None after an invalid answer and its retry) and the outcome."""
    prompt = SEGMENT_PROMPT.format(reasoning=reasoning)
    return ask_validated(client, prompt, lambda answer: rebuild_steps(reasoning, answer.get("steps")))


def llm_labels(
    client: ChatClient, question: str, steps: Sequence[str], hints: Sequence[Mode] | None = None
) -> tuple[list[Label] | None, str]:
    """The LLM's label of every step (None after an invalid answer and its retry) and the outcome.

    Without `hints` the paper's prompt (the hybrid); with them, one rule label per step, the prompt of
    `--classifier llm` (LABEL_PROMPT), which shows each step's rule label as a hint."""
    if hints is None:
        numbered = "\n\n".join(f"[{i}] {text.strip()}" for i, text in enumerate(steps, 1))
        prompt = CLASSIFY_PROMPT.format(question=question.strip(), steps=numbered)
    else:
        if len(hints) != len(steps):
            raise ValueError(f"{len(hints)} hints for {len(steps)} steps")
        numbered = "\n\n".join(
            f"[{i}] (rule hint: {hint.value}) {text.strip()}" for i, (text, hint) in enumerate(zip(steps, hints), 1)
        )
        prompt = LABEL_PROMPT.format(question=question.strip(), steps=numbered)
    return ask_validated(client, prompt, lambda answer: parse_labels(answer, len(steps)))


def _details(rules: Sequence[Mode], labels: Sequence[Label] | None, modes: Sequence[Mode]) -> list[dict[str, Any]]:
    """Per step: the rule label, the LLM's label and, for a functional step, the step it relates to."""
    return [
        {
            "rule_mode": rule.value,
            "llm_mode": labels[i].mode.value if labels is not None else None,
            "relates_to": labels[i].relates_to if labels is not None and mode.functional else None,
        }
        for i, (rule, mode) in enumerate(zip(rules, modes))
    ]


def hybrid_modes(
    steps: Sequence[str], labels: Sequence[Label] | None, answer: str | None = None
) -> tuple[list[Mode], list[dict[str, Any]]]:
    """The paper's hybrid: where the rules see a functional step they decide, the LLM labels the rest
    (the rules' progressive where it gave no valid answer). `answer`: the chain's, for the rules.

    Also returns, per step, both labels (for the agreement table) and the related step."""
    opinions = rule_opinion(steps, answer)
    modes = [
        opinion or (labels[i].mode if labels is not None else Mode.PROGRESSIVE) for i, opinion in enumerate(opinions)
    ]
    return modes, _details([opinion or Mode.PROGRESSIVE for opinion in opinions], labels, modes)


def llm_modes(rules: Sequence[Mode], labels: Sequence[Label] | None) -> tuple[list[Mode], list[dict[str, Any]]]:
    """`--classifier llm`: the LLM's label decides every step; the rule labels `rules` (its hints)
    stand where it gave no valid answer. Details as in `hybrid_modes`."""
    modes = [label.mode for label in labels] if labels is not None else list(rules)
    return modes, _details(rules, labels, modes)


@dataclass
class Annotation:
    """A chain's steps and modes, with the LLM's per-step labels and per-call outcomes when one was asked."""

    steps: list[Step]
    modes: list[Mode]
    details: list[dict[str, Any]] | None = None
    llm: dict[str, str] = field(default_factory=dict)


def annotate_reasoning(
    client: ChatClient | None,
    question: str,
    reasoning: str,
    segmenter: SegmenterName = "rule",
    classifier: ClassifierName = "rule",
    answer: str | None = None,
) -> Annotation:
    """Segment and classify one chain's reasoning with the rules, or the LLM where asked (`client`
    is then required). An LLM answer that stays invalid falls back to the rules for that part.
    `answer`: the chain's final answer, which tells the rules where a second method has a result."""
    llm: dict[str, str] = {}
    steps = None
    if segmenter == "llm":
        steps, llm["segment"] = llm_segment(_needed(client), reasoning)
    if steps is None and classifier == "rule":
        found = structure(reasoning, answer)
        return Annotation([step for step, _ in found], [mode for _, mode in found], llm=llm)
    steps = steps or segment(reasoning, answer)
    texts = [s.text for s in steps]
    if classifier == "rule":
        return Annotation(steps, RuleClassifier(answer).classify(texts), llm=llm)
    if classifier == "hybrid":
        labels, llm["classify"] = llm_labels(_needed(client), question, texts)
        modes, details = hybrid_modes(texts, labels, answer)
    else:
        rules = [opinion or Mode.PROGRESSIVE for opinion in rule_opinion(texts, answer)]
        labels, llm["classify"] = llm_labels(_needed(client), question, texts, hints=rules)
        modes, details = llm_modes(rules, labels)
    return Annotation(steps, modes, details, llm)


def _needed(client: ChatClient | None) -> ChatClient:
    if client is None:
        raise ValueError("an LLM segmenter or classifier needs a ChatClient")
    return client


def llm_structure(
    client: ChatClient | None,
    question: str,
    reasoning: str,
    segmenter: SegmenterName = "rule",
    classifier: ClassifierName = "llm",
    answer: str | None = None,
) -> list[tuple[int, int, Mode]]:
    """(start, end, mode) of every step of `reasoning`, as `python -m limopro_plugins.prune` would
    segment and classify it with these settings: what a structure benchmark scores against a gold file.
    The spans cover the reasoning without gaps."""
    annotation = annotate_reasoning(client, question, reasoning, segmenter, classifier, answer)
    return [(step.start, step.end, mode) for step, mode in zip(annotation.steps, annotation.modes)]


PROMPTS_BEFORE_FINGERPRINTS = {"segment": "323dae66709f", "classify": "5135f45c6acf"}
"""`prompts_fingerprint` of the prompts sent by the versions that recorded none in run.json (their
`--classifier llm` was the hybrid, whose prompt is still CLASSIFY_PROMPT)."""


def prompts_fingerprint(segmenter: SegmenterName, classifier: ClassifierName) -> dict[str, str] | None:
    """A short hash of each prompt a run sends (None for rules only). run.json records it, so a run is
    never resumed with other prompts: its chains would be labelled two ways."""

    def digest(*texts: str) -> str:
        return hashlib.sha256("\0".join(texts).encode()).hexdigest()[:12]

    found = {}
    if segmenter == "llm":
        found["segment"] = digest(SEGMENT_PROMPT, RETRY_PROMPT)
    if classifier != "rule":
        found["classify"] = digest(CLASSIFY_PROMPT if classifier == "hybrid" else LABEL_PROMPT, RETRY_PROMPT)
    return found or None
