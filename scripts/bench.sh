#!/usr/bin/env bash
# bench.sh — the table of `make bench`: runs focalgrad's benchmark programs of one build and
# prints their rows under one header. Given a second build (NATIVE=1's), it runs the same
# programs of that build right after and adds its measured value and ratio as two more
# columns of the same row; each build's ratios are to the floors measured by that build's
# own programs, so the two columns compare like with like.
#
#   bash scripts/bench.sh BIN [NATIVE_BIN] -- PROGRAM... [-- ARGS...]
set -euo pipefail

bin=$1
shift
native_bin=
if [[ $1 != -- ]]; then
    native_bin=$1
    shift
fi
shift # the -- before the programs
programs=()
while [[ $# -gt 0 && $1 != -- ]]; do
    programs+=("$1")
    shift
done
[[ $# -gt 0 ]] && shift # the -- before the programs' arguments
args=("$@")

# The rows of every program of build $1, in order.
rows() {
    local p
    for p in "${programs[@]}"; do "$1/$p" --no-header "${args[@]}"; done
}

if [[ -z $native_bin ]]; then
    echo "| benchmark | measured | floor or reference | ratio | target |"
    echo "|---|---|---|---|---|"
    rows "$bin"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows "$bin" >"$tmp/default"
rows "$native_bin" >"$tmp/native"
echo "| benchmark | measured | floor or reference | ratio | target | NATIVE=1: measured | NATIVE=1: ratio |"
echo "|---|---|---|---|---|---|---|"
# Row k of one build beside row k of the other: the programs print the same rows in the same
# order (only the ISA named in a floor's row differs). A row that is not a table row (a
# program's note) is printed as it is.
awk -F'|' '
    NR == FNR { native[FNR] = $0; next }
    {
        if ($0 !~ /^\|/) { print; next }
        n = split(native[FNR], cell, "|")
        measured = n >= 7 ? cell[3] : " ? "
        ratio = n >= 7 ? cell[5] : " ? "
        print $0 measured "|" ratio "|"
    }' "$tmp/native" "$tmp/default"
