#!/usr/bin/env bash
# Set up mmimdb in ./.venv and run the main job:
#   import the release -> build the splits (Parquet + HDF5) -> features -> benchmark the GMU.
#
#   bash scripts/setup-and-run.sh            # download the release from its public mirror
#                                            # (8.1 GB; interrupted? rerun: the download resumes)
#   bash scripts/setup-and-run.sh SOURCE     # SOURCE: mmimdb.tar.gz, its extracted folder, or a URL
#   bash scripts/setup-and-run.sh --demo     # no archive at hand: the 1,222 real greatest films
#                                            # (../shared/data, else downloaded once from their
#                                            # public repository; offline: generated films, said so)
#
# The split is the release's own (its split.json, kept by the import as release-split.json)
# whenever the archive has one; else the original procedure (--demo: iterative stratification).
# Data goes to $MMIMDB_HOME (default ~/.cache/mmimdb); --demo uses ./demo-data/root (generated
# films: ./demo-data/root-generated).
# Features: the paper's encoders when $MMIMDB_WORD2VEC and $MMIMDB_VGG16_WEIGHTS name the
# GoogleNews and VGG16 files, else the offline encoders (GloVe 50-d, EfficientNet-Lite0).
#
# Environment:
#   MMIMDB_RELEASE_URL=URL   mirror to download with no SOURCE (default: the public mirror)
#   MMIMDB_DEMO_LIMIT=N      --demo: only the first N complete films (data: ./demo-data/root-first-N;
#                            N at or above the 1,222 films: the whole demo, ./demo-data/root)
#   MMIMDB_DEMO_URL=URL      --demo: a mirror of the films' repository files (default: GitHub, pinned commit)
#   MMIMDB_SKIP_INSTALL=1    no ./.venv, no pip: use the Python environment at hand (mmimdb installed)
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: bash scripts/setup-and-run.sh [SOURCE | --demo]   (no SOURCE: download the release)"
# Everything that can be checked without Python is checked before the install (85 s).
case "${1:-}" in
  -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) [ "$1" = "--demo" ] || { echo "error: unknown option $1; $usage" >&2; exit 2; } ;;
esac
if [ $# -gt 1 ]; then echo "error: too many arguments; $usage" >&2; exit 2; fi
case "${1:-}" in
  ""|--demo|http://*|https://*) ;;
  *://*) echo "error: $1: only http(s) URLs are supported (or a local mmimdb.tar.gz or its folder)" >&2; exit 2 ;;
  *) [ -e "$1" ] || { echo "error: $1: no such file or folder; nothing was installed or imported; $usage" >&2; exit 2; } ;;
esac
limit=${MMIMDB_DEMO_LIMIT:-}
if [ "${1:-}" = "--demo" ] && [ -n "$limit" ] && ! [[ "$limit" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: MMIMDB_DEMO_LIMIT must be a positive whole number, not '$limit'" >&2
  exit 2
fi

if [ "${MMIMDB_SKIP_INSTALL:-0}" = 1 ]; then
  python -c 'import mmimdb, mmimdb_cli' 2>/dev/null || {
    echo "error: MMIMDB_SKIP_INSTALL=1 but this Python ($(command -v python)) has no mmimdb: pip install -e '.[features,benchmark]'" >&2
    exit 2
  }
else
  python3 -m venv .venv
  . .venv/bin/activate
  pip install -q --upgrade pip
  pip install -q torch==2.13.0            # the CPU build; on a GPU machine install the CUDA build instead
  pip install -q -e '.[features,benchmark]'
fi

if [ "${1:-}" = "--demo" ]; then
  # The real films (../shared/data, else downloaded once into demo-data/root/downloads), else,
  # offline, generated films (said on stderr): the last line is ROOT<TAB>ARCHIVE. A subset gets
  # a root of its own, so that films of a larger earlier run never mix in.
  prepared=$(python -m mmimdb.demo "$PWD/demo-data" ${limit:+--limit "$limit"} | tail -n 1)
  export MMIMDB_HOME=${prepared%%$'\t'*}
  source_arg=${prepared#*$'\t'}
elif [ -n "${1:-}" ]; then
  source_arg=$1
else
  source_arg=${MMIMDB_RELEASE_URL:-$(python -c 'from mmimdb.fetch.archive import RELEASE_URL; print(RELEASE_URL)')}
fi
home=$(python -c 'from mmimdb.paths import data_root; print(data_root())')
mkdir -p "$home"

# The import exits 1 both when some movies were skipped (listed above, and in
# import-report.json: the job goes on without them) and when the download or the archive
# failed (the report of this run then says "fatal", or there is none): stop, keep what was
# done, and let a rerun resume.
started=$(python -c 'import time; print(time.time())')
status=0
mmimdb fetch --from-archive "$source_arg" || status=$?
if [ "$status" -ne 0 ]; then
  if [ "$status" -ne 1 ] || ! python - "$home/import-report.json" "$started" <<'PYTHON'
import json, os, sys
report, started = sys.argv[1], float(sys.argv[2])
# This run's report (a second of slack for coarse file times) with nothing fatal in it.
sys.exit(0 if os.path.isfile(report) and os.path.getmtime(report) >= started - 1 and not json.load(open(report))["fatal"] else 1)
PYTHON
  then
    # Say what is true: only a stop (exit 3: network, refusal, Ctrl-C) resumes on a rerun.
    case "$status" in
      3) echo "error: the import of $source_arg stopped early; what was imported is kept in $home: rerun this script to resume" >&2 ;;
      2) ;;  # a wrong path or option: the line above says what to change
      *) echo "error: the import of $source_arg failed (see the line above); movies imported before the problem are kept in $home" >&2 ;;
    esac
    exit "$status"
  fi
fi

if [ -f "$home/release-split.json" ]; then
  mmimdb build --split file                       # the release's split (mmimdb build's default for --split file)
elif [ "${1:-}" = "--demo" ]; then
  mmimdb build --split iterative
else
  mmimdb build --split original                   # no split.json in the archive: the release's procedure
fi

if [ -n "${MMIMDB_WORD2VEC:-}" ] && [ -n "${MMIMDB_VGG16_WEIGHTS:-}" ]; then
  mmimdb build-features --text word2vec --image vgg16
  mmimdb benchmark --model gmu
else
  mmimdb build-features --text glove-50 --image efficientnet-lite0
  mmimdb benchmark --model gmu --text-features glove_features --image-features efficientnet_features
fi
mmimdb info --no-checksums

python_bin=$(command -v python)
echo
echo "Done. The dataset is in $home"
case "$home" in
  */root-generated*) echo "  note: generated films, not real ones (no network for the greatest films): the card and the reports say so" ;;
esac
echo "  tables and plots: $home/benchmark/ (table2.md, table3.md, results.json)"
echo "  load it:"
printf '    MMIMDB_HOME=%q %q -c "import mmimdb; print(mmimdb.load(%s).shape)"\n' "$home" "$python_bin" "'train'"
printf "    or, in Python: mmimdb.load('train', root='%s')\n" "$home"
