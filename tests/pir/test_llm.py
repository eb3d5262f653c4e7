"""LLM segmentation and classification, over real HTTP through the real `openai` client.

The endpoint is a small OpenAI-compatible chat server started on loopback by each test; a script decides
each answer (right, invalid JSON, a changed character, 429, too slow), and the server records what it
was asked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from limopro_plugins.pir.classify import RuleClassifier
from limopro_plugins.pir.llm import (
    PROMPTS_BEFORE_FINGERPRINTS,
    ChatClient,
    InvalidAnswer,
    LLMConfig,
    LLMError,
    annotate_reasoning,
    hybrid_modes,
    llm_labels,
    llm_segment,
    llm_structure,
    prompts_fingerprint,
    rebuild_steps,
)
from limopro_plugins.pir.records import Chain, Reject, read_chains
from limopro_plugins.pir.run import Settings, annotate, annotated, upgraded_run_record
from limopro_plugins.pir.segment import segment
from limopro_plugins.text import Mode
from tests.data.texts import REPO, SAMPLE

REASONING = (
    "Let x be the number of apples. Then 3x + 2 = 11, so x = 3.\n\n"
    "Substituting back: 3 * 3 + 2 = 11, which matches.\n\n"
    "Wait, let me check the question again. It asks for x, not 3x.\n\n"
    "So the answer is 3."
)


def right_answer(request: dict) -> str:
    """What a good model answers: steps = paragraphs (copied exactly), labels by content."""
    prompt = request["messages"][0]["content"]
    if "<reasoning>" in prompt:
        reasoning = prompt.split("<reasoning>\n", 1)[1].rsplit("\n</reasoning>", 1)[0]
        return json.dumps({"steps": [p for p in reasoning.split("\n\n") if p.strip()]})
    block = prompt.split("<steps>\n", 1)[1].rsplit("\n</steps>", 1)[0]
    steps = re.findall(r"^\[(\d+)\] (?:\(rule hint: \w+\) )?(.*)$", block, flags=re.M)
    labels = []
    for number, text in steps:
        functional = "substitut" in text.lower() or "check" in text.lower()
        labels.append(
            {
                "step": int(number),
                "mode": "verification" if functional else "progressive",
                "relates_to": 1 if functional and number != "1" else None,
            }
        )
    return json.dumps({"labels": labels})


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # None: the right answer
    delay: float = 0.0


@dataclass
class FakeEndpoint:
    """OpenAI-compatible /v1/chat/completions on 127.0.0.1; `script(n)` gives the reply to request n."""

    script: Callable[[int], Reply] = lambda n: Reply()
    requests: list[dict] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        request = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        with self.lock:
            number = len(self.requests)
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        reply = self.script(number)
        time.sleep(reply.delay)
        with self.lock:
            self.in_flight -= 1
        if reply.status == 200:
            content = right_answer(request) if reply.content is None else reply.content
            body = {
                "id": f"c{number}",
                "object": "chat.completion",
                "created": 0,
                "model": request["model"],
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                ],
            }
        else:
            body = {"error": {"message": "scripted failure", "type": "server_error", "code": reply.status}}
        data = json.dumps(body).encode()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("retry-after-ms", "10")
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (timeout tests)
            pass


@pytest.fixture
def endpoint() -> Iterator[tuple[FakeEndpoint, str]]:
    fake = FakeEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            fake.handle(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def chains(tmp_path: Path, reasonings: list[str]) -> list[Chain]:
    """Chains read the way the prune command reads them (LIMO records; the boxed paragraph is the solution)."""
    path = tmp_path / "chains.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"question": "How many apples?", "answer": "3", "solution": f"{r}\n\n**Final Answer**\n\\boxed{{3}}"}
            )
            + "\n"
            for r in reasonings
        )
    )
    found = list(read_chains(str(path)))
    assert [c.reasoning for c in found] == [f"{r}\n\n" for r in reasonings]
    return found


def client_for(url: str, cache: Path, **overrides: object) -> ChatClient:
    return ChatClient(LLMConfig(url, "judge", "LIMOPRO_TEST_KEY", cache=cache, **overrides))


def test_rebuild_accepts_exact_copies_and_locates_changes() -> None:
    parts = REASONING.split("\n\n")
    steps = rebuild_steps(REASONING, parts)
    assert "".join(s.text for s in steps) == REASONING and [s.start for s in steps][1] == len(parts[0]) + 2
    assert steps[0].text == parts[0] + "\n\n"  # whitespace between steps goes with the step before it
    changed = [parts[0].replace("11", "12"), *parts[1:]]
    with pytest.raises(InvalidAnswer, match=f"step 1 .* character {parts[0].index('11') + 1} "):
        rebuild_steps(REASONING, changed)
    with pytest.raises(InvalidAnswer, match="text is missing"):
        rebuild_steps(REASONING, parts[:-1])
    with pytest.raises(InvalidAnswer, match="step 2"):
        rebuild_steps(REASONING, [parts[0], parts[2], parts[1], parts[3]])
    with pytest.raises(InvalidAnswer, match="non-empty"):
        rebuild_steps(REASONING, [parts[0], "", *parts[1:]])


def test_segments_and_labels_through_the_endpoint(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    client = client_for(url, tmp_path)
    steps, outcome = llm_segment(client, REASONING)
    assert outcome == "ok" and [s.text.strip() for s in steps] == REASONING.split("\n\n")
    assert "".join(s.text for s in steps) == REASONING
    labels, outcome = llm_labels(client, "How many apples?", [s.text for s in steps])
    assert outcome == "ok"
    assert [label.mode for label in labels] == [
        Mode.PROGRESSIVE,
        Mode.VERIFICATION,
        Mode.VERIFICATION,
        Mode.PROGRESSIVE,
    ]
    assert labels[1].relates_to == 1 and labels[0].relates_to is None
    assert [r["model"] for r in fake.requests] == ["judge", "judge"]
    assert fake.requests[0]["temperature"] == 0


def test_hybrid_rule_markers_decide_and_the_llm_labels_the_rest(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply(
        content=json.dumps(
            {
                "labels": [
                    {"step": 1, "mode": "progressive"},
                    {"step": 2, "mode": "verification", "relates_to": 1},
                    {"step": 3, "mode": "progressive"},
                    {"step": 4, "mode": "error_correction", "relates_to": 1},
                ]
            }
        )
    )
    texts = [s.text for s in rebuild_steps(REASONING, REASONING.split("\n\n"))]
    labels, _ = llm_labels(client_for(url, tmp_path), "How many apples?", texts)
    modes, details = hybrid_modes(texts, labels)
    # step 3 is a check by the rules ("Wait, let me check ... again"): the rules win over the LLM's "progressive"
    assert modes == [Mode.PROGRESSIVE, Mode.VERIFICATION, Mode.VERIFICATION, Mode.ERROR_CORRECTION]
    assert [d["rule_mode"] for d in details] == ["progressive", "progressive", "verification", "progressive"]
    assert [d["llm_mode"] for d in details] == ["progressive", "verification", "progressive", "error_correction"]
    assert [d["relates_to"] for d in details] == [None, 1, None, 1]


LABELS_AGAINST_THE_RULES = json.dumps(
    {
        "labels": [
            {"step": 1, "mode": "progressive"},
            {"step": 2, "mode": "verification", "relates_to": 1},
            {"step": 3, "mode": "progressive"},
            {"step": 4, "mode": "error_correction", "relates_to": 1},
        ]
    }
)
"""An LLM that reads step 3 ("Wait, let me check the question again. It asks for x") as forward reasoning,
where the rules see a check."""


def test_llm_classifier_labels_every_step_and_is_shown_the_rule_hints(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply() if n == 0 else Reply(content=LABELS_AGAINST_THE_RULES)  # 0: the steps
    client = client_for(url, tmp_path)
    texts = [s.text for s in rebuild_steps(REASONING, REASONING.split("\n\n"))]
    rules = RuleClassifier().classify(texts)
    assert rules[2] is Mode.VERIFICATION  # what the hint will say
    hybrid = annotate_reasoning(client, "How many apples?", REASONING, "llm", "hybrid")
    full = annotate_reasoning(client, "How many apples?", REASONING, "llm", "llm")
    # the hybrid keeps the rules' check; with --classifier llm the LLM's label decides every step
    assert hybrid.modes[2] is Mode.VERIFICATION
    assert full.modes == [Mode.PROGRESSIVE, Mode.VERIFICATION, Mode.PROGRESSIVE, Mode.ERROR_CORRECTION]
    assert [d["rule_mode"] for d in full.details] == [m.value for m in rules]
    assert [d["llm_mode"] for d in full.details] == [m.value for m in full.modes]
    assert [d["relates_to"] for d in full.details] == [None, 1, None, 1]
    assert full.llm == {"segment": "ok", "classify": "ok"}
    # one segment request (cached for the second annotation), then one label request per classifier
    assert len(fake.requests) == 3
    paper, hinted = (r["messages"][0]["content"] for r in fake.requests[1:])
    assert "rule hint" not in paper
    for number, (text, rule) in enumerate(zip(texts, rules), 1):
        assert f"[{number}] (rule hint: {rule.value}) {text.strip()}" in hinted
    assert "The hint is often wrong" in hinted and "Wait, no" in hinted


def test_llm_classifier_falls_back_to_the_rule_labels(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply(content=json.dumps({"labels": [{"step": 1, "mode": "checking"}]}))
    annotation = annotate_reasoning(client_for(url, tmp_path), "How many apples?", REASONING, "rule", "llm")
    texts = [s.text for s in annotation.steps]
    assert annotation.llm == {"classify": "fallback"} and len(fake.requests) == 2
    assert annotation.modes == RuleClassifier().classify(texts)
    assert all(d["llm_mode"] is None and d["relates_to"] is None for d in annotation.details)
    assert "one entry for each of the" in fake.requests[1]["messages"][2]["content"]


def test_llm_structure_gives_spans_covering_the_reasoning(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply(content=LABELS_AGAINST_THE_RULES) if n == 1 else Reply()
    spans = llm_structure(client_for(url, tmp_path), "How many apples?", REASONING, "llm", "llm")
    assert [start for start, _, _ in spans] == [0, *(end for _, end, _ in spans[:-1])] and spans[-1][1] == len(
        REASONING
    )
    assert [REASONING[a:b].strip() for a, b, _ in spans] == REASONING.split("\n\n")
    assert [mode for _, _, mode in spans][2:] == [Mode.PROGRESSIVE, Mode.ERROR_CORRECTION]
    rules = llm_structure(None, "How many apples?", REASONING, "rule", "rule")  # no client, no request
    assert [mode for _, _, mode in rules] == RuleClassifier().classify([REASONING[a:b] for a, b, _ in rules])
    assert len(fake.requests) == 2


def test_invalid_json_gets_one_retry_that_says_why(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply(content='{"steps": ["unterminated' if n == 0 else None)
    steps, outcome = llm_segment(client_for(url, tmp_path), REASONING)
    assert outcome == "retried" and "".join(s.text for s in steps) == REASONING
    retry = fake.requests[1]["messages"]
    assert [m["role"] for m in retry] == ["user", "assistant", "user"]
    assert retry[1]["content"] == '{"steps": ["unterminated' and "not valid JSON" in retry[2]["content"]


def test_a_changed_character_twice_falls_back_to_the_rules(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    changed = json.dumps({"steps": [REASONING.replace("apples", "pears")]})
    fake.script = lambda n: Reply(content=changed) if n < 2 else Reply()
    [chain] = chains(tmp_path, [REASONING])
    settings = Settings(
        "in.jsonl",
        "m",
        "transformers",
        "float32",
        "solution",
        False,
        None,
        None,
        segmenter="llm",
        classifier="llm",
        llm_model="judge",
    )
    annotation = annotate(chain, settings, client_for(url, tmp_path))
    assert annotation.llm == {"segment": "fallback", "classify": "ok"}
    assert [s.text for s in annotation.steps] == [s.text for s in segment(chain.reasoning)]
    # the rules' steps: the set-up with its substitution, the check, the conclusion (the fake reads first lines)
    assert [d["llm_mode"] for d in annotation.details] == ["progressive", "verification", "progressive"]
    assert (
        len(fake.requests) == 3 and "does not copy the reasoning exactly" in fake.requests[1]["messages"][2]["content"]
    )


def test_429_then_success_is_retried_by_the_client(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply(status=429) if n < 2 else Reply()
    steps, outcome = llm_segment(client_for(url, tmp_path), REASONING)
    assert outcome == "ok" and len(steps) == 4 and len(fake.requests) == 3


def test_timeouts_are_retried_then_stop_with_a_clear_error(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply(delay=1.5) if n == 0 else Reply()
    steps, outcome = llm_segment(client_for(url, tmp_path / "a", timeout=0.5), REASONING)
    assert outcome == "ok" and len(steps) == 4 and len(fake.requests) == 2
    fake.script = lambda n: Reply(delay=1.5)
    with pytest.raises(LLMError, match="cannot reach .* after 1 retries; run the same command again"):
        llm_segment(client_for(url, tmp_path / "b", timeout=0.5, retries=1), REASONING)
    fake.script = lambda n: Reply(status=503)
    with pytest.raises(LLMError, match=r"kept failing \(503\)"):
        llm_segment(client_for(url, tmp_path / "c", retries=1), REASONING)


def test_a_rerun_is_answered_from_the_cache(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply(content="not json") if n == 0 else Reply()
    first = llm_segment(client_for(url, tmp_path), REASONING)
    asked = len(fake.requests)
    again = llm_segment(client_for(url, tmp_path), REASONING)
    assert again == first and first[1] == "retried" and len(fake.requests) == asked == 2


def test_requests_run_concurrently_within_the_bound_and_results_keep_order(endpoint, tmp_path: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply(delay=0.2)
    client = client_for(url, tmp_path, concurrency=3)
    settings = Settings(
        "in.jsonl", "m", "transformers", "float32", "solution", False, None, None, segmenter="llm", llm_model="judge"
    )
    items: list[Chain | Reject] = chains(tmp_path, [f"Step {i} first.\n\nStep {i} second." for i in range(9)])
    items.insert(4, Reject(index=99, line=5, reason="bad", record={}))
    started = time.monotonic()
    results = list(annotated(items, lambda chain: annotate(chain, settings, client), workers=3))
    assert [item.index for item, _ in results] == [item.index for item in items]
    assert [a is None for item, a in results] == [isinstance(item, Reject) for item in items]
    assert all(
        a.steps[0].text == f"Step {item.index} first.\n\n" and a.llm == {"segment": "ok"} for item, a in results if a
    )
    assert 2 <= fake.max_in_flight <= 3 and time.monotonic() - started < 9 * 0.2


@pytest.mark.slow
def test_prune_cli_with_llm_segmenter_and_classifier(endpoint, tmp_path: Path, tiny_qwen_dir: Path) -> None:
    fake, url = endpoint
    fake.script = lambda n: Reply(content="Sure! Here are the steps.") if n == 0 else Reply()
    cache = tmp_path / "cache"

    def prune(out: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "limopro_plugins.prune",
                "--input",
                str(SAMPLE),
                "--limit",
                "3",
                "--model",
                str(tiny_qwen_dir),
                "--output",
                str(out),
                "--ratios",
                "0.5",
                "--segmenter",
                "llm",
                "--classifier",
                "llm",
                "--base-url",
                url,
                "--llm-model",
                "judge",
                "--llm-cache",
                str(cache),
                "--llm-concurrency",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )

    done = prune(tmp_path / "a")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "a" / "structure.jsonl").read_text().splitlines()]
    chains = [c for c in read_chains(str(SAMPLE)) if isinstance(c, Chain)][:3]
    for row, chain in zip(rows, chains):
        assert "".join(s["text"] for s in row["steps"]) == chain.reasoning
        assert all(s["llm_mode"] in {m.value for m in Mode} for s in row["steps"])
    labelled = [s for row in rows for s in row["steps"] if s["llm_mode"]]
    assert labelled and all(s["mode"] == s["llm_mode"] for s in labelled)  # the LLM decides every step
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    outcomes = meta["llm"]
    assert sum(outcomes["segment"].values()) == sum(outcomes["classify"].values()) == 3
    assert outcomes["segment"]["retried"] + outcomes["classify"]["retried"] == 1
    assert meta["settings"]["segmenter"] == meta["settings"]["classifier"] == "llm"
    assert set(meta["settings"]["llm_prompts"]) == {"segment", "classify"}
    asked = len(fake.requests)
    assert asked == 7
    again = prune(tmp_path / "b")  # another output folder, same cache: no new requests, same files
    assert again.returncode == 0, again.stderr
    assert len(fake.requests) == asked
    assert (tmp_path / "b" / "structure.jsonl").read_bytes() == (tmp_path / "a" / "structure.jsonl").read_bytes()
    report = subprocess.run(
        [sys.executable, "-m", "limopro_plugins.analyze", str(tmp_path / "a"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    agreement = json.loads(report.stdout)["rule_vs_llm"]
    assert agreement["steps"] == sum(len(r["steps"]) for r in rows)
    total = sum(sum(row.values()) for row in agreement["confusion"].values())
    assert total == agreement["steps"] and 0 <= agreement["agreement"] <= 1


@pytest.mark.slow
def test_a_run_made_before_the_hybrid_was_named_resumes_as_the_hybrid(
    endpoint, tmp_path: Path, tiny_qwen_dir: Path
) -> None:
    fake, url = endpoint
    out = tmp_path / "out"
    common = [
        *("--input", str(SAMPLE), "--limit", "2", "--model", str(tiny_qwen_dir), "--output", str(out)),
        *("--ratios", "0.5", "--base-url", url, "--llm-model", "judge", "--llm-cache", str(tmp_path / "cache")),
    ]
    done = prune_cli(*common, "--classifier", "hybrid")
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "run.json").read_text())
    # the hybrid still sends the prompt the earlier versions sent
    assert record["classifier"] == "hybrid" and record["llm_prompts"] == {
        "classify": PROMPTS_BEFORE_FINGERPRINTS["classify"]
    }
    files = {
        name: (out / name).read_bytes()
        for name in ("structure.jsonl", "meta.json", "pruning/sample_chains_pir_0.5.jsonl")
    }
    asked = len(fake.requests)
    # the run.json an earlier version wrote for the same run: no prompt fingerprint, and "llm" for the hybrid
    earlier = {k: v for k, v in record.items() if k != "llm_prompts"} | {"classifier": "llm"}
    (out / "run.json").write_text(json.dumps(earlier))
    refused = prune_cli(*common, "--classifier", "llm")
    assert refused.returncode == 2 and "before --classifier hybrid existed" in refused.stderr
    assert "Resume it with --classifier hybrid" in refused.stderr and "Traceback" not in refused.stderr
    resumed = prune_cli(*common, "--classifier", "hybrid")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text()) == record and len(fake.requests) == asked
    assert all((out / name).read_bytes() == data for name, data in files.items())
    # an earlier version's LLM segmenter sent another prompt: its run does not go on with today's
    (out / "run.json").write_text(json.dumps(earlier | {"segmenter": "llm"}))
    refused = prune_cli(*common, "--segmenter", "llm", "--classifier", "hybrid")
    assert refused.returncode == 2 and "other LLM prompts" in refused.stderr and len(fake.requests) == asked


def test_run_json_of_earlier_versions_reads_as_what_it_ran() -> None:
    earlier = {"input": "in.jsonl", "model": "m", "segmenter": "rule", "classifier": "rule", "llm_model": None}
    assert upgraded_run_record(earlier) == earlier | {"llm_prompts": None}  # rules only: resumes as before
    hybrid = upgraded_run_record(earlier | {"classifier": "llm", "llm_model": "judge"})
    assert hybrid["classifier"] == "hybrid" and hybrid["llm_prompts"] == prompts_fingerprint("rule", "hybrid")
    segmented = upgraded_run_record(earlier | {"segmenter": "llm", "llm_model": "judge"})
    assert segmented["llm_prompts"] == {"segment": PROMPTS_BEFORE_FINGERPRINTS["segment"]}
    assert segmented["llm_prompts"] != prompts_fingerprint("llm", "rule")  # the segmenter prompt changed since
    written = hybrid | {"classifier": "llm", "llm_prompts": prompts_fingerprint("rule", "llm")}
    assert upgraded_run_record(written) == written  # a run.json with a fingerprint means what it says


def test_the_structure_benchmark_scores_an_llm_classifier_through_an_endpoint(
    endpoint, tmp_path: Path, shared_data: Path
) -> None:
    fake, url = endpoint
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_structure", "--tokenizer", "none", "--base-url", url]
        + ["--llm-model", "judge", "--segmenter", "llm", "--classifier", "llm", "--llm-cache", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    section = done.stdout.split("== judge: --segmenter llm --classifier llm\n", 1)[1]
    assert "F1" in section and "verification" in section
    chains = [json.loads(line) for line in (shared_data / "reasoning_traces.jsonl").read_text().splitlines()]
    prompts = [r["messages"][0]["content"] for r in fake.requests]
    # per chain one request for the steps, then one for the labels with the rule hints
    assert len(prompts) == 2 * len(chains)
    assert all("<reasoning>" in p for p in prompts[::2]) and all("(rule hint: " in p for p in prompts[1::2])
    assert all(chain["question"].strip() in p for chain, p in zip(chains, prompts[1::2]))


def prune_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "limopro_plugins.prune", *args], capture_output=True, text=True, timeout=600
    )


def test_llm_flags_need_an_endpoint_and_a_model() -> None:
    for flags in (["--classifier", "llm"], ["--classifier", "hybrid"], ["--segmenter", "llm"]):
        done = prune_cli(*flags)
        assert done.returncode == 2 and "need --base-url and --llm-model" in done.stderr
