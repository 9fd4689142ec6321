#!/usr/bin/env bash
# check_isa.sh — shows from `objdump -d` that compiled code stays within an x86-64 level:
#   check_isa.sh x86-64-v3 FILE...   no AVX-512: no EVEX-encoded instruction, no zmm, mask
#                                    (k0-k7) or xmm16-31/ymm16-31 register
#   check_isa.sh x86-64-v2 FILE...   no AVX at all: besides the above, no VEX-encoded
#                                    instruction and no ymm register
#   check_isa.sh --self-test         the checks do find such code (compiled here for v4, v3)
# Each instruction is judged twice: by its first opcode byte after any segment or
# address-size prefix (in 64-bit code c4/c5 start a VEX encoding, 62 an EVEX one) and by
# the registers objdump names. .ci/run checks the default and the PORTABLE=1 library.
set -euo pipefail

# scan LEVEL FILE: prints the counts, and the first offending lines; fails if there are any.
scan() {
    local level=$1 file=$2
    objdump -d "$file" 2>/dev/null | awk -F'\t' -v level="$level" -v file="$file" '
        NF >= 3 && $1 ~ /^ *[0-9a-f]+:$/ {
            n++
            split($2, b, " ")
            i = 1
            while (b[i] ~ /^(26|2e|36|3e|64|65|67)$/) i++
            enc = b[i] == "62" ? "evex" : (b[i] == "c4" || b[i] == "c5") ? "vex" : ""
            if ($3 ~ /%(zmm|k[0-7]([^0-9]|$)|[xy]mm(1[6-9]|2[0-9]|3[01])([^0-9]|$))/) enc = "evex"
            else if (enc == "" && $3 ~ /%ymm/) enc = "vex"
            if (enc != "") count[enc]++
            bad = enc == "evex" || (level == "x86-64-v2" && enc == "vex")
            if (bad && shown < 5) example[++shown] = $3
            if (bad) nbad++
        }
        END {
            printf "check_isa: %s (%s): %d instructions, %d VEX (AVX, AVX2, FMA), %d EVEX (AVX-512)", \
                file, level, n, count["vex"], count["evex"]
            if (n == 0) { printf ": objdump found no instructions\n"; exit 1 }
            if (nbad == 0) { printf ": ok\n"; exit 0 }
            printf ": %d above %s, e.g.\n", nbad, level
            for (i = 1; i <= shown; i++) printf "    %s\n", example[i]
            exit 1
        }'
}

self_test() {
    local tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/focalgrad-check-isa-XXXXXX")
    trap 'rm -rf "$tmp"' RETURN
    printf 'void axpy(float* y, const float* x, float a, int n) { for (int i = 0; i < n; ++i) y[i] += a * x[i]; }\n' >"$tmp/axpy.cpp"
    g++ -O3 -march=x86-64-v4 -mprefer-vector-width=512 -c "$tmp/axpy.cpp" -o "$tmp/v4.o"
    g++ -O3 -march=x86-64-v3 -c "$tmp/axpy.cpp" -o "$tmp/v3.o"
    g++ -O3 -march=x86-64-v2 -c "$tmp/axpy.cpp" -o "$tmp/v2.o"
    ! scan x86-64-v3 "$tmp/v4.o" >/dev/null || { echo "check_isa: self-test: AVX-512 code passed the v3 check" >&2; return 1; }
    ! scan x86-64-v2 "$tmp/v3.o" >/dev/null || { echo "check_isa: self-test: AVX2 code passed the v2 check" >&2; return 1; }
    scan x86-64-v3 "$tmp/v3.o" >/dev/null || { echo "check_isa: self-test: v3 code failed the v3 check" >&2; return 1; }
    scan x86-64-v2 "$tmp/v2.o" >/dev/null || { echo "check_isa: self-test: v2 code failed the v2 check" >&2; return 1; }
    echo "check_isa: self-test: AVX-512 code fails the v3 check, AVX2 code the v2 check; v3 and v2 code pass"
}

case ${1:-} in
--self-test) self_test ;;
x86-64-v3 | x86-64-v2)
    level=$1
    shift
    [[ $# -gt 0 ]] || { echo "usage: check_isa.sh $level FILE..." >&2; exit 2; }
    status=0
    for f in "$@"; do
        [[ -f $f ]] || { echo "check_isa: $f: no such file" >&2; exit 2; }
        scan "$level" "$f" || status=1
    done
    exit $status
    ;;
*) echo "usage: check_isa.sh x86-64-v3|x86-64-v2 FILE... | --self-test" >&2; exit 2 ;;
esac
