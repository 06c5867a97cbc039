#!/usr/bin/env bash
# The one prepared device call of issues 20 and 22 (see benchmarks/gpu_check.py). On the GPU machine, from the
# repository root, with its own python3 (PyTorch, pandas, scikit-learn, timm, pytest are there; nothing is
# installed):
#     bash benchmarks/gpu_check.sh "$OUT"      # about 3-5 minutes on one H100
# Writes into the folder given (default runs/benchmarks): nvidia_smi.txt, gpu_check.json / .log (every full-profile
# model's training step against the cost plan) and tensor_ops_cuda.log (the preprocessing tensor path on CUDA
# against the CPU reference, tests/test_preprocess_tensor_ops.py).
set -uo pipefail
out=${1:-runs/benchmarks}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 MER_HEADLESS=1
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/nvidia_smi.txt"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$out/nvidia_smi.txt"
status=0
"$py" benchmarks/gpu_check.py --out "$out/gpu_check.json" 2>&1 | tee "$out/gpu_check.log" || status=1
"$py" -m pytest -q -p no:cacheprovider tests/test_preprocess_tensor_ops.py 2>&1 | tee "$out/tensor_ops_cuda.log" \
    || status=1
exit $status
