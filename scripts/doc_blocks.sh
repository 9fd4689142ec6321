#!/usr/bin/env bash
# doc_blocks.sh — the C++ blocks of the docs, compiled and run by `make test` (mk/docs.mk).
#
#   doc_blocks.sh extract OUT_DIR DOC.md...
#       writes each ```cpp block as OUT_DIR/<doc>-<n>.cpp (a #line directive points compiler
#       messages at the .md), the ```output block after it as <doc>-<n>.out, and
#       OUT_DIR/blocks.mk (DOC_BLOCKS := ...); checks every ```cpp excerpt PATH block against
#       PATH. Files are rewritten only when they change, so make rebuilds only those.
#   doc_blocks.sh check OUT_DIR/<doc>-<n>.cpp
#       compiles the block with $DOC_CXX; if it defines main, links it with $DOC_LIBS, runs it
#       in a fresh temporary directory (it must exit 0 within 120 s) and, when <doc>-<n>.out
#       exists and DOC_COMPARE_OUTPUT is not 0, requires its standard output to be exactly that.
#
# The convention (README.md, "Code in the docs"):
#   ```cpp                 a whole source file: compiled; run if it defines main()
#   ```output              the next block after one, in the same section: what it prints
#   ```cpp fragment        part of a file (a tutorial step): not compiled
#   ```cpp excerpt PATH    quoted from PATH: must appear there verbatim
set -euo pipefail

die() {
    echo "doc_blocks: $*" >&2
    exit 1
}

# Replaces $2 with $1 unless they are equal (keeps the old file's time stamp).
install_if_changed() {
    if cmp -s "$1" "$2"; then rm -f "$1"; else mv "$1" "$2"; fi
}

