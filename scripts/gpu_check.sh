#!/usr/bin/env bash
# GPU check for the torch engine (issue 5). Run from the repository root on a machine with
# an NVIDIA GPU and PyTorch:   bash scripts/gpu_check.sh
# 1. the CUDA equivalence tests (NumPy engine vs torch engine on cuda, same weights);
# 2. a throughput table: chars/s of one training step, torch on the GPU vs NumPy on this CPU.
# Finishes in a few minutes. Installs rnnkit (editable, no deps) only if it is not importable;
# never installs torch.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch" 2>/dev/null || { echo "gpu_check: PyTorch is not installed (pip install torch)"; exit 2; }
if ! python -c "import rnnkit" 2>/dev/null; then
    pip install -q --no-deps -e . && pip install -q "numpy>=1.24" "safetensors>=0.4" "tqdm>=4.60"
fi
python -c "import pytest" 2>/dev/null || pip install -q pytest
python - <<'PY'
import torch, platform
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
if torch.cuda.is_available():
    print(f"GPU: {torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} visible)")
else:
    print("GPU: none visible to PyTorch: the CUDA tests will skip")
print(f"CPU: {platform.processor() or platform.machine()}")
PY
echo "== CUDA equivalence tests =="
timeout 600 python -m pytest -q -rs tests/test_torch_engine.py -k "cuda or equals_numpy" -p no:cacheprovider || echo "gpu_check: SOME CUDA TESTS FAILED"
echo "== throughput (B=64, T=64, L=1, V=65; one training step: forward, backward, clip, Adam) =="
timeout 300 python scripts/gpu_check.py
