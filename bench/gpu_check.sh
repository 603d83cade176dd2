#!/usr/bin/env bash
# The GPU checks in one run that fits 10 minutes, for any machine with a CUDA GPU:
# the gpu-marked tests (bf16 / fp16 LoRA, QLoRA, single-GPU FSDP) and the CUDA rows of memory_estimate.py.
#     bash bench/gpu_check.sh            (from the repository root; PYTHON=... to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU: nothing to check')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
timeout 360 "$PYTHON" -m pytest tests/train/test_gpu.py -m gpu -q -p no:randomly
timeout 220 "$PYTHON" bench/memory_estimate.py --device cuda --steps 3 --budget-gb 60
