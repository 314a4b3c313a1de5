#!/usr/bin/env bash
# Does xlt train on this machine's GPUs? Run from anywhere:
#
#   benchmarks/gpu_check.sh               # CUDA: ~2-4 min on an H100-class GPU
#   benchmarks/gpu_check.sh --cpu-smoke   # the same code path, tiny model, CPU
#
# 1. the GPUs and the torch / CUDA versions;
# 2. 40 bf16 and 40 fp16 steps of xlt's loop (engine.train.train_stage) on an
#    XLM-R-Large-shaped encoder built from its config, random weights, no
#    download (benchmarks/gpu_worker.py): loss finite and falling, samples/s,
#    tokens/s, model TFLOP/s and MFU against the GPU's datasheet peak
#    (benchmarks/mfu.py; XLT_PEAK_TFLOPS overrides), peak CUDA memory;
# 3. with two or more GPUs, two bf16 workers at once (one process per GPU,
#    CUDA_VISIBLE_DEVICES) and their aggregate samples/s over one worker's.
# Every step runs under `timeout`; exit 0 when all passed, 1 when one failed
# or timed out, 0 with a SKIP line where there is no CUDA device.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
WORKER=(benchmarks/gpu_worker.py)
# Generous for an H100 (a run takes ~30-60 s with start-up); a hung CUDA call
# ends here with a FAIL line instead of holding the machine.
RUN_TIMEOUT=${XLT_GPU_CHECK_TIMEOUT:-240}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
failed=0

step() {  # step NAME SECONDS COMMAND...: run it under timeout, keep its output
    local name=$1 seconds=$2
    shift 2
    timeout --kill-after=10 "$seconds" "$@" >"$OUT/$name.log" 2>"$OUT/$name.err"
    local rc=$?
    grep -v '^{' "$OUT/$name.log"
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "FAIL: $name timed out after ${seconds} s"
    elif [ $rc -ne 0 ]; then
        echo "FAIL: $name exited with $rc; last lines of its stderr:"
        tail -n 15 "$OUT/$name.err"
    fi
    return $rc
}

samples_per_s() {  # the summed samples/s of the last JSON line of a log
    tail -n 1 "$1" | "$PY" -c 'import json,sys; print(sum(r["samples_per_s"] for r in json.load(sys.stdin)["runs"]))'
}

if [ "${1:-}" = "--cpu-smoke" ]; then
    MODE=(--cpu-smoke)
    DEVICES=2  # both "workers" share the CPU: the path is checked, not the speed
    echo "cpu smoke: the GPU check's code path on a tiny XLM-R-shaped model, CPU"
else
    MODE=()
    DEVICES=$(timeout 120 "$PY" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>"$OUT/probe.err")
    if [ $? -ne 0 ]; then
        echo "FAIL: torch could not be asked for CUDA devices (timed out or crashed):"
        tail -n 15 "$OUT/probe.err"
        exit 1
    fi
    if [ "$DEVICES" = 0 ]; then
        echo "SKIP: no CUDA device (torch.cuda.is_available() is False): nothing to check on this machine; '$0 --cpu-smoke' runs the same code path on the CPU"
        exit 0
    fi
fi

# The devices the workers get, as named by CUDA_VISIBLE_DEVICES (which may
# already pick some); empty in the smoke, where there are none.
IFS=, read -ra VISIBLE <<<"${CUDA_VISIBLE_DEVICES:-0,1}"
[ ${#MODE[@]} -gt 0 ] && VISIBLE=("" "")

step info 120 "$PY" "${WORKER[@]}" --info || failed=1
step single "$RUN_TIMEOUT" env CUDA_VISIBLE_DEVICES="${VISIBLE[0]}" \
    "$PY" "${WORKER[@]}" "${MODE[@]}" --precision bf16 fp16 || failed=1

if [ "$DEVICES" -ge 2 ] && [ $failed -eq 0 ]; then
    echo "two workers at once, bf16, one per device:"
    pids=()
    for i in 0 1; do
        CUDA_VISIBLE_DEVICES=${VISIBLE[i]:-$i} timeout --kill-after=10 "$RUN_TIMEOUT" \
            "$PY" "${WORKER[@]}" "${MODE[@]}" --precision bf16 \
            >"$OUT/parallel$i.log" 2>"$OUT/parallel$i.err" &
        pids[i]=$!
    done
    for i in 0 1; do
        wait "${pids[i]}"
        rc=$?
        sed "s/^/  [worker $i] /" <(grep -v '^{' "$OUT/parallel$i.log")
        if [ $rc -ne 0 ]; then
            echo "FAIL: worker $i exited with $rc (124/137: timed out); its stderr:"
            tail -n 15 "$OUT/parallel$i.err"
            failed=1
        fi
    done
    if [ $failed -eq 0 ]; then
        # The single run's first (bf16) figure is the one worker to compare with.
        one=$(tail -n 1 "$OUT/single.log" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["samples_per_s"])')
        both=$("$PY" -c "print($(samples_per_s "$OUT/parallel0.log") + $(samples_per_s "$OUT/parallel1.log"))")
        "$PY" -c "print(f'aggregate of two workers: {$both:.1f} samples/s, {$both / $one:.2f}x one worker ({$one:.1f}); 2.00x is perfect scaling')"
    fi
fi

if [ $failed -eq 0 ]; then
    where="${DEVICES} CUDA device(s)"
    [ ${#MODE[@]} -gt 0 ] && where="the CPU (smoke: tiny model, speed not checked)"
    echo "PASS: xlt trained in bf16 and fp16 on $where"
else
    echo "FAIL: see the lines above"
fi
exit $failed
