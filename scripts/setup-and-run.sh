#!/usr/bin/env bash
# Set up mmimdb in ./.venv and run the main job:
#   import the release -> build the splits (Parquet + HDF5) -> features -> benchmark the GMU.
#
#   bash scripts/setup-and-run.sh SOURCE   # SOURCE: mmimdb.tar.gz, its extracted folder, or a URL
#   bash scripts/setup-and-run.sh --demo   # a small release-layout archive made from the real
#                                          # films in ../shared/data (local use only)
#
# Data goes to $MMIMDB_HOME (default ~/.cache/mmimdb; --demo uses ./demo-data/root).
# Features: the paper's encoders when $MMIMDB_WORD2VEC and $MMIMDB_VGG16_WEIGHTS name the
# GoogleNews and VGG16 files, else the offline encoders (GloVe 50-d, EfficientNet-Lite0).
set -euo pipefail
cd "$(dirname "$0")/.."
source_arg=${1:?usage: bash scripts/setup-and-run.sh SOURCE|--demo}

python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q torch==2.13.0            # the CPU build; on a GPU machine install the CUDA build instead
pip install -q -e '.[features,benchmark]'

if [ "$source_arg" = "--demo" ]; then
  export MMIMDB_HOME=${MMIMDB_HOME:-$PWD/demo-data/root}
  source_arg=$(python -m mmimdb.demo "$PWD/demo-data/archive" | tail -n 1)
fi
home=$(python -c 'from mmimdb.paths import data_root; print(data_root())')

# Exit code 1 means some movies were skipped (listed above, and in import-report.json).
mmimdb fetch --from-archive "$source_arg" || [ $? -eq 1 ]
if [ -f "$home/split.json" ] && [ "$1" != "--demo" ]; then
  mmimdb build --split file --split-file "$home/split.json"      # the release's own split
else
  mmimdb build --split iterative
fi

if [ -n "${MMIMDB_WORD2VEC:-}" ] && [ -n "${MMIMDB_VGG16_WEIGHTS:-}" ]; then
  mmimdb build-features --text word2vec --image vgg16
  mmimdb benchmark --model gmu
else
  mmimdb build-features --text glove-50 --image efficientnet-lite0
  mmimdb benchmark --model gmu --text-features glove_features --image-features efficientnet_features
fi
mmimdb info --no-checksums
