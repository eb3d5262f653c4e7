"""Registration in dataset_info.json, and real `llamafactory-cli train` runs on pruned data."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from limopro_plugins.train.convert import convert_file
from limopro_plugins.train.dataset_info import RegistrationError, dataset_entry, register_dataset
from tests.data.texts import SAMPLE


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "mine.jsonl"
    path.parent.mkdir()
    convert_file(str(SAMPLE), path)
    return path


def test_merge_keeps_other_entries_in_order(tmp_path: Path, data_file: Path) -> None:
    info = tmp_path / "data" / "dataset_info.json"
    existing = {"zeta": {"file_name": "z.json"}, "alpha": {"hf_hub_url": "a/b", "columns": {"prompt": "q"}}}
    info.write_text(json.dumps(existing, indent=2))
    entry = register_dataset(tmp_path / "data", "mine", data_file)
    data = json.loads(info.read_text())
    assert list(data) == ["zeta", "alpha", "mine"]
    assert data["zeta"] == existing["zeta"] and data["alpha"] == existing["alpha"]
    assert data["mine"] == entry == dataset_entry("mine.jsonl")  # relative to the dataset dir


def test_identical_is_a_no_op_different_needs_force(tmp_path: Path, data_file: Path) -> None:
    info = tmp_path / "data" / "dataset_info.json"
    register_dataset(tmp_path / "data", "mine", data_file)
    before = info.stat().st_mtime_ns
    register_dataset(tmp_path / "data", "mine", data_file)
    assert info.stat().st_mtime_ns == before
    with pytest.raises(RegistrationError, match="already has a different entry 'mine'.*--force"):
        register_dataset(tmp_path / "data", "mine", data_file, formatting="alpaca")
    assert json.loads(info.read_text())["mine"]["formatting"] == "sharegpt"
    register_dataset(tmp_path / "data", "mine", data_file, formatting="alpaca", force=True)
    assert "formatting" not in json.loads(info.read_text())["mine"]


def test_registration_keeps_the_file_mode(tmp_path: Path, data_file: Path) -> None:
    """The atomic replace must not leave a shared dataset_info.json readable by its owner only."""
    info = tmp_path / "data" / "dataset_info.json"
    info.write_text("{}")
    info.chmod(0o664)
    register_dataset(tmp_path / "data", "mine", data_file)
    assert info.stat().st_mode & 0o777 == 0o664
    info.unlink()
    register_dataset(tmp_path / "data", "mine", data_file)
    fresh = tmp_path / "fresh"
    fresh.write_text("")  # what open() creates under this process's umask
    assert info.stat().st_mode & 0o777 == fresh.stat().st_mode & 0o777


def test_outside_file_gets_an_absolute_path(tmp_path: Path, data_file: Path) -> None:
    entry = register_dataset(tmp_path / "elsewhere", "mine", data_file)
    assert entry["file_name"] == str(data_file.resolve())


def test_invalid_json_is_left_untouched_with_line_and_column(tmp_path: Path, data_file: Path) -> None:
    info = tmp_path / "data" / "dataset_info.json"
    info.write_text('{\n  "a": {"file_name": "x"},\n  oops\n}\n')
    with pytest.raises(RegistrationError, match=r"not valid JSON \(line 3, column 3"):
        register_dataset(tmp_path / "data", "mine", data_file)
    assert info.read_text() == '{\n  "a": {"file_name": "x"},\n  oops\n}\n'


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, data_file: Path, monkeypatch) -> None:
    info = tmp_path / "data" / "dataset_info.json"
    info.write_text('{"a": {"file_name": "x"}}')

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        register_dataset(tmp_path / "data", "mine", data_file)
    assert info.read_text() == '{"a": {"file_name": "x"}}'
    names = sorted(p.name for p in info.parent.iterdir())
    assert names == ["dataset_info.json", "dataset_info.json.lock", "mine.jsonl"]  # no temp file


# Each writer waits for the start file, then registers its entries one by one, as `prune --register`
# per ratio or shard does: with 8 of them at once an unlocked read-modify-write loses entries every round.
_WRITER = """
import sys, time
from pathlib import Path
from limopro_plugins.train.dataset_info import register_dataset
folder, who, start = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not start.exists():
    time.sleep(0.001)
for k in range(5):
    register_dataset(folder, f"writer{who}_{k}", folder / "mine.jsonl")
