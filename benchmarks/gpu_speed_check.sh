#!/usr/bin/env bash
# Every GPU measurement of issue 17 in one go (about 6-8 minutes on one H100 or H200):
#   1. the CUDA-graph decoding tests (tests/test_decoding.py: graphed greedy == eager greedy);
#   2. GPT generation before vs after (benchmarks/gpt_speed.py generate: tokens/s with the KV
#      cache, before / after / streamed / after without graphs, and the greedy identity);
#   3. cifar10_fast: litlab fit vs the plain-PyTorch reference, 2 rounds in turns
#      (benchmarks/cifar10_speed.py: training time, whole process, time to the same val acc);
#   4. the same, 1 round, litlab without its picture callbacks (what they cost);
#   5. the same, 1 round, both through torch.compile.
# Results go to ${OUT:-results/local}/gpu_speed_check.md, logs beside it.
#
# On a machine with the packages (the project's venv):
#   DATA_DIR=/path/to/shared/data bash benchmarks/gpu_speed_check.sh
# On the lent device machine (its image has torch, lightning, torchmetrics, matplotlib and
# tensorboard, but not litlab's other needs, and no network), prepare here first:
#   bash benchmarks/gpu_speed_check.sh --prepare   # wheels + the CIFAR-10 archive into .device/
# then run there, carrying .device:  bash benchmarks/gpu_speed_check.sh
# (.device/ is git-ignored; with the run tool: carry [".device"], OUT=$OUT to get the files).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [ "${1:-}" = "--prepare" ]; then  # here, where pip reaches a registry
  mkdir -p .device/whl .device/data/cifar10
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 -d .device/whl \
    jsonargparse==4.53.0 docstring-parser==0.18.0 typeshed-client==2.15.0 captum==0.9.0
  cp "${DATA_DIR:-/work/shared/data}/cifar10/cifar10_jpg.tar.gz" .device/data/cifar10/
  du -sh .device
  exit 0
fi

OUT=${OUT:-results/local}
mkdir -p "$OUT"
RES="$OUT/gpu_speed_check.md"
export PYTHONUNBUFFERED=1 LITLAB_CACHE=${LITLAB_CACHE:-/tmp/litlab-cache}
if [ -d .device/data ] && [ -z "${DATA_DIR:-}" ]; then export DATA_DIR=$PWD/.device/data; fi
if ! "$PY" -c "import litlab.common.cli" 2>/dev/null; then
  # no installed litlab: the missing wheels into /tmp/site, and litlab as a namespace package
  # of links to the top-level folders (what pyproject.toml's package-dir mapping installs)
  if [ -d .device/whl ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .device/whl/*.whl
  fi
  mkdir -p /tmp/litlab-src/litlab
  for d in common vision sequence transformer serve experiments audio; do
    [ -d "$d" ] && ln -sfn "$PWD/$d" "/tmp/litlab-src/litlab/$d"
  done
  export PYTHONPATH=/tmp/litlab-src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi

{
  echo "# issue 17 GPU checks, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PY" -c "import torch, lightning; print('torch', torch.__version__, '| lightning', lightning.__version__, '| CPUs', __import__('os').cpu_count())"
  echo
} >"$RES"
step() { echo "=== $* ($(date +%T))" | tee -a "$OUT/gpu_speed_check.log"; }

step "0. decode CIFAR-10 into the cache (once, outside every timing)"
"$PY" -c "from litlab.vision.data import CIFAR10DataModule as D; D().setup()" \
  >>"$OUT/gpu_speed_check.log" 2>&1 || { echo "no CIFAR-10: set DATA_DIR" | tee -a "$RES"; exit 1; }

step "1. CUDA-graph decoding tests"
{ echo '## tests/test_decoding.py'; echo '```'
  "$PY" -m pytest -q -p no:cacheprovider tests/test_decoding.py 2>&1 | tail -4; echo '```'; echo; } >>"$RES"

step "2. generation before vs after"
{ echo '## GPT generation (benchmarks/gpt_speed.py generate --device cuda)'; echo '```'
  "$PY" benchmarks/gpt_speed.py generate --device cuda --repeats 3 2>&1 | grep -v -i warn
  echo '```'; echo; } >>"$RES"

step "3. cifar10_fast side by side, 2 rounds"
"$PY" benchmarks/cifar10_speed.py --rounds 2 --out "$RES" \
  --label "cifar10_fast: litlab fit vs plain PyTorch (eager)" >>"$OUT/gpu_speed_check.log" 2>&1

step "4. litlab without picture callbacks, 1 round"
"$PY" benchmarks/cifar10_speed.py --rounds 1 --out "$RES" \
  --label "the same, litlab with --trainer.callbacks=[] (what the pictures cost)" \
  -- "--trainer.callbacks=[]" >>"$OUT/gpu_speed_check.log" 2>&1

step "5. both compiled, 1 round"
"$PY" benchmarks/cifar10_speed.py --rounds 1 --compile --out "$RES" \
  --label "the same, both through torch.compile" >>"$OUT/gpu_speed_check.log" 2>&1

step "done"
cat "$RES"
