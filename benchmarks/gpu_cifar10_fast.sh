#!/usr/bin/env bash
# GPU check of the CUDA paths: precision chosen by hardware, torch.compile, and the speed and
# accuracy of experiments/vision/cifar10_fast.yaml. Run from the repo root on a CUDA machine:
#   DATA_DIR=/path/to/shared/data bash benchmarks/gpu_cifar10_fast.sh
# Writes a summary per run to ${OUT:-results/local}/gpu_*.txt.
set -uo pipefail
OUT=${OUT:-results/local}
mkdir -p "$OUT"
export PYTHONPATH=$PWD LITLAB_CACHE=${LITLAB_CACHE:-/tmp/litlab-cache}
LITLAB="python3 -m litlab.common.cli"
$LITLAB env | tee "$OUT/gpu_env.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >>"$OUT/gpu_env.txt"

summary() {  # name of run; prints the run's last val/acc and test/acc from its event files
  python3 - "$1" <<'PY'
import glob, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
for run in sorted(glob.glob(f"logs/vision/{sys.argv[1]}/version_*")):
    acc = EventAccumulator(run, size_guidance={"scalars": 0}); acc.Reload()
    s = acc.Tags()["scalars"]
    val = [round(e.value, 4) for e in acc.Scalars("val/acc")] if "val/acc" in s else []
    test = acc.Scalars("test/acc")[-1].value if "test/acc" in s else None
    print(run, "val/acc per epoch", val, "test/acc", test)
PY
}

run() {  # name, extra args...
  local name=$1; shift
  local t0=$(date +%s)
  $LITLAB fit --config experiments/vision/cifar10_fast.yaml --experiment "vision/$name" \
    --trainer.enable_progress_bar=false "$@" ${EXTRA_ARGS:-} >"$OUT/gpu_$name.log" 2>&1
  local t1=$(date +%s)
  local ckpt=$(ls -d logs/vision/$name/version_*/checkpoints | tail -1)/best.ckpt
  $LITLAB test --config experiments/vision/cifar10_fast.yaml --experiment "vision/$name" \
    --ckpt_path "$ckpt" --trainer.enable_progress_bar=false ${EXTRA_ARGS:-} >>"$OUT/gpu_$name.log" 2>&1
  echo "$name fit wall seconds: $((t1 - t0)) args: $*" | tee -a "$OUT/gpu_summary.txt"
  summary "$name" | tee -a "$OUT/gpu_summary.txt"
}

run fast_default
run fast_lr04 --model.init_args.lr=0.4
run fast_compile --model.init_args.compile=true
tail -5 "$OUT"/gpu_fast_default.log
