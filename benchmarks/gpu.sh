#!/usr/bin/env bash
# The GPU checks in one script (under 8 minutes on one H100/H200): the CUDA tests, CPU (kernel) vs CUDA (torch)
# agreement on a small sweep, eager vs CUDA graphs (FPE_CUDA_GRAPHS=1) on fig3c with the per-step overhead,
# the paper's Boolean grid (fig3a + fig3c, paper size) timed, the paper preset timed.
#
#   bash benchmarks/gpu.sh [OUT_DIR]        # output also written to OUT_DIR/gpu.txt (default: $OUT or .)
#
# Every step has its own time limit (470 s in all); a failing step is reported and the script goes on.
# DRY=1 checks the script on a machine without a GPU: it loads every sweep and trains nothing, and runs the
# graphs step's code on the CPU at a tiny size (both runs eager there).
# PY=... picks the interpreter (default .venv/bin/python, else python3).
set -u
cd "$(dirname "$0")/.."
if [ -z "${PY:-}" ]; then [ -x .venv/bin/python ] && PY=.venv/bin/python || PY=python3; fi
OUT_DIR=${1:-${OUT:-.}}
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu.txt"
: > "$LOG"
status=0

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit} s): $*" | tee -a "$LOG"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$LOG"
    [ "$rc" -eq 0 ] || status=1
}

if [ -n "${DRY:-}" ]; then
    step grid-dry 60 "$PY" benchmarks/gpu.py grid --device cuda --sweeps fig3a,fig3c --size paper --dry
    step preset-dry 60 "$PY" benchmarks/gpu.py grid --device cuda --preset paper --dry
    step graphs-cpu 120 "$PY" benchmarks/gpu.py graphs --device cpu --size quick --epochs 1
    echo "gpu.sh (dry): $([ $status -eq 0 ] && echo all steps passed || echo some steps failed)" | tee -a "$LOG"
    exit $status
fi
step device 15 "$PY" -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0))"
step cuda-tests 55 "$PY" -m pytest -q -p no:cacheprovider tests/fpe_train/engine/test_cuda.py tests/fpe_train/engine/test_gpu_path.py tests/fpe_train/fpe/test_api.py -k "cuda"
step agree 45 "$PY" benchmarks/gpu.py agree --devices cpu,cuda --epochs 20
step graphs 60 "$PY" benchmarks/gpu.py graphs --device cuda --size paper --epochs 10
step grid 90 "$PY" benchmarks/gpu.py grid --device cuda --sweeps fig3a,fig3c --size paper
step preset 205 "$PY" benchmarks/gpu.py grid --device cuda --preset paper
echo "gpu.sh: $([ $status -eq 0 ] && echo all steps passed || echo some steps failed)" | tee -a "$LOG"
exit $status
