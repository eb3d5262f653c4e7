"""Read reasoning datasets of several schemas into chains, and write records back in their own schema.

A *chain* is one record's question, its reasoning (the part PIR refines) and its final solution (the
part PIR scores). Every supported schema can be rebuilt byte for byte after the reasoning is replaced,
so pruned datasets keep the input's schema and every other field.

Reasoning and final solution are separated at `</think>` when the response has one. Otherwise the final
solution is the last paragraph (blank-line separated) that holds the response's last `\\boxed{}`, together
with everything after it; a response without `\\boxed{}` and without `</think>` is all reasoning and the
gold `answer` field, when present, is scored instead.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast, get_args

from limopro_plugins.text import PARAGRAPH_BREAK, THINK_CLOSE, THINK_OPEN

SchemaName = Literal["limo", "s1k", "sharegpt", "messages", "alpaca"]
SCHEMAS: tuple[SchemaName, ...] = get_args(SchemaName)


class InputError(ValueError):
    """The input as a whole cannot be read (missing file, unknown format, hub unavailable)."""


class RecordError(ValueError):
    """One record cannot be used; the message is the reason written to the rejects file."""


@dataclass(frozen=True)
class Fields:
    """Field names to read; None means the schema's default. Set by the `--*-field` flags."""

    question: str | None = None
    reasoning: str | None = None
    solution: str | None = None
    answer: str | None = None


@dataclass(frozen=True)
class Split:
    """A response cut into `head + reasoning + tail`, where `tail` holds the final solution.

    `solution` is the final solution as scored (the tail without the `</think>` marker and surrounding
    whitespace).
    """

    head: str
    reasoning: str
    tail: str
    separate: str | None = None
    """The final solution when it lives in a field of its own (S1K `attempt`, `--solution-field`)."""

    @property
    def solution(self) -> str:
        if self.separate is not None:
            return self.separate.strip()
        return self.tail.replace(THINK_CLOSE, "", 1).strip()

    def join(self, reasoning: str) -> str:
        """The response with its reasoning replaced; `join(self.reasoning)` is the original text."""
        return self.head + reasoning + self.tail


@dataclass
class Chain:
    """One usable record: where it came from, its schema, and its question / reasoning / solution."""

    index: int
    line: int | None
    record: dict[str, Any]
    schema: SchemaName
    question: str
    split: Split
    answer: str | None
    fields: Fields = field(default_factory=Fields)

    @property
    def reasoning(self) -> str:
        return self.split.reasoning

    @property
    def solution(self) -> str:
        return self.split.solution

    @property
    def location(self) -> str:
        return f"line {self.line}" if self.line is not None else f"record {self.index}"

    def with_reasoning(self, reasoning: str) -> dict[str, Any]:
        """A copy of the original record, in its own schema, with the reasoning replaced."""
        return _rebuild(self, reasoning)


@dataclass
class Reject:
    """A record that could not be used, with where it was and why."""

    index: int
    line: int | None
    reason: str
    record: Any

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "line": self.line, "reason": self.reason}
        out["record" if not isinstance(self.record, str) else "raw"] = self.record
        return out

    @property
    def location(self) -> str:
        return f"line {self.line}" if self.line is not None else f"record {self.index}"


# --------------------------------------------------------------------------- splitting a response


def split_response(text: str) -> Split:
    """Cut a response into reasoning and final solution (see the module docstring for the rule)."""
    close = text.find(THINK_CLOSE)
    if close >= 0:
        start = 0
        stripped = text.lstrip()
        if stripped.startswith(THINK_OPEN):
            start = len(text) - len(stripped) + len(THINK_OPEN)
        return Split(text[:start], text[start:close], text[close:])
    boxed = text.rfind("\\boxed")
    if boxed < 0:
        return Split("", text, "")
    breaks = [m.end() for m in PARAGRAPH_BREAK.finditer(text, 0, boxed)]
    cut = breaks[-1] if breaks else 0
    if cut == 0:  # one paragraph only: no separate final solution, the whole text is reasoning
        return Split("", text, "")
    return Split("", text[:cut], text[cut:])


# --------------------------------------------------------------------------- schema handling


