#!/usr/bin/env bash
# The GPU figures of docs/performance.md, to run where a CUDA GPU is at hand:
#   build-features --device cuda (the paper's word2vec + VGG16 fc7), then the whole Table 2
#   with the paper's random search (--search 25), each timed, with the GPU's peak memory.
# It refuses to run (exit 3) without a CUDA device: no figure it prints is ever a CPU's.
#
#   benchmarks/gpu.sh ROOT            # ROOT: a data root built by `mmimdb build`
#   benchmarks/gpu.sh ROOT --seeds 3  # extra options go to `mmimdb benchmark`
#
# build-features needs the paper's files (GoogleNews vectors, VGG16 weights: docs/features.md)
# or downloads them; pass MMIMDB_GPU_FEATURES="--text glove-50 --image efficientnet-lite0" for
# the offline encoders.
set -euo pipefail
root="${1:?usage: benchmarks/gpu.sh ROOT [benchmark options]}"
shift
python - <<'PY' || { echo "error: no CUDA device here; benchmarks/gpu.sh prints GPU figures only" >&2; exit 3; }
import torch, sys
sys.exit(0 if torch.cuda.is_available() else 1)
PY
python -c "import torch; p = torch.cuda.get_device_properties(0); print(f'GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB; torch {torch.__version__}')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

timed() {  # timed LABEL COMMAND...: wall seconds of COMMAND, printed after its own output
  local label="$1"; shift
  local started ended
  started=$(date +%s.%N)
  "$@"
  ended=$(date +%s.%N)
  python -c "print(f'$label: {$ended - $started:.1f} s wall')"
}

# shellcheck disable=SC2086
timed "build-features --device cuda" mmimdb build-features --root "$root" --device cuda ${MMIMDB_GPU_FEATURES:-} --no-progress
timed "benchmark --model all --search 25 --device cuda" \
  mmimdb benchmark --root "$root" --model all --search 25 --device cuda --out "$root/benchmark-gpu" --fresh "$@"
# Each model's training time, best epoch and peak GPU memory (torch.cuda.max_memory_allocated).
cat "$root/benchmark-gpu/cost.md"
