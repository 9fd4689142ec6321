#!/usr/bin/env bash
# run_fuzz.sh — what `make fuzz` runs: each target for SECONDS, one after another (the
# machine is shared), each on a scratch copy of its committed corpus and regression inputs
# so the committed corpus never changes. Prints one line per target (executions per
# second, coverage) and, for a finding, where the reproducer is; exits 1 if any target
# found a crash, a leak, a timeout or an out-of-memory.
#   usage: tests/fuzz/run_fuzz.sh SECONDS BUILD_DIR NAME...   (from the repository root)
set -uo pipefail

seconds=$1
build=$2
shift 2
[[ $# -gt 0 ]] || { echo "run_fuzz: no targets" >&2; exit 1; }

# One thread for focalgrad (and OpenBLAS): the readers are serial, and the cores are shared.
export OPENBLAS_NUM_THREADS=1 FOCALGRAD_NUM_THREADS=1
export UBSAN_OPTIONS=print_stacktrace=1

failed=0
printf '%-10s %10s %8s %7s %7s %7s  %s\n' target runs exec/s cov ft corpus result
for name in "$@"; do
    bin=$build/bin/fuzz_$name
    work=$build/work/$name
    if [[ ! -x $bin ]]; then
        echo "run_fuzz: no target '$name' (expected tests/fuzz/fuzz_$name.cpp, built as $bin)" >&2
        failed=1
        continue
    fi
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/findings"
    for dir in "tests/fuzz/corpus/$name" "tests/fuzz/regressions/$name"; do
        [[ -d $dir ]] && find "$dir" -maxdepth 1 -type f -exec cp {} "$work/corpus/" \;
    done

    # -rss_limit_mb / -malloc_limit_mb: a reader that allocates what a lying header asks
    # for is a finding, not a machine brought to its knees. -timeout: seconds per input.
    "$bin" "$work/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -timeout=25 -print_final_stats=1 -artifact_prefix="$work/findings/" >"$work/log" 2>&1
    status=$?

    # The last status line libFuzzer printed, e.g. "#81920 DONE cov: 912 ft: 3301 corp: 214/39Kb ..."
    last=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1)
    field() { sed -nE "s/.*$1: *([0-9]+).*/\1/p" <<<"$last"; }
    runs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
    rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$work/log")
    corpus=$(sed -nE 's/.*corp: *([0-9]+)\/.*/\1/p' <<<"$last")
    findings=$(find "$work/findings" -type f \( -name 'crash-*' -o -name 'leak-*' -o \
                    -name 'timeout-*' -o -name 'oom-*' \) | sort)

    if [[ $status -eq 0 && -z $findings ]]; then
        result=ok
    else
        result=FOUND
        failed=1
    fi
    printf '%-10s %10s %8s %7s %7s %7s  %s\n' "$name" "${runs:-?}" "${rate:-?}" "$(field cov)" \
        "$(field ft)" "${corpus:-?}" "$result"
    if [[ $result == FOUND ]]; then
        echo "  fuzz_$name stopped (exit status $status); its log: $work/log" >&2
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|terminate called|  what\(\))' \
            "$work/log" | head -n 5 | sed 's/^/  /' >&2
        for f in $findings; do
            echo "  reproducer: $f" >&2
            echo "    replay:   $bin $f" >&2
        done
        echo "  fix the bug, then keep the input: copy it to tests/fuzz/regressions/$name/" \
             "under a name saying what it is" >&2
    fi
    slow=$(find "$work/findings" -type f -name 'slow-unit-*' | wc -l)
    [[ $slow -gt 0 ]] && echo "  note: $slow slow input(s) saved in $work/findings/" >&2
done
exit $failed
