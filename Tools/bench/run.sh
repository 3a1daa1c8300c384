#!/bin/sh
# Builds dcmbench in release mode and runs every benchmark, keeping the output.
# Usage: Tools/bench/run.sh [dcmbench all options, e.g. --count 10000 --repeat 3]
# Output: the Markdown tables on stdout and in .build-bench-data/results-<date>.md.
set -eu
cd "$(dirname "$0")/../.."
scratch="${SCRATCH_PATH:-.build-bench}"
swift build -c release --scratch-path "$scratch" --product dcmbench
mkdir -p .build-bench-data
out=".build-bench-data/results-$(date -u +%Y%m%dT%H%M%SZ).md"
"$scratch/release/dcmbench" all "$@" | tee "$out"
echo "results kept in $out" >&2
