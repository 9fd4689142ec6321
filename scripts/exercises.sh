#!/usr/bin/env bash
# exercises.sh — runs the exercises' test binaries (mk/exercises.mk builds them).
#
#   exercises.sh report MAKE BIN_DIR [verbose] NAME...      `make exercises`: builds and runs
#       your version of each exercise, one line each: passes, not started, fails (which
#       tests), or does not compile; with "verbose" also the tests' full output.
#   exercises.sh check BIN_DIR "NAMES" "WRONG" "STUBS"       `make test`: every solution must
#       pass, every wrong solution and every untouched stub must fail; exits 1 otherwise.
set -u

# "Exercise 1 — the backward of an elementwise op: tanh", from the first line of its tests
# (not of your file, which you may rewrite).
title_of() {
    head -n 1 "exercises/${1}_test.cpp" | sed -e "s|^// *||" -e "s|\.$||"
}

# The names of the test cases that failed, from doctest's output, one per line.
failed_cases() {
    grep -E '^TEST CASE: ' "$1" | sed -e 's/^TEST CASE: *//' | sort -u
}

# doctest's last line from tests/main.cpp: "tests: N passed, M failed".
summary_of() {
    grep -E '^tests: [0-9]+ passed' "$1" | tail -n 1 | sed -e 's/^tests: //'
}

report() {
    local make="$1" bin="$2" verbose="$3"
    shift 3
    local total=0 passing=0 log out first_todo=""
    log=$(mktemp) out=$(mktemp)
    trap "rm -f '$log' '$out'" EXIT
    for name in "$@"; do
        total=$((total + 1))
        local n="${name#ex}" file="exercises/$name.cpp"
        n="${n%%_*}"
        echo "$(title_of "$name")"
        if ! $make -s --no-print-directory "$bin/${name}_yours" >"$log" 2>&1; then
            echo "    does not compile ($file):"
            grep -m 5 -E 'error|undefined reference' "$log" | sed -e 's/^/      /'
            first_todo=${first_todo:-$n}
            continue
        fi
        "$bin/${name}_yours" >"$out" 2>&1
        local status=$?
        if [ "$verbose" = verbose ]; then sed -e 's/^/    | /' "$out"; fi
        if [ $status -eq 0 ]; then
            echo "    passes ($(summary_of "$out"))"
            passing=$((passing + 1))
        elif grep -q 'not implemented yet' "$out"; then
            echo "    not started: $file still throws NotImplemented"
            first_todo=${first_todo:-$n}
        else
            echo "    fails ($(summary_of "$out")):"
            failed_cases "$out" | sed -e 's/^/      - /'
            echo "    details: make exercises N=$n"
            first_todo=${first_todo:-$n}
        fi
    done
    echo
    echo "$passing of $total exercises pass."
    if [ -n "$first_todo" ]; then
        echo "Next: exercise $first_todo (docs/exercises.md explains each one; make exercises N=$first_todo runs it alone)."
    fi
}

check() {
    local bin="$1" names="$2" wrong="$3" stubs="$4"
    local out problems=0 solutions=0 rejected=0 stubs_failed=0
    out=$(mktemp)
    trap "rm -f '$out'" EXIT
    for name in $names; do
        if "$bin/${name}_solution" >"$out" 2>&1; then
            solutions=$((solutions + 1))
        else
            echo "exercises: the solution of $name fails its own tests:"
            sed -e 's/^/  | /' "$out"
            problems=$((problems + 1))
        fi
    done
    for name in $wrong; do
        if "$bin/${name}_wrong" >"$out" 2>&1; then
            echo "exercises: the wrong solution exercises/wrong/$name.cpp passes the tests: they miss its mistake"
            problems=$((problems + 1))
        else
            rejected=$((rejected + 1))
            echo "exercises: wrong/$name.cpp rejected by: $(failed_cases "$out" | paste -sd ';' | sed -e 's/;/; /g')"
        fi
    done
    for name in $stubs; do
        if "$bin/${name}_yours" >"$out" 2>&1 || ! grep -q 'not implemented yet' "$out"; then
            echo "exercises: the stub exercises/$name.cpp does not fail with 'not implemented yet':"
            sed -e 's/^/  | /' "$out"
            problems=$((problems + 1))
        else
            stubs_failed=$((stubs_failed + 1))
        fi
    done
    local count
    count=$(echo $names | wc -w)
    echo "exercises: $solutions of $count solutions pass, $rejected of $(echo $wrong | wc -w) wrong solutions" \
        "rejected, $stubs_failed of $(echo $stubs | wc -w) untouched stubs fail"
    [ $problems -eq 0 ]
}

mode="${1:-}"
shift || true
case "$mode" in
    report) report "$@" ;;
    check) check "$@" ;;
    *)
        echo "usage: exercises.sh report MAKE BIN_DIR [verbose] NAME... | check BIN_DIR NAMES WRONG STUBS" >&2
        exit 2
        ;;
esac
