#!/bin/sh
# Records one dcmbench workload with perf and prints where the time goes (self time, then inclusive).
# Usage: Tools/bench/profile.sh WORKLOAD [SECONDS]
#   WORKLOAD: parse-attributes, parse-file, parse-multiframe, metadata-files, encode-file, encode-attributes
set -eu
cd "$(dirname "$0")/../.."
scratch="${SCRATCH_PATH:-.build-bench}"
workload="$1"; seconds="${2:-5}"
swift build -c release --scratch-path "$scratch" --product dcmbench >&2
data="${TMPDIR:-/tmp}/dcmbench-$workload.perf"
perf record -q -o "$data" -g "$scratch/release/dcmbench" profile "$workload" --seconds "$seconds"
echo "== self time"
perf report -i "$data" --no-children --sort symbol --percent-limit 1 --stdio -g none 2>/dev/null | grep '%' | swift demangle --simplified
echo "== inclusive time"
perf report -i "$data" --children --sort symbol --percent-limit 3 --stdio -g none 2>/dev/null | grep '%' | swift demangle --simplified
