"""Converting every input schema to LLaMA-Factory records; rejects are written with line numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from limopro_plugins import PAPER_SYSTEM_PROMPT
from limopro_plugins.convert import main
from limopro_plugins.pir.records import Fields
from limopro_plugins.train.convert import convert_file

LIMO = {
    "question": "What is 2+3?",
    "solution": "First, 2+3 = 5.\n\nWait, let me check: 5.\n\n**Final Answer**\n\\boxed{5}",
    "answer": "5",
}
RECORDS = {
    "limo": LIMO,
    "s1k": {
        "question": "What is 2+3?",
        "thinking_trajectories": ["First, 2+3 = 5. Wait, let me check: 5."],
        "attempt": "The answer is \\boxed{5}.",
    },
    "sharegpt": {
        "conversations": [
            {"from": "human", "value": "What is 2+3?"},
            {"from": "gpt", "value": "<think>2+3 = 5.</think>\n\nSo \\boxed{5}."},
        ]
    },
    "messages": {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "What is 2+3?"},
            {"role": "assistant", "content": "2+3 = 5.\n\nThus \\boxed{5}."},
        ]
    },
    "alpaca": {"instruction": "What is 2+3?", "input": "", "output": "2+3 = 5.\n\nThus \\boxed{5}."},
}


def write(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


@pytest.mark.parametrize("schema", RECORDS)
def test_each_schema_becomes_a_sharegpt_record(tmp_path: Path, schema: str) -> None:
    src = write(tmp_path / "in.jsonl", [RECORDS[schema]])
    counts = convert_file(str(src), tmp_path / "out.jsonl")
    assert (counts.read, counts.written, counts.rejected) == (1, 1, 0)
    record = json.loads((tmp_path / "out.jsonl").read_text())
    assert record["system"] == PAPER_SYSTEM_PROMPT
    (user, assistant) = record["conversations"]
    assert user == {"from": "human", "value": "What is 2+3?"}
    assert assistant["from"] == "gpt" and assistant["value"].rstrip(".").endswith("\\boxed{5}")
    assert "2+3 = 5" in assistant["value"]


@pytest.mark.parametrize("schema", ["messages", "sharegpt"])
def test_a_chat_schema_forced_on_other_records_rejects_them(tmp_path: Path, schema: str) -> None:
    """--schema messages on LIMO records: each is a reject naming the missing field, not a traceback."""
    src = write(tmp_path / "in.jsonl", [LIMO, {schema if schema == "messages" else "conversations": "not a list"}])
    counts = convert_file(str(src), tmp_path / "out.jsonl", schema=schema)
    assert (counts.read, counts.written, counts.rejected) == (2, 0, 2)
    field = "messages" if schema == "messages" else "conversations"
    reasons = [json.loads(line)["reason"] for line in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert reasons == [f"missing list field {field!r}"] * 2


def test_plain_keeps_the_source_text_and_think_wraps_the_reasoning(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [LIMO])
    convert_file(str(src), tmp_path / "plain.jsonl")
    convert_file(str(src), tmp_path / "think.jsonl", think=True)
    plain = json.loads((tmp_path / "plain.jsonl").read_text())["conversations"][1]["value"]
    think = json.loads((tmp_path / "think.jsonl").read_text())["conversations"][1]["value"]
    assert plain == LIMO["solution"]
    assert think == "<think>\nFirst, 2+3 = 5.\n\nWait, let me check: 5.\n</think>\n\n**Final Answer**\n\\boxed{5}"


def test_alpaca_output(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [LIMO])
    convert_file(str(src), tmp_path / "out.jsonl", fmt="alpaca", system="")
    assert json.loads((tmp_path / "out.jsonl").read_text()) == {
        "instruction": LIMO["question"],
        "input": "",
        "output": LIMO["solution"],
        "system": "",
    }


def test_rejects_are_reported_written_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(
        tmp_path / "in.jsonl",
        [LIMO, "{not json", {"question": "q"}, LIMO, {"conversations": [{"from": "gpt", "value": "x"}]}],
    )
    assert main(["--input", str(src), "--output", str(tmp_path / "out.jsonl")]) == 0
    captured = capsys.readouterr()
    assert "read: 5, written: 2, rejected: 3" in captured.out
    assert "rejected line 2: invalid JSON" in captured.err and "rejected line 3" in captured.err
    rejects = [json.loads(x) for x in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3, 5]
    assert "no 'human' turn" in rejects[2]["reason"] or "no 'gpt'" in rejects[2]["reason"]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2


def test_missing_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--input", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_a_line_that_is_not_utf8_is_rejected_and_reading_goes_on(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    bad = b'{"question": "caf\xe9", "solution": "x"}'
    src.write_bytes(json.dumps(LIMO).encode() + b"\n" + bad + b"\n" + json.dumps(LIMO).encode() + b"\n")
    counts = convert_file(str(src), tmp_path / "out.jsonl", quiet=True)
    assert (counts.written, counts.rejected) == (2, 1)
    [reject] = [json.loads(x) for x in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert reject["line"] == 2 and "not UTF-8: byte 0xe9" in reject["reason"]
    assert reject["raw"] == bad.decode("utf-8", errors="backslashreplace")  # the bytes, escaped


def test_a_lone_surrogate_escape_is_rejected_with_its_line_kept(tmp_path: Path) -> None:
    """JSON accepts "\\ud800" but it is half a character: no UTF-8 writer, tokenizer or marker search
    takes it. Its line is rejected with a reason and kept as read; a complete pair is one character."""
    lone = '{"question": "What is 2+3?", "solution": "So 5. Wait, \\ud800 check.\\n\\n\\\\boxed{5}"}'
    pair = '{"question": "What is 2+3?", "solution": "So 5 \\ud83d\\ude00.\\n\\n\\\\boxed{5}"}'
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([lone, pair]) + "\n")
    counts = convert_file(str(src), tmp_path / "out.jsonl", quiet=True)
    assert (counts.written, counts.rejected) == (1, 1)
    [reject] = [json.loads(x) for x in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert reject["line"] == 1 and "unpaired UTF-16 surrogate" in reject["reason"]
    assert reject["raw"] == lone
    assert "\U0001f600" in (tmp_path / "out.jsonl").read_text(encoding="utf-8")


def test_a_lone_surrogate_in_a_json_file_is_rejected_as_its_json(tmp_path: Path) -> None:
    records = [dict(LIMO, solution=LIMO["solution"] + " \udc00"), LIMO]
    src = tmp_path / "in.json"
    src.write_text(json.dumps(records))  # ASCII escapes: the file itself is valid UTF-8
    counts = convert_file(str(src), tmp_path / "out.jsonl", quiet=True)
    assert (counts.written, counts.rejected) == (1, 1)
    [reject] = [json.loads(x) for x in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert reject["index"] == 0 and json.loads(reject["raw"]) == records[0]


def test_truncated_line_reports_the_column_where_it_ends(tmp_path: Path) -> None:
    line = '{"question": "What is 2+3?", "solution": '  # cut after a colon: the value is missing
    src = write(tmp_path / "in.jsonl", [LIMO, line])
    convert_file(str(src), tmp_path / "out.jsonl", quiet=True)
    [reject] = [json.loads(x) for x in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert reject["reason"].endswith(f"(column {len(line) + 1})"), reject["reason"]


def test_windows_line_ends_keep_paragraphs_and_the_final_solution(tmp_path: Path) -> None:
    from limopro_plugins.pir.records import split_response
    from limopro_plugins.pir.segment import rule_steps
    from limopro_plugins.text import Mode

    unix = LIMO["solution"]
    windows = unix.replace("\n", "\r\n")
    assert split_response(windows).solution.replace("\r", "") == split_response(unix).solution
    assert split_response(unix).solution == "**Final Answer**\n\\boxed{5}"
    steps = [rule_steps(split_response(text).reasoning) for text in (unix, windows)]
    assert steps[0][0] == steps[1][0] == 2
    assert [mode for *_, mode in steps[0][1]] == [mode for *_, mode in steps[1][1]] == [Mode.VERIFICATION]


def test_one_object_json_file_is_one_record_unless_it_wraps_a_list_of_records(tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_text(json.dumps({**LIMO, "tags": ["algebra", "easy"]}))
    assert convert_file(str(single), tmp_path / "one.jsonl").written == 1
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"version": 2, "data": [LIMO, LIMO, LIMO]}))
    assert convert_file(str(wrapped), tmp_path / "wrapped.jsonl").written == 3
    messages = tmp_path / "messages.json"
    messages.write_text(json.dumps(RECORDS["messages"]))
    assert convert_file(str(messages), tmp_path / "messages.jsonl").written == 1
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"data": []}))
    assert (convert_file(str(empty), tmp_path / "empty.jsonl").read) == 0
    own_fields = tmp_path / "own.json"  # a record read with --schema/--*-field, holding a list of objects
    own_fields.write_text(
        json.dumps({"problem": "What is 2+3?", "response": "2+3 = 5.\n\n\\boxed{5}", "refs": [{"k": 1}]})
    )
    counts = convert_file(
        str(own_fields), tmp_path / "own.jsonl", schema="limo", fields=Fields(question="problem", reasoning="response")
    )
    assert (counts.written, counts.rejected) == (1, 0)


def test_a_named_rejects_file_holds_this_runs_rejects(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [LIMO, "{not json"])
    named = tmp_path / "bad.jsonl"
    convert_file(str(src), tmp_path / "out.jsonl", rejects=named, quiet=True)
    assert len(named.read_text().splitlines()) == 1
    write(src, [LIMO])
    convert_file(str(src), tmp_path / "out.jsonl", rejects=named, quiet=True)
    assert named.exists() and named.read_text() == ""
    convert_file(str(write(tmp_path / "in2.jsonl", [LIMO, "{x"])), tmp_path / "o2.jsonl", quiet=True)
    assert (tmp_path / "o2.jsonl.rejects.jsonl").exists()
    convert_file(str(write(tmp_path / "in2.jsonl", [LIMO])), tmp_path / "o2.jsonl", quiet=True)
    assert not (tmp_path / "o2.jsonl.rejects.jsonl").exists()  # no stale default file


def test_output_that_is_the_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", [LIMO, "{not json"])
    before = src.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(src)
    for output in (src, tmp_path / "link.jsonl", tmp_path / "." / "in.jsonl"):
        assert main(["--input", str(src), "--output", str(output)]) == 2
        assert "is the input file: it would be overwritten" in capsys.readouterr().err
    assert main(["--input", str(src), "--output", str(tmp_path / "o.jsonl"), "--rejects", str(src)]) == 2
    assert "the rejects file" in capsys.readouterr().err
    assert src.read_bytes() == before and not (tmp_path / "o.jsonl").exists()


def test_register_refusing_a_name_collision_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.jsonl", [LIMO, "{not json"])
    data = tmp_path / "data"
    data.mkdir()
    info = {"mine": {"file_name": "someone_elses.json"}}
    (data / "dataset_info.json").write_text(json.dumps(info))
    args = ["--input", str(src), "--output", str(data / "mine.jsonl"), "--register", str(data)]
    assert main(args) == 2
    assert "already has a different entry 'mine'" in capsys.readouterr().err
    assert sorted(p.name for p in data.iterdir()) == ["dataset_info.json", "dataset_info.json.lock"]
    assert json.loads((data / "dataset_info.json").read_text()) == info
    assert main([*args, "--force"]) == 0
    assert json.loads((data / "dataset_info.json").read_text())["mine"]["file_name"] == "mine.jsonl"


def test_unreadable_records_are_rejects_with_their_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nesting past Python's recursion limit, an integer past its digit limit, and nesting deep enough to
    break a later copy or hash of the record: each a reject, and the records after them are read."""
    deep = {**LIMO, "extra": json.loads("[" * 300 + "]" * 300)}
    huge_int = json.dumps(LIMO)[:-1] + ', "n": ' + "9" * 5000 + "}"
    src = write(tmp_path / "in.jsonl", [LIMO, "[" * 100_000 + "]" * 100_000, huge_int, json.dumps(deep), LIMO])
    assert main(["--input", str(src), "--output", str(tmp_path / "out.jsonl")]) == 0
    captured = capsys.readouterr()
    assert "read: 5, written: 2, rejected: 3" in captured.out
    assert "rejected line 2: nested more than 200 levels deep" in captured.err
    assert "rejected line 3: holds an integer of more than 4,300 digits" in captured.err
    assert "rejected line 4: nested more than 200 levels deep" in captured.err
    rejects = [json.loads(x) for x in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3, 4] and rejects[1]["raw"] == huge_int
    wrapped = tmp_path / "in.json"
    wrapped.write_text(json.dumps([LIMO, deep, LIMO]))
    counts = convert_file(str(wrapped), tmp_path / "json.jsonl", quiet=True)
    assert (counts.written, counts.rejected) == (2, 1)


