#!/usr/bin/env bash
# GPU benchmark in BENCH_S seconds (default 150) on a CUDA machine (see export/gpu_bench.py for the steps).
#   OUT=/some/dir bash export/gpu_bench.sh                  -> $OUT/gpu_bench.json + a table
#   GPU_BENCH_TINY=1 OUT=/tmp/gb bash export/gpu_bench.sh   (CPU dry run at 64×48, no GPU needed)
# Optional: GPU_BENCH_DECODER=runs/x/decoder.pt, GPU_BENCH_LITE=runs/l/lite.pt, GPU_BENCH_PHOTOS=.gpu/data/val/content.
# Each step runs in its own process under `timeout` with its share of BENCH_S, so one that overruns
# loses only its own remaining cases (every step saves its JSON after each case).
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_bench_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="${PYTHONPATH:-}:$PWD"
BENCH_S=${BENCH_S:-150}
SCALE=1
[ "${GPU_BENCH_TINY:-0}" = 1 ] && SCALE=6     # a shared CPU is slow and noisy; the shares are for the GPU
TRT_S=0
"$PY" -c "import tensorrt" 2> /dev/null && TRT_S=$(( BENCH_S * 25 / 100 ))
SPEED_S=$(( BENCH_S * 30 / 100 ))
PARITY_S=$(( BENCH_S * 12 / 100 ))
REPORT_S=10
COMPILE_S=$(( BENCH_S - SPEED_S - PARITY_S - TRT_S - REPORT_S ))
step() {  # step NAME SECONDS
    local t0=$SECONDS limit=$(( $2 * SCALE ))
    [ "$limit" -gt 0 ] || { echo "gpu_bench: step $1 skipped (no time in BENCH_S=$BENCH_S)" >&2; return; }
    timeout --kill-after=5 "$limit" "$PY" -m export.gpu_bench "$1" --out "$OUT"
    local rc=$?
    [ $rc -eq 0 ] || echo "gpu_bench: step $1 ended with status $rc (124 = cut at $limit s; its finished cases are kept)" >&2
    echo "gpu_bench: step $1 took $((SECONDS - t0)) s" >&2
}
step speed "$SPEED_S"
step compile "$COMPILE_S"
if [ "$TRT_S" -gt 0 ]; then step tensorrt "$TRT_S"; else echo "gpu_bench: tensorrt not importable; step skipped" >&2; fi
step parity "$PARITY_S"
step report "$REPORT_S"
