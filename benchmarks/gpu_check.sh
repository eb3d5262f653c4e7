#!/usr/bin/env bash
# The vLLM backend's check on one NVIDIA GPU (docs/pir.md, "vLLM at the prefix-cache bound"):
# installs limopro-plugins with the vllm and test extras in a virtual environment of its own, runs
# tests/pir/test_vllm_scorer.py (which then also checks the installed vLLM's own classes) and
# benchmarks/bench_pir.py --backend vllm on a small public model, over two synthetic chains and the
# bundled sample. Prints the table and PASS or FAIL (exit status 1 on FAIL, 2 without a GPU).
#
#   bash benchmarks/gpu_check.sh [MODEL]    # default Qwen/Qwen2.5-0.5B-Instruct
#
# Needs the network (PyPI and the Hugging Face hub). VENV (default .venv-vllm) is reused when it exists;
# PYTHON picks the interpreter that creates it (vLLM wants Python >= 3.10).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-Qwen/Qwen2.5-0.5B-Instruct}
VENV=${VENV:-.venv-vllm}
PYTHON=${PYTHON:-python3}

if ! nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; then
  echo "gpu_check: no NVIDIA GPU here (nvidia-smi failed); vLLM needs one" >&2
  exit 2
fi
start=$SECONDS
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[vllm,test]"
"$VENV/bin/python" -c 'import torch, vllm; print(f"vllm {vllm.__version__}, torch {torch.__version__}, CUDA: {torch.cuda.is_available()}")'
echo "install: $((SECONDS - start)) s"
status=0
# The scorer's CPU tests, here against the installed vLLM's own classes too.
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/pir/test_vllm_scorer.py || status=$?
"$VENV/bin/python" benchmarks/bench_pir.py --backend vllm --model "$MODEL" --device cuda --dtype bfloat16 \
  --repeats 2 || status=$?
echo "gpu_check: $((SECONDS - start)) s in all"
exit "$status"
