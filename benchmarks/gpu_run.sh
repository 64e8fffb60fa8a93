#!/usr/bin/env bash
# Everything this project checks on a GPU, in one call (a lent GPU machine gives ~15 minutes):
#   1. `trainer train --preset auto` on sodapoppin for 60 s (base preset, bf16, Muon's bf16
#      Newton-Schulz): the product's own path on CUDA, with its tokens/s in the card;
#   2. the same under `torchrun` (one process, 30 steps): the launcher path;
#   3. benchmarks/budget_sweep.py run: each model shape at the CPU's 15-minute step count, side
#      by side, plus the step-1 model, evaluated with five realism draws.
# Needs benchmarks/out/train_quality/data/sodapoppin-tcd (benchmarks/train_quality.py makes it;
# carry it to the GPU machine) and benchmarks/results/budget_sweep_cpu.json (`budget_sweep.py
# measure` on the CPU). Results land in benchmarks/out/budget_sweep, and in $OUT when set.
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
cd "$(dirname "$0")/.."
T0=$(date +%s)
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch,transformers,tokenizers,accelerate;print(torch.__version__,transformers.__version__,tokenizers.__version__,accelerate.__version__)"
D=benchmarks/out/train_quality/data/sodapoppin-tcd
S=benchmarks/out/budget_sweep
rm -rf $S; mkdir -p $S/models
collect() {
  [ -n "$OUT" ] || return 0
  cp $S/budget_sweep.jsonl "$OUT"/ 2>/dev/null
  cp $S/models/gpu-auto/streamchat.json "$OUT"/gpu-auto-card.json 2>/dev/null
  cp $S/models/gpu-auto/loss.png "$OUT"/gpu-auto-loss.png 2>/dev/null
  tar czf "$OUT"/logs.tgz $S/*.log $S/models/*/streamchat.json $S/models/*/metrics.jsonl 2>/dev/null
}
trap collect EXIT
# MPS lets the sweep's processes run kernels side by side; without it they time-slice.
if nvidia-cuda-mps-control -d 2>/dev/null; then
  $PY -c "import torch; torch.zeros(1).cuda(); print('mps on')" || { echo quit | nvidia-cuda-mps-control; echo "mps off"; }
fi
echo "== gpu-auto at $(( $(date +%s) - T0 )) s"
timeout 150 $PY -m trainer train --data $D --out $S/models/gpu-auto --preset auto --max-time 60 --no-progress > $S/gpu-auto-train.log 2>&1
echo "rc $?"; tail -3 $S/gpu-auto-train.log
echo "== torchrun at $(( $(date +%s) - T0 )) s"
timeout 60 torchrun --standalone --nproc_per_node=1 -m trainer train --data $D --out $S/models/torchrun --preset small --max-steps 30 --no-progress > $S/torchrun.log 2>&1
echo "rc $?"; tail -3 $S/torchrun.log
echo "== sweep at $(( $(date +%s) - T0 )) s"
timeout 330 $PY benchmarks/budget_sweep.py run $S
echo "== end at $(( $(date +%s) - T0 )) s"
