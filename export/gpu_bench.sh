#!/usr/bin/env bash
# GPU benchmark at 1280×720, about 90 s on an H100 (see export/gpu_bench.py for the steps).
#   OUT=/some/dir bash export/gpu_bench.sh            -> $OUT/gpu_bench.json + a table
#   GPU_BENCH_TINY=1 OUT=/tmp/gb bash export/gpu_bench.sh   (CPU dry run at 64×48, no GPU needed)
# Optional: GPU_BENCH_DECODER=runs/x/decoder.pt, GPU_BENCH_PHOTOS=.gpu/data/val/content.
# Each step runs in its own process under `timeout`, so one that overruns loses only its own figures.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_bench_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="${PYTHONPATH:-}:$PWD"
SCALE=1
[ "${GPU_BENCH_TINY:-0}" = 1 ] && SCALE=6     # a shared CPU is slow and noisy; the limits are for the GPU
step() {  # step NAME SECONDS
    local t0=$SECONDS limit=$(( $2 * SCALE ))
    timeout --kill-after=5 "$limit" "$PY" -m export.gpu_bench "$1" --out "$OUT"
    local rc=$?
    [ $rc -eq 0 ] || echo "gpu_bench: step $1 ended with status $rc (124 = timed out after $limit s)" >&2
    echo "gpu_bench: step $1 took $((SECONDS - t0)) s" >&2
}
step speed 40
step parity 20
if [ "${GPU_BENCH_TINY:-0}" = 1 ]; then
    echo "gpu_bench: compile step skipped in the tiny dry run" >&2
else
    step compile 30
fi
step report 10