extract() {
    local out=$1
    shift
    mkdir -p "$out"
    local tmp
    tmp=$(mktemp -d "$out/.extract.XXXXXX")
    trap 'rm -rf "$tmp"' RETURN
    for doc in "$@"; do
        [[ -f $doc ]] || die "$doc: no such file"
        local base=${doc%.md}
        base=${base//\//_}
        # One pass over the Markdown: fences of up to 3 spaces' indent, their info string,
        # and their content with that indent removed (CommonMark's rule).
        awk -v tmp="$tmp" -v base="$base" -v doc="$doc" '
            function fail(msg) { printf "doc_blocks: %s:%d: %s\n", doc, FNR, msg > "/dev/stderr"; failed = 1; exit 1 }
            BEGIN { n = 0; k = 0; open = 0; last = "" }
            {
                if (!open) {
                    if (match($0, /^ *```/) && RLENGTH <= 6) {
                        indent = RLENGTH - 3
                        info = substr($0, RLENGTH + 1)
                        sub(/^ +/, "", info); sub(/ +$/, "", info)
                        split(info, w, / +/)
                        lang = w[1]; tag = w[2]; arg = w[3]
                        open = 1; start = FNR; body = ""
                        if (lang == "cpp" || lang == "c++" || lang == "cxx") {
                            kind = tag == "" ? "compile" : tag
                            if (kind != "compile" && kind != "fragment" && kind != "excerpt")
                                fail("unknown C++ block tag \"" tag "\" (use fragment or excerpt PATH)")
                            if (kind == "excerpt" && arg == "") fail("cpp excerpt needs the PATH it quotes")
                        } else if (lang == "output") {
                            kind = "output"
                            if (last == "") fail("an output block must be the next block after a cpp block, in its section")
                        } else {
                            kind = "other"
                        }
                        next
                    }
                    if ($0 ~ /^#/) last = ""  # an output block belongs to a program of its section
                    next
                }
                if (match($0, /^ *```+ *$/) && RLENGTH > 0) {
                    open = 0
                    if (kind == "compile") {
                        name = base "-" (++n)
                        f = tmp "/" name ".cpp"
                        printf "#line %d \"%s\"\n%s", start + 1, doc, body > f
                        close(f)
                        print name >> (tmp "/list")
                        last = name
                    } else if (kind == "output") {
                        f = tmp "/" last ".out"
                        printf "%s", body > f
                        close(f)
                        last = ""
                    } else if (kind == "excerpt") {
                        f = tmp "/excerpt-" base "-" (++k)
                        printf "%s", body > f
                        close(f)
                        printf "%s\t%s:%d\t%s\n", f, doc, start, arg >> (tmp "/excerpts")
                        last = ""
                    } else {
                        last = ""
                    }
                    next
                }
                line = $0
                for (i = 0; i < indent && substr(line, 1, 1) == " "; ++i) line = substr(line, 2)
                body = body line "\n"
            }
            END { if (!failed && open) { FNR = start; fail("this ``` block is never closed") } }
        ' "$doc"
    done

    if [[ -f $tmp/excerpts ]]; then
        while IFS=$'\t' read -r file where source; do
            [[ -f $source ]] || die "$where: the excerpt names $source, which does not exist"
            [[ "$(cat "$source")" == *"$(cat "$file")"* ]] ||
                die "$where: this excerpt is not in $source as written (update the doc, or mark it cpp fragment)"
        done <"$tmp/excerpts"
    fi

    local names=()
    [[ -f $tmp/list ]] && mapfile -t names <"$tmp/list"
    {
        printf 'DOC_BLOCKS :='
        for name in "${names[@]}"; do printf ' %s/%s' "$out" "$name"; done
        printf '\n'
        for name in "${names[@]}"; do
            [[ -f $tmp/$name.out ]] && printf '%s/%s.ok: %s/%s.out\n' "$out" "$name" "$out" "$name"
        done
    } >"$tmp/blocks.mk"
    for name in "${names[@]}"; do
        install_if_changed "$tmp/$name.cpp" "$out/$name.cpp"
        if [[ -f $tmp/$name.out ]]; then install_if_changed "$tmp/$name.out" "$out/$name.out"; else rm -f "$out/$name.out"; fi
    done
    install_if_changed "$tmp/blocks.mk" "$out/blocks.mk"
    # Blocks that are gone (deleted, or now fragments) leave nothing behind.
    local f
    for f in "$out"/*.cpp; do
        [[ -e $f ]] || continue
        local stem=${f##*/}
        stem=${stem%.cpp}
        [[ " ${names[*]} " == *" $stem "* ]] || rm -f "$out/$stem".{cpp,out,ok,bin}
    done
}

check() {
    local src=$1
    local stem=${src%.cpp}
    local where
    where=$(sed -n '1s/^#line \([0-9]*\) "\(.*\)"$/\2:\1/p' "$src")
    [[ -n ${DOC_CXX:-} ]] || die "check: DOC_CXX (the compile command) is not set"
    if ! grep -Eq '^[[:space:]]*int[[:space:]]+main[[:space:]]*\(' "$src"; then
        # shellcheck disable=SC2086
        $DOC_CXX -fsyntax-only "$src" || die "$where: this block does not compile (mark it cpp fragment if it is part of a file)"
        touch "$stem.ok"
        return
    fi
    # shellcheck disable=SC2086
    $DOC_CXX "$src" ${DOC_LIBS:-} -o "$stem.bin" || die "$where: this block does not compile"
    local run_dir
    run_dir=$(mktemp -d "${TMPDIR:-/tmp}/focalgrad-doc-XXXXXX")
    local bin status=0
    bin=$(realpath "$stem.bin")
    # shellcheck disable=SC2086
    (cd "$run_dir" && timeout 120 env ${RUN_ENV:-} "$bin" >"$run_dir/.stdout") || status=$?
    if ((status != 0)); then
        cat "$run_dir/.stdout" >&2
        rm -rf "$run_dir"
        die "$where: this block's program exited with status $status"
    fi
    if [[ -f $stem.out && ${DOC_COMPARE_OUTPUT:-1} != 0 ]] && ! diff -u --label "the output block" --label "what the program printed" "$stem.out" "$run_dir/.stdout" >&2; then
        rm -rf "$run_dir"
        die "$where: the output block after this program is not what it prints (diff above)"
    fi
    rm -rf "$run_dir"
    touch "$stem.ok"
}

case ${1:-} in
    extract) shift && extract "$@" ;;
    check) shift && check "$@" ;;
    *) die "usage: doc_blocks.sh extract OUT_DIR DOC.md... | check BLOCK.cpp" ;;
esac