def test_a_byte_order_mark_is_read_and_a_utf16_file_is_named_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(LIMO) + "\n" + json.dumps(LIMO) + "\n"
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert convert_file(str(bom), tmp_path / "o.jsonl").written == 2
    bom_json = tmp_path / "bom.json"
    bom_json.write_bytes(b"\xef\xbb\xbf" + json.dumps([LIMO]).encode())
    assert convert_file(str(bom_json), tmp_path / "o.jsonl").written == 1
    for encoding in ("utf-16", "utf-16-le"):  # with and without its byte-order mark
        wide = tmp_path / f"{encoding}.jsonl"
        wide.write_bytes(text.encode(encoding))
        assert main(["--input", str(wide), "--output", str(tmp_path / "w.jsonl")]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {wide}: the file is UTF-16 (or UTF-32) text, not UTF-8: convert it to UTF-8 first\n"


def test_corrupt_truncated_and_unreadable_files_get_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gzip

    import pandas as pd

    data = gzip.compress("".join(json.dumps({**LIMO, "id": i}) + "\n" for i in range(300)).encode())
    corrupt = bytearray(data)
    corrupt[len(data) // 2 : len(data) // 2 + 16] = b"\xff" * 16
    pd.DataFrame([LIMO] * 50).to_parquet(tmp_path / "whole.parquet")
    parquet = (tmp_path / "whole.parquet").read_bytes()
    cases = {
        "truncated.jsonl.gz": (data[: len(data) // 2], "the compressed data ends early after line"),
        "corrupt.jsonl.gz": (bytes(corrupt), "corrupt data after line"),
        "not_gzip.jsonl.gz": (b'{"question": "q"}\n', "corrupt data (Not a gzipped file"),
        "truncated.json.gz": (gzip.compress(json.dumps([LIMO] * 50).encode())[:60], "the compressed data ends early"),
        "truncated.parquet": (parquet[: len(parquet) // 2], "not a readable Parquet file"),
        "corrupt.parquet": (parquet[:100] + b"\x07" * 300 + parquet[400:], "not a readable Parquet file"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        assert main(["--input", str(tmp_path / name), "--output", str(tmp_path / "o.jsonl")]) == 2, name
        err = capsys.readouterr().err  # corrupt compressed data may first yield garbled lines, rejected
        assert err.splitlines()[-1].startswith(f"error: {tmp_path / name}: {message}"), (name, err)
        assert err.count("error:") == 1 and "Traceback" not in err
    (tmp_path / "folder.jsonl").mkdir()
    assert main(["--input", str(tmp_path / "folder.jsonl"), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'folder.jsonl'}: not a readable file\n"


def test_an_input_without_read_permission_gets_one_sentence(tmp_path: Path) -> None:
    src = write(tmp_path / "in.jsonl", [LIMO])
    src.chmod(0o000)
    proc = subprocess.run(
        [*as_unprivileged(), sys.executable, "-m", "limopro_plugins.convert"]
        + ["--input", str(src), "--output", str(tmp_path / "o.jsonl")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr == f"error: {src}: cannot read it: Permission denied\n"


# Root (as in CI) reads and writes regardless of file modes, unless it drops the capabilities for that.
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


def as_unprivileged() -> list[str]:
    """The command prefix under which file modes apply to this process (nothing when not root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file modes cannot be made to apply")
    return NO_DAC