"""


def test_concurrent_writers_keep_every_entry(tmp_path: Path, data_file: Path) -> None:
    """8 processes register 5 entries each at the same moment, 5 rounds: all 40 entries and the user's own
    entry are there after every round."""
    info = data_file.parent / "dataset_info.json"
    for round_ in range(5):
        info.write_text(json.dumps({"users_own": {"file_name": "x.json"}}))
        start = tmp_path / f"start{round_}"
        writers = [
            subprocess.Popen([sys.executable, "-c", _WRITER, str(data_file.parent), str(i), str(start)])
            for i in range(8)
        ]
        time.sleep(1.5)  # let them all import and wait at the start line
        start.touch()
        assert [w.wait(timeout=120) for w in writers] == [0] * 8
        entries = json.loads(info.read_text())
        assert set(entries) == {"users_own"} | {f"writer{i}_{k}" for i in range(8) for k in range(5)}, round_


def test_a_symlinked_file_is_written_through_its_link(tmp_path: Path, data_file: Path) -> None:
    shared = tmp_path / "shared_info.json"
    shared.write_text('{"theirs": {"file_name": "t.json"}}')
    link = data_file.parent / "dataset_info.json"
    link.symlink_to(shared)
    register_dataset(data_file.parent, "mine", data_file)
    assert link.is_symlink() and os.readlink(link) == str(shared)
    assert list(json.loads(shared.read_text())) == ["theirs", "mine"]


def test_a_read_only_file_is_refused_and_left_untouched(tmp_path: Path, data_file: Path) -> None:
    info = data_file.parent / "dataset_info.json"
    info.write_text('{"theirs": {"file_name": "t.json"}}')
    info.chmod(0o444)
    with pytest.raises(RegistrationError, match=r"dataset_info.json is read-only.*left untouched"):
        register_dataset(data_file.parent, "mine", data_file)
    assert info.read_text() == '{"theirs": {"file_name": "t.json"}}' and info.stat().st_mode & 0o777 == 0o444


def _prune(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "limopro_plugins.prune", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_register_reads_pruned_records_with_the_runs_schema_and_fields(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    """Pruned records keep the input's field names: run and merge --register read them as the run did."""
    samples = [json.loads(line) for line in SAMPLE.read_text().splitlines()[:2]]
    (tmp_path / "custom.jsonl").write_text(
        "".join(json.dumps({"problem": r["question"], "solution": r["solution"]}) + "\n" for r in samples)
    )
    common = [
        "--input",
        "custom.jsonl",
        "--schema",
        "limo",
        "--question-field",
        "problem",
        "--model",
        str(tiny_qwen_dir),
        "--ratios",
        "0.5",
        "--name",
        "custom_pir",
    ]
    run = _prune(*common, "--output", "out", "--register", "ds", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    written = [json.loads(line) for line in (tmp_path / "ds" / "custom_pir_0.5.jsonl").read_text().splitlines()]
    assert [r["conversations"][0]["value"] for r in written] == [r["question"] for r in samples]
    assert list(json.loads((tmp_path / "ds" / "dataset_info.json").read_text())) == ["custom_pir_0.5"]

    for i in range(2):
        shard = _prune(*common, "--output", f"out{i}", "--shard", f"{i}/2", cwd=tmp_path)
        assert shard.returncode == 0, shard.stderr[-3000:]
    merged = _prune("merge", "out0", "out1", "--output", "merged", "--register", "ds2", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr[-3000:]
    for name in ("custom_pir_0.5.jsonl", "dataset_info.json"):
        assert (tmp_path / "ds2" / name).read_bytes() == (tmp_path / "ds" / name).read_bytes(), name

    conflict, broken = tmp_path / "conflict", tmp_path / "broken"
    conflict.mkdir()
    broken.mkdir()
    (conflict / "dataset_info.json").write_text('{"custom_pir_0.5": {"file_name": "other.jsonl"}}')
    (broken / "dataset_info.json").write_text('{"a": oops}')
    for folder, reason in ((conflict, "already has a different entry 'custom_pir_0.5'"), (broken, "not valid JSON")):
        before = (folder / "dataset_info.json").read_text()
        refused = _prune(*common, "--output", "out", "--register", folder.name, cwd=tmp_path)  # resumes: no scoring
        assert refused.returncode == 2 and "error: " in refused.stderr and reason in refused.stderr
        assert "Traceback" not in refused.stderr
        # nothing written but the lock file, which stays so that later writers lock the same file
        assert sorted(p.name for p in folder.iterdir()) == ["dataset_info.json", "dataset_info.json.lock"]
        assert (folder / "dataset_info.json").read_text() == before


def test_register_writes_nothing_when_a_pruned_record_cannot_be_converted(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    """ppl-all at ratio 1 removes every step: an S1K record with empty reasoning is no training record."""
    sample = json.loads(SAMPLE.read_text().splitlines()[0])
    reasoning, _, attempt = sample["solution"].rpartition("\n\n")
    (tmp_path / "s1k.jsonl").write_text(
        json.dumps({"question": sample["question"], "thinking_trajectories": [reasoning], "attempt": attempt}) + "\n"
    )
    proc = _prune(
        "--input",
        "s1k.jsonl",
        "--model",
        str(tiny_qwen_dir),
        "--strategy",
        "ppl-all",
        "--ratios",
        "0.5,1",
        "--output",
        "out",
        "--register",
        "ds",
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "line 1: field 'thinking_trajectories' is empty" in proc.stderr and "nothing was registered" in proc.stderr
    assert not (tmp_path / "ds").exists()
    assert (tmp_path / "out" / "pruning" / "s1k_ppl_all_1.jsonl").is_file()  # the run's own files are complete


def _aligned_examples(dataset_dir: Path, name: str, model_dir: Path) -> list[dict]:
    """LLaMA-Factory's own loader and sharegpt converter on a registered dataset (in process)."""
    from llamafactory.data.loader import _load_single_dataset, get_dataset_list
    from llamafactory.hparams import get_train_args

    model_args, data_args, training_args, _, _ = get_train_args(
        {
            "model_name_or_path": str(model_dir),
            "stage": "sft",
            "do_train": True,
            "finetuning_type": "full",
            "dataset": name,
            "dataset_dir": str(dataset_dir),
            "template": "qwen",
            "output_dir": str(dataset_dir / "x"),
            "report_to": "none",
            "bf16": False,
        }
    )
    (attr,) = get_dataset_list([name], str(dataset_dir))
    return list(_load_single_dataset(attr, model_args, data_args, training_args))


@pytest.mark.slow
def test_prune_register_and_train_with_llamafactory(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "DISABLE_VERSION_CHECK": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TQDM_DISABLE": "1",
    }
    prune = subprocess.run(
        [
            sys.executable,
            "-m",
            "limopro_plugins.prune",
            "--input",
            str(SAMPLE),
            "--limit",
            "4",
            "--model",
            str(tiny_qwen_dir),
            "--ratios",
            "0.3,0.5",
            "--name",
            "limo_pir",
            "--output",
            "out",
            "--register",
            "data",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert prune.returncode == 0, prune.stderr[-3000:]
    info = json.loads((tmp_path / "data" / "dataset_info.json").read_text())
    assert list(info) == ["limo_pir_0.3", "limo_pir_0.5"]

    written = (tmp_path / "data" / "limo_pir_0.3.jsonl").read_text().splitlines()
    aligned = _aligned_examples(tmp_path / "data", "limo_pir_0.3", tiny_qwen_dir)
    assert len(aligned) == len(written) == 4
    assert all(example["_prompt"] and example["_response"] for example in aligned)  # none skipped

    config = tmp_path / "train.yaml"
    config.write_text(
        "\n".join(
            [
                f"model_name_or_path: {tiny_qwen_dir}",
                "stage: sft",
                "do_train: true",
                "finetuning_type: full",
                "dataset: limo_pir_0.3",
                "dataset_dir: data",
                "template: qwen",
                "cutoff_len: 512",
                "preprocessing_num_workers: 1",
                "overwrite_cache: true",
                "output_dir: run",
                "logging_steps: 1",
                "max_steps: 2",
                "per_device_train_batch_size: 1",
                "gradient_accumulation_steps: 1",
                "learning_rate: 1.0e-4",
                "bf16: false",
                "report_to: none",
                "save_strategy: 'no'",
                "",
            ]
        )
    )
    cli = Path(sys.executable).parent / "llamafactory-cli"  # this environment's, activated or not
    train = subprocess.run(
        [str(cli), "train", str(config)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    log = train.stdout + train.stderr
    assert train.returncode == 0, log[-4000:]
    assert "Invalid role tag" not in log and "Skipping this abnormal example" not in log
    assert "Num examples = 4" in log
    steps = [json.loads(line) for line in (tmp_path / "run" / "trainer_log.jsonl").read_text().splitlines()]
    losses = [s["loss"] for s in steps if "loss" in s]
    assert len(losses) == 2 and all(math.isfinite(x) and x > 0 for x in losses)
    assert json.loads((tmp_path / "run" / "trainer_state.json").read_text())["global_step"] == 2
