#!/usr/bin/env bash
# Runs the whole test suite while both cores (or --load N busy processes) are kept busy by processes this script starts
# and stops itself, to show that no test depends on timing, load or scheduling. Prints "N passed, N failed" and exits
# non-zero when any test failed or the run did not complete.
#
#   eng/stress-tests.sh [--load N] [--no-build] [-- extra dotnet test arguments]
#
# The load is N shell busy loops (default: the number of logical cores) at normal priority; they are killed when the
# script ends, however it ends.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
load="$(nproc)"
build=1
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --load) load="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--load N] [--no-build] [-- dotnet test arguments]" >&2; exit 2 ;;
  esac
done

if [[ $build == 1 ]]; then
  dotnet build "$root/Microsoft.ML.NEFTune.sln" -c Release -v quiet -nologo
fi

busy=()
stop_load() { for pid in "${busy[@]:-}"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_load EXIT INT TERM
for ((i = 0; i < load; i++)); do
  ( while :; do :; done ) &
  busy+=("$!")
done
echo "stress: ${#busy[@]} busy loops running (pids ${busy[*]})"

results="$(mktemp -d)"
start=$(date +%s)
set +e
dotnet test "$root/test/Microsoft.ML.NEFTune.Tests" -c Release --no-build --logger "trx;LogFileName=stress.trx" \
  --results-directory "$results" "${extra[@]}" > "$results/console.log" 2>&1
code=$?
set -e
elapsed=$(( $(date +%s) - start ))
stop_load
trap - EXIT INT TERM

trx="$results/stress.trx"
if [[ ! -f "$trx" ]]; then
  tail -n 40 "$results/console.log"
  echo "0 passed, 0 failed (the test run did not complete, exit code $code; log in $results/console.log)"
  exit 1
fi
counters="$(grep -o '<Counters [^>]*>' "$trx")"
get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<< "$counters"; }
passed="$(get passed)"; failed="$(get failed)"; total="$(get total)"; executed="$(get executed)"
not_run=$(( total - executed ))
if (( failed > 0 )); then
  echo "failed tests:"
  grep -o '<UnitTestResult [^>]*outcome="Failed"[^>]*>' "$trx" | sed -n 's/.*testName="\([^"]*\)".*/  \1/p'
fi
echo "stress: load ${load} busy loops, wall time ${elapsed} s, results in $results"
echo "${passed} passed, ${failed} failed"
if (( failed > 0 || not_run > 0 || code != 0 )); then
  (( not_run > 0 )) && echo "(${not_run} tests did not run)"
  exit 1
fi
