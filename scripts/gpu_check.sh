#!/usr/bin/env bash
# The GPU checks the issues name, as ONE call on a lent device machine (the workplace's
# `device` tool runs this in a copy of the working tree; $OUT comes back):
#   1. every registered experiment's tiny preset with --device cuda (pass/fail per experiment),
#   2. GPT training throughput in bf16 and its MFU (benchmarks/bench_transformer.py, GPT-2
#      small shape, H100/H200 dense bf16 peak 989 TFLOP/s),
#   3. the engine's DDP/bf16 path on the GPU: gpt-shakespeare tiny with engine.precision=bf16.
# Under 10 minutes on an H100/H200. The device image has torch (2.11+cu130) but not this
# project's pinned torch, so the package is used from src/ (PYTHONPATH) without installing;
# packages the image lacks (gymnasium, mnist1d) make their experiments report "missing
# package", not a failure of the code.
#
#   device run:  bash scripts/gpu_check.sh            (timeout_s 590)
#   locally:     OUT=/tmp/gpu bash scripts/gpu_check.sh   (exits 2 without CUDA)
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 REPLEARN_OFFLINE=1
export REPLEARN_DATA="${REPLEARN_DATA:-$PWD/tests/fixtures/data}"
PY=${PYTHON:-python3}
$PY -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.cuda.is_available()); \
sys.exit(0 if torch.cuda.is_available() else 2)" || { echo "no CUDA device: nothing to check"; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"

# 1. every experiment's tiny preset on the GPU (120 s cap each; the whole part capped at 330 s)
$PY - <<'EOF' 2>&1 | tee "$OUT/tiny_cuda.txt"
import os, subprocess, sys, time
from replearn import registry
import replearn.experiments  # noqa: F401  (registers every experiment)
names = sorted(e.name for e in registry.entries(kind="experiment"))
t_all, rows = time.time(), []
for name in names:
    if time.time() - t_all > 330:
        rows.append((name, "not run (part 1's time cap)", 0.0))
        continue
    t0 = time.time()
    out = os.path.join(os.environ["OUT"], "runs", name)
    cmd = [sys.executable, "-m", "replearn", "run", name, "--preset", "tiny", "--device", "cuda",
           "--out", out, "--no-progress", "--no-report"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or [""]
        if p.returncode == 0:
            status = "ok"
        elif "No module named" in tail[0]:
            status = "missing package: " + tail[0][-80:]
        else:
            status = f"FAIL rc={p.returncode}: {tail[0][-160:]}"
    except subprocess.TimeoutExpired:
        status = "FAIL timeout 120 s"
    rows.append((name, status, time.time() - t0))
    print(f"{name:32s} {rows[-1][2]:6.1f}s  {status}", flush=True)
bad = [r for r in rows if r[1].startswith("FAIL")]
print(f"\ntiny presets on cuda: {sum(r[1] == 'ok' for r in rows)} ok, {len(bad)} failed, "
      f"{len(rows) - len(bad) - sum(r[1] == 'ok' for r in rows)} not checked, of {len(rows)}")
EOF
rm -rf "$OUT/runs"  # run folders would not come back anyway (too deep); the table is the result

# 2. GPT bf16 training throughput and MFU (GPT-2 small shape; peers skipped)
timeout 150 $PY benchmarks/bench_transformer.py --only gpt-train --device cuda --dtype bf16 \
    --batch 16 --n-layer 12 --n-head 12 --n-embd 768 --block 1024 --vocab 50304 \
    --rounds 7 --warmup 2 --steps 5 --peak-tflops 989 --out "$OUT" 2>&1 | tail -25 | tee "$OUT/gpt_mfu.txt"

# 3. the flagship through the engine on the GPU in bf16
timeout 90 $PY -m replearn run gpt-shakespeare --preset tiny --device cuda --out "$OUT/gpt_bf16" \
    --set engine.precision=bf16 --no-progress --no-report 2>&1 | tail -8 | tee "$OUT/gpt_bf16.txt"
echo "gpu_check done"
