#!/usr/bin/env bash
# Set up mmimdb in ./.venv and run the main job: import -> build -> features -> benchmark.
#
#   bash scripts/setup-and-run.sh SOURCE   # SOURCE: mmimdb.tar.gz, its folder, or a URL
#   bash scripts/setup-and-run.sh --demo   # a small release-layout archive made from the
#                                          # real films in ../shared/data (local use only)
#
# Data goes to $MMIMDB_HOME (default ~/.cache/mmimdb; --demo uses ./demo-data/root).
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
  source_arg=$(python tests/greatest_films.py "$PWD/demo-data/archive" | tail -n 1)
fi

mmimdb fetch --from-archive "$source_arg"
mmimdb info --no-checksums
