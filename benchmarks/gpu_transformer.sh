#!/usr/bin/env bash
# GPU run of the transformer domain: nanoGPT's shakespeare_char recipe (5,000 iterations) with
# the precision the hardware picks, training speed with and without torch.compile, and
# generation with and without the KV cache. From the repo root on a CUDA machine:
#   DATA_DIR=/path/to/shared/data bash benchmarks/gpu_transformer.sh
# Writes logs and a summary to ${OUT:-results/local}/.
set -uo pipefail
OUT=${OUT:-results/local}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} LITLAB_CACHE=${LITLAB_CACHE:-/tmp/litlab-cache} PYTHONUNBUFFERED=1
LITLAB="python3 -m litlab.common.cli"
$LITLAB env | tee "$OUT/gpu_env.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >>"$OUT/gpu_env.txt"

scalars() {  # run folder; prints val/loss per evaluation and the best
  python3 - "$1" <<'PY'
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0}); acc.Reload()
val = [(e.step, round(e.value, 4)) for e in acc.Scalars("val/loss")]
print(sys.argv[1], "val/loss (step, value):", val, "best:", min(v for _, v in val))
PY
}

fit() {  # config name, extra args...
  local name=$1; shift
  local t0=$(date +%s)
  $LITLAB fit --config "experiments/transformer/$name.yaml" --trainer.enable_progress_bar=false \
    "$@" >"$OUT/gpu_$name.log" 2>&1
  echo "$name fit wall seconds: $(( $(date +%s) - t0 )) args: $*" | tee -a "$OUT/gpu_summary.txt"
  scalars "$(ls -d logs/transformer/$name/version_* | tail -1)" | tee -a "$OUT/gpu_summary.txt"
}

fit shakespeare_char_gpt --trainer.max_time=00:00:06:00
python3 benchmarks/gpt_speed.py generate --device cuda 2>&1 | grep -v Warn | tee -a "$OUT/gpu_summary.txt"
for extra in "" "--compile"; do
  python3 benchmarks/gpt_speed.py train --config experiments/transformer/shakespeare_char_gpt.yaml \
    --device cuda --precision bf16-mixed --steps 200 --warmup 20 $extra 2>&1 \
    | grep -E "^(#|plain|Lightning)" | tee -a "$OUT/gpu_summary.txt"
done
ckpt=$(ls -d logs/transformer/shakespeare_char_gpt/version_*/checkpoints | tail -1)/best.ckpt
$LITLAB generate --ckpt "$ckpt" --prompt "ROMEO:" --max-new-tokens 300 --temperature 0.8 \
  --top-k 40 --seed 1 --device cuda >"$OUT/gpu_sample.txt" 2>&1