def _text(record: dict[str, Any], name: str) -> str:
    if name not in record:
        raise RecordError(f"missing field {name!r}")
    value = record[name]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        if len(value) != 1:
            raise RecordError(f"field {name!r} holds {len(value)} texts; expected exactly one")
        value = value[0]
    if not isinstance(value, str):
        raise RecordError(f"field {name!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise RecordError(f"field {name!r} is empty")
    return value


def _answer(record: dict[str, Any], name: str | None) -> str | None:
    value = record.get(name or "answer")
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _s1k_fields(record: dict[str, Any], fields: Fields) -> tuple[str, str]:
    reasoning = fields.reasoning or next(
        (
            k
            for k in ("thinking_trajectories", "deepseek_thinking_trajectory", "gemini_thinking_trajectory")
            if k in record
        ),
        "thinking_trajectories",
    )
    prefix = reasoning.split("thinking_trajector")[0]
    solution = fields.solution or f"{prefix}attempt"
    return reasoning, solution


_ROLE_KEYS = {"messages": ("role", "content", "user", "assistant"), "sharegpt": ("from", "value", "human", "gpt")}


def _turns(record: dict[str, Any], schema: str) -> tuple[list[dict[str, Any]], int, int]:
    """The turn list and the positions of the last assistant turn and the user turn before it."""
    name = "messages" if schema == "messages" else "conversations"
    role, content, user, assistant = _ROLE_KEYS[schema]
    turns = record.get(name)
    if not isinstance(turns, list):  # --schema names a chat schema the record does not follow
        raise RecordError(f"missing list field {name!r}")
    if not all(isinstance(t, dict) and isinstance(t.get(content), str) for t in turns):
        raise RecordError(f"every turn of {name!r} must be an object with a string {content!r}")
    answer_at = max((i for i, t in enumerate(turns) if t.get(role) == assistant), default=-1)
    if answer_at < 0:
        raise RecordError(f"no {assistant!r} turn in {name!r}")
    question_at = max((i for i in range(answer_at) if turns[i].get(role) == user), default=-1)
    if question_at < 0:
        raise RecordError(f"no {user!r} turn before the last {assistant!r} turn")
    for i in (question_at, answer_at):
        if not turns[i][content].strip():
            raise RecordError(f"turn {i} of {name!r} is empty")
    return turns, question_at, answer_at


def _response_split(record: dict[str, Any], fields: Fields, response_field: str) -> Split:
    """The response of a one-text schema (LIMO, alpaca) cut into reasoning and final solution, or, with
    --solution-field, all reasoning with the solution from that field."""
    response = _text(record, fields.reasoning or response_field)
    return Split("", response, "", _text(record, fields.solution)) if fields.solution else split_response(response)


def _parse_limo(record: dict[str, Any], fields: Fields) -> tuple[str, Split]:
    return _text(record, fields.question or "question"), _response_split(record, fields, "solution")


def _rebuild_limo(record: dict[str, Any], fields: Fields, response: str) -> None:
    record[fields.reasoning or "solution"] = response


def _parse_alpaca(record: dict[str, Any], fields: Fields) -> tuple[str, Split]:
    question = _text(record, fields.question or "instruction")
    extra = record.get("input")
    if isinstance(extra, str) and extra.strip():
        question = f"{question}\n\n{extra}"
    return question, _response_split(record, fields, "output")


def _rebuild_alpaca(record: dict[str, Any], fields: Fields, response: str) -> None:
    record[fields.reasoning or "output"] = response


def _is_s1k(record: dict[str, Any]) -> bool:
    return any(k.endswith("thinking_trajectories") or k.endswith("thinking_trajectory") for k in record)


def _parse_s1k(record: dict[str, Any], fields: Fields) -> tuple[str, Split]:
    question = _text(record, fields.question or "question")
    reasoning_key, solution_key = _s1k_fields(record, fields)
    separate = _text(record, solution_key) if solution_key in record else None
    return question, Split("", _text(record, reasoning_key), "", separate)


def _rebuild_s1k(record: dict[str, Any], fields: Fields, response: str) -> None:
    key, _ = _s1k_fields(record, fields)
    record[key] = [response] if isinstance(record[key], list) else response


def _turn_schema(name: SchemaName) -> Schema:
    """A chat schema (messages, sharegpt): the last assistant turn is the response, the user turn before
    it the question."""
    field, content = ("messages" if name == "messages" else "conversations"), _ROLE_KEYS[name][1]

    def parse(record: dict[str, Any], fields: Fields) -> tuple[str, Split]:
        turns, q_at, a_at = _turns(record, name)
        return turns[q_at][content], split_response(turns[a_at][content])

    def rebuild(record: dict[str, Any], fields: Fields, response: str) -> None:
        turns, _, a_at = _turns(record, name)
        turns[a_at][content] = response

    return Schema(name, lambda record: isinstance(record.get(field), list), parse, rebuild)


@dataclass(frozen=True)
class Schema:
    """One input schema: how a record is recognised, read into question and response, and written back
    with a new response (every other field kept). Adding a schema is one entry in `SCHEMA_REGISTRY`."""

    name: SchemaName
    detect: Callable[[dict[str, Any]], bool]
    parse: Callable[[dict[str, Any], Fields], tuple[str, Split]]
    rebuild: Callable[[dict[str, Any], Fields, str], None]


SCHEMA_REGISTRY: dict[SchemaName, Schema] = {
    schema.name: schema
    for schema in (
        _turn_schema("messages"),
        _turn_schema("sharegpt"),
        Schema("s1k", _is_s1k, _parse_s1k, _rebuild_s1k),
        Schema("alpaca", lambda record: "instruction" in record and "output" in record, _parse_alpaca, _rebuild_alpaca),
        Schema("limo", lambda record: "question" in record and "solution" in record, _parse_limo, _rebuild_limo),
    )
}
"""The schemas in the order detection tries them (the most specific fields first)."""


def detect_schema(record: dict[str, Any]) -> SchemaName:
    """Name of the schema a record follows, from the fields it has."""
    for schema in SCHEMA_REGISTRY.values():
        if schema.detect(record):
            return schema.name
    raise RecordError(
        "unknown schema: expected LIMO (question/solution), S1K (question/thinking_trajectories/attempt), "
        "sharegpt (conversations), messages, or alpaca (instruction/output) fields; "
        "or pass --schema and --question-field/--reasoning-field"
    )


def parse_record(
    record: Any, *, index: int, line: int | None, schema: SchemaName | None = None, fields: Fields = Fields()
) -> Chain:
    """Turn one raw record into a Chain, or raise RecordError with the reason."""
    if not isinstance(record, dict):
        raise RecordError(f"record must be a JSON object, got {type(record).__name__}")
    schema = schema or detect_schema(record)
    answer = _answer(record, fields.answer)
    if schema not in SCHEMA_REGISTRY:
        raise RecordError(f"unknown schema {schema!r}; choose one of {', '.join(SCHEMAS)}")
    question, split = SCHEMA_REGISTRY[schema].parse(record, fields)
    if not split.reasoning.strip():
        raise RecordError("empty reasoning (nothing before </think>)")
    if not split.solution and not (answer and answer.strip()):
        raise RecordError("no final solution and no answer field: nothing to score PIR against")
    return Chain(index, line, record, schema, question, split, answer, fields)


def _rebuild(chain: Chain, reasoning: str) -> dict[str, Any]:
    record = json.loads(json.dumps(chain.record))  # deep copy of plain JSON data
    SCHEMA_REGISTRY[chain.schema].rebuild(record, chain.fields, chain.split.join(reasoning))
    return record


# --------------------------------------------------------------------------- reading inputs


def _jsonable(value: Any) -> Any:
    """Parquet / Arrow values (numpy arrays, numpy scalars) as plain JSON values."""
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def iter_raw(
    source: str, *, schema: SchemaName | None = None, fields: Fields = Fields()
) -> Iterator[tuple[int, int | None, Any]]:
    """Yield (index, line, record-or-raw-text) for every record of a file or hub dataset.

    JSONL is read line by line so a bad line is reported with its number (the raw text is yielded for
    the caller to reject) and reading goes on; JSON and Parquet records carry their index only.
    """
    path = Path(source)
    if path.is_file():
        suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
        if suffix in (".jsonl", ".jsonl.gz"):
            yield from _iter_jsonl(path)
        elif suffix in (".json", ".json.gz"):
            yield from _iter_json(path, schema, fields)
        elif suffix == ".parquet":
            yield from _iter_parquet(path)
        else:
            raise InputError(f"{source}: unknown file type {suffix!r} (use .jsonl, .json or .parquet)")
    elif path.exists():
        raise InputError(f"{source}: not a readable file")
    elif path.suffix in (".jsonl", ".json", ".parquet", ".gz"):
        raise InputError(f"{source}: file not found")
    else:
        yield from _iter_hub(source)


def _open_bytes(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        import gzip

        return cast(BinaryIO, gzip.open(path, "rb"))
    return path.open("rb")


_BOM = b"\xef\xbb\xbf"
"""UTF-8's byte-order mark, which some editors write at the start of a file: not part of the first record."""


def _unreadable(path: Path, error: Exception, line: int | None = None) -> InputError:
    """One sentence for a file that cannot be read on: unreadable, not gzip, or cut or corrupt data."""
    after = f" after line {line}" if line else ""
    if isinstance(error, EOFError):
        cause = f"the compressed data ends early{after} (a truncated download or copy?)"
    elif isinstance(error, OSError) and error.strerror:
        cause = f"cannot read it: {error.strerror}"
    else:
        cause = f"corrupt data{after} ({' '.join(str(error).split())})"
    return InputError(f"{path}: {cause}")


_READ_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error)
"""What reading a (gzip) file raises for a permission, a truncated stream or corrupt compressed data."""


def _check_utf8_file(path: Path, first: bytes) -> None:
    """A UTF-16 (or UTF-32) file would give "invalid JSON" for every line: say so once instead. Its first
    line starts with a UTF-16 byte-order mark, or holds NUL bytes, which UTF-8 JSON never does."""
    if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first:
        raise InputError(f"{path}: the file is UTF-16 (or UTF-32) text, not UTF-8: convert it to UTF-8 first")


def _iter_jsonl(path: Path) -> Iterator[tuple[int, int | None, Any]]:
    """Lines are decoded one at a time, so a line that is not UTF-8 is rejected with its number (its
    bytes kept, escaped) instead of ending the whole read."""
    index, number = 0, 0
    try:
        with _open_bytes(path) as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1:
                    _check_utf8_file(path, raw)
                    raw = raw.removeprefix(_BOM)
                if not raw.strip():
                    continue
                yield index, number, _parse_line(raw)
                index += 1
    except _READ_ERRORS as error:
        raise _unreadable(path, error, number) from error


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A JSON escape of a UTF-16 surrogate: one half of a character beyond U+FFFF, or alone no character.
JSON parsers accept a lone one, but no UTF-8 file, tokenizer or marker search can take it."""
_LONE_SURROGATE = (
    "a string holds an unpaired UTF-16 surrogate (a \\uD800-\\uDFFF escape without its other "
    "half): not valid Unicode text"
)


MAX_DEPTH = 200
"""Arrays and objects nested deeper are rejected: reading, hashing and copying a record recurse once per
level, and Python's recursion limit (1,000 frames) must not end a run. Real records nest a few levels."""
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep (arrays and objects): too deep to process"
_TOO_LONG_INTEGER = (
    f"holds an integer of more than {getattr(sys, 'get_int_max_str_digits', lambda: 4300)():,} digits, "
    "longer than Python reads as a number"
)


def _too_deep(record: Any) -> bool:
    """Whether `record` nests arrays and objects more than MAX_DEPTH levels (walked without recursion)."""
    stack = [(record, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return False


def _unusable(record: Any, text: str) -> str | None:
    """Why a parsed record cannot be processed (too deep, lone surrogate), or None. The walks run only
    where the JSON text could hold the problem, so ordinary records cost two substring counts."""
    if text.count("[") + text.count("{") > MAX_DEPTH and _too_deep(record):
        return _TOO_DEEP
    if _SURROGATE_ESCAPE.search(text) and _holds_lone_surrogate(record):
        return _LONE_SURROGATE
    return None


def _holds_lone_surrogate(record: Any) -> bool:
    """Whether a parsed record holds a lone surrogate anywhere (so it cannot be written as UTF-8)."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parse_line(raw: bytes) -> Any:
    """One JSONL line's record, or a _BadLine holding its text (undecodable bytes escaped as \\xNN)."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        text = raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
        return _BadLine(text, f"not UTF-8: byte {raw[error.start]:#04x} at byte {error.start + 1} of the line")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return _BadLine(line, f"invalid JSON: {error.msg} (column {error.colno})")
    except RecursionError:
        return _BadLine(line, _TOO_DEEP)
    except ValueError:  # the only other ValueError json.loads raises: an integer past the digit limit
        return _BadLine(line, _TOO_LONG_INTEGER)
    reason = _unusable(record, line)
    return _BadLine(line, reason) if reason else record


def _iter_json(path: Path, schema: SchemaName | None, fields: Fields) -> Iterator[tuple[int, int | None, Any]]:
    """A record holding a lone surrogate is yielded as a _BadLine of its JSON, escapes kept as read."""
    try:
        with _open_bytes(path) as handle:
            raw = handle.read()
    except _READ_ERRORS as error:
        raise _unreadable(path, error) from error
    _check_utf8_file(path, raw[:4096])
    try:
        text = raw.removeprefix(_BOM).decode("utf-8")
        data = json.loads(text)
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 (byte {error.start + 1})") from error
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: invalid JSON at line {error.lineno}: {error.msg}") from error
    except RecursionError as error:
        raise InputError(f"{path}: {_TOO_DEEP}") from error
    except ValueError as error:
        raise InputError(f"{path}: {_TOO_LONG_INTEGER}") from error
    if isinstance(data, dict):
        data = _records_of_object(data, schema, fields)
    for index, record in enumerate(data):
        reason = _unusable(record, text)
        if reason == _LONE_SURROGATE:
            yield index, None, _BadLine(json.dumps(record), reason)
        elif reason:
            yield index, None, _BadLine(f"({reason}: record not kept)", reason)
        else:
            yield index, None, record


def _records_of_object(data: dict[str, Any], schema: SchemaName | None, fields: Fields) -> list[Any]:
    """A JSON file holding one object is either one record or a wrapper such as {"data": [records]}:
    it is a wrapper when it is no usable record (with the run's --schema and fields) and one of its
    fields is a list of objects, or its only field is an empty list. A record's own list fields (tags)
    stay in it, and a bad record is rejected, never dropped as an empty wrapper."""
    try:
        parse_record(data, index=0, line=None, schema=schema, fields=fields)
    except RecordError:
        if len(data) == 1 and next(iter(data.values())) == []:
            return []
        return next(
            (v for v in data.values() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)), [data]
        )
    return [data]


def _iter_parquet(path: Path) -> Iterator[tuple[int, int | None, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=256):
            for record in batch.to_pylist():
                yield index, None, _jsonable(record)
                index += 1
    except (pa.ArrowException, OSError) as error:  # not Parquet, truncated, or a corrupt page
        cause = " ".join(str(error).split())  # Arrow's messages span lines
        raise InputError(f"{path}: not a readable Parquet file, record {index + 1} on ({cause})") from error


def _iter_hub(name: str) -> Iterator[tuple[int, int | None, Any]]:
    """A Hugging Face dataset `NAME` or `NAME:SPLIT` (default split: train), streamed through `datasets`."""
    repo, _, split = name.partition(":")
    try:
        import datasets

        dataset = datasets.load_dataset(repo, split=split or "train")
    except Exception as error:  # noqa: BLE001 - datasets raises many types for "not available"
        raise InputError(
            f"cannot load dataset {repo!r} from the Hugging Face hub ({type(error).__name__}), and no local "
            f"file {name!r} exists. If this machine is offline, download it elsewhere and pass the local "
            ".jsonl/.json/.parquet file instead."
        ) from error
    for index, record in enumerate(dataset):
        yield index, None, _jsonable(record)


@dataclass(frozen=True)
class _BadLine:
    """A JSONL line that did not parse, kept verbatim so it can be written to the rejects file."""

    text: str
    reason: str


def read_chains(
    source: str, *, schema: SchemaName | None = None, fields: Fields = Fields()
) -> Iterator[Chain | Reject]:
    """Yield a Chain for every usable record and a Reject (with reason and location) for every other."""
    for index, line, raw in iter_raw(source, schema=schema, fields=fields):
        if isinstance(raw, _BadLine):
            yield Reject(index, line, raw.reason, raw.text)
            continue
        try:
            yield parse_record(raw, index=index, line=line, schema=schema, fields=fields)
        except RecordError as error:
            yield Reject(index, line, str(error), raw)
