#!/usr/bin/env bash
# mrt-train's GPU path in under 5 minutes: bf16 training on CUDA, rollouts and the
# meta-prover on a vLLM engine in the same process, weights synced into vLLM after every
# update. A handful of MRT steps with the shipped tiny model (nothing to download); prints
# sampled tokens/s and peak GPU memory per step.
#
#   pip install torch==2.13.0 && pip install -e '.[hf,vllm]' && bash examples/gpu_train_smoke.sh
set -euo pipefail
# vLLM's V1 engine runs its model in another process unless told not to. Kept in this
# one, new weights reach it as tensors; in another, through a file the worker extension
# reloads (mrt_env.training.vllm_sync handles both): this only takes the faster path.
export VLLM_ENABLE_V1_MULTIPROCESSING=0
out="$(mktemp -d)/gpu-smoke"
mrt-train --algorithm mrt --model.device cuda --model.dtype bfloat16 --model.backend vllm \
  --vllm-memory 0.3 --steps 4 --problems-per-step 16 --group-size 8 --eval-problems 50 \
  --out "$out"
python - "$out/metrics.jsonl" <<'PY'
import json, sys

for row in map(json.loads, open(sys.argv[1])):
    if row.get("eval"):
        print(f"eval after step {row['step']}: accuracy {row['accuracy']:.3f}, "
              f"blocks {row['blocks']:.2f}")
        continue
    print(f"step {row['step']}: {row['tokens_per_s']:.0f} sampled tokens/s, "
          f"{row['seconds']:.1f} s, peak GPU memory {row.get('gpu_memory_gb', float('nan')):.2f} GiB")
PY
