#!/usr/bin/env bash
# The GPU check, in one call and under 10 minutes: the test suite (every test that takes the
# `device` fixture runs on CPU and CUDA) and the quick benchmark suite on CUDA.
#
#   bash benchmarks/gpu_check.sh [OUT]        # default OUT: gpu-check/
#
# It writes OUT/gpu.txt (the card), OUT/tests.txt (pytest's report) and OUT/bench/ (results.json,
# results.md, PNGs), and prints the card, the test summary, the NLL-gap table and the times.
# Record the figures in docs/benchmarks.md with the card's name.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
mkdir -p "$out"
started=$(date +%s)

python - <<'PY' | tee "$out/gpu.txt"
import torch
if not torch.cuda.is_available():
    raise SystemExit("gpu_check: CUDA is not available on this machine")
p = torch.cuda.get_device_properties(0)
print(f"{p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, "
      f"CUDA {torch.version.cuda}")
PY
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1

# the tests: at most 5 minutes
timeout 300 python -m pytest -q -p no:cacheprovider -x > "$out/tests.txt" 2>&1
tests=$?
tail -n 3 "$out/tests.txt"
echo "tests: exit $tests after $(( $(date +%s) - started )) s"

# bf16 against fp32 (NLL, landscape gap, time per step; compile against eager): at most 2 minutes
timeout 120 python benchmarks/precision.py --device cuda --steps 1000 | tee "$out/precision.md"
precision=${PIPESTATUS[0]}
echo "precision: exit $precision"
# 2-process NCCL fit, when there are two GPUs: identical parameters on both ranks
nccl=0
if [ "$(python -c 'import torch; print(torch.cuda.device_count())')" -gt 1 ]; then
    mkdir -p "$out/nccl"
    ENERGYSSL_DEVICE=cuda timeout 120 python -m energyssl.launch --nproc-per-node 2 \
        tests/_torchrun_fit.py "$out/nccl" ok > "$out/nccl/log.txt" 2>&1 && python - "$out/nccl" <<'PY'
import sys, torch
a, b = (torch.load(f"{sys.argv[1]}/rank{r}.pt", weights_only=False) for r in (0, 1))
for run in ("nce", "swav", "lloyd", "dataset"):
    for part in ("model", "regime"):
        assert all(torch.equal(a[run][part][k], b[run][part][k]) for k in a[run][part]), run
print("nccl: 2 ranks, identical parameters after nce, swav, lloyd and a Dataset")
PY
    nccl=$?
    echo "nccl: exit $nccl"
fi

# the quick suite on CUDA with the time left (the whole call stays under 10 minutes)
left=$(( 590 - ($(date +%s) - started) ))
timeout "$left" python -m energyssl.bench --quick --device cuda --out "$out/bench" --quiet
bench=$?
echo "bench: exit $bench after $(( $(date +%s) - started )) s in all"
if [ -f "$out/bench/results.md" ]; then
    sed -n '/^### NLL gap to the truth/,/^$/p' "$out/bench/results.md"
fi
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ] && [ "$precision" -eq 0 ] && [ "$nccl" -eq 0 ]
