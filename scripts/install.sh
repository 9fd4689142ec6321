#!/usr/bin/env bash
# install.sh — what `make install`, `make uninstall` and `make lib` run (mk/install.mk):
#   install.sh install   DESTDIR PREFIX VERSION LIBRARY HEADER...
#   install.sh uninstall DESTDIR PREFIX
#   install.sh in-tree   BUILD VERSION
# install copies LIBRARY to PREFIX/lib and each HEADER (a path in the checkout) to
# PREFIX/include/focalgrad/HEADER, writes focalgrad.pc, the CMake package config and
# share/doc/focalgrad/LICENSE, and lists every file it wrote and every folder it made in
# PREFIX/share/focalgrad/install-manifest.txt. uninstall removes exactly those, folders only
# when empty, so a prefix that was empty before install is empty after uninstall; installing
# over an earlier install uninstalls that first. DESTDIR (a packager's staging root) goes in
# front of every path written, while the files themselves name PREFIX.
# in-tree writes BUILD/pkgconfig/focalgrad-uninstalled.pc and BUILD/cmake/focalgradConfig*.cmake,
# which point at BUILD's library and include root: a project builds against the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -u patsub_replacement 2>/dev/null || true  # '&' in a path stays '&' in ${text//@K@/path}

cmd=${1:-}
manifest_rel=share/focalgrad/install-manifest.txt

die() {
    echo "$cmd: $*" >&2
    exit 1
}

# render TEMPLATE OUT KEY=VALUE...: TEMPLATE with each @KEY@ replaced by VALUE, written to OUT
# through a temporary file, so OUT is never half-written.
render() {
    local template=$1 out=$2 text kv
    shift 2
    text=$(<"$template")
    for kv in "$@"; do text=${text//@${kv%%=*}@/${kv#*=}}; done
    printf '%s\n' "$text" >"$out.tmp"
    mv "$out.tmp" "$out"
}

# The substitutions every template takes from VERSION ("MAJOR.MINOR.PATCH").
version_keys() {
    [[ $1 =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || die "version '$1' is not MAJOR.MINOR.PATCH (core/version.h)"
    keys=(VERSION="$1" VERSION_MAJOR="${BASH_REMATCH[1]}" VERSION_MINOR="${BASH_REMATCH[2]}")
}

# Sets prefix (no trailing slash) and root (DESTDIR + prefix), refusing what cannot be right.
check_prefix() {
    destdir=${1%/}
    prefix=$2
    [[ $prefix == /* ]] || die "PREFIX must be an absolute path, got '$prefix'"
    [[ $prefix != *$'\n'* && $destdir != *$'\n'* ]] || die "PREFIX and DESTDIR cannot hold a newline"
    [[ /$prefix/ != */../* ]] || die "PREFIX cannot contain '..', got '$prefix'"
    while [[ $prefix == */ ]]; do prefix=${prefix%/}; done
    [[ -n $prefix ]] || die "PREFIX=/ is not supported: give a folder such as /usr/local"
    root=$destdir$prefix
}

# note KIND PATH: one line of the manifest (PATH without DESTDIR). Lines noted before the
# manifest exists are kept and written into it when it is made.
pending=()
note() {
    local line="$1 ${2#"$destdir"}"
    if [[ -f $root/$manifest_rel ]]; then
        printf '%s\n' "$line" >>"$root/$manifest_rel"
    else
        pending+=("$line")
    fi
}

# make_dir DIR: DIR and its missing parents, each one noted as made by this install.
make_dir() {
    local dir=$1 missing=() d
    while [[ ! -d $dir ]]; do
        missing=("$dir" "${missing[@]}")
        dir=$(dirname "$dir")
    done
    for d in "${missing[@]}"; do
        mkdir "$d"
        note dir "$d"
    done
}

# put SRC DEST: copies SRC to DEST, noted first so that a copy cut short is still uninstalled.
put() {
    make_dir "$(dirname "$2")"
    note file "$2"
    install -m 644 "$1" "$2"
}

install_all() {
    local destdir_arg=$1 prefix_arg=$2 version=$3 library=$4 header
    shift 4
    check_prefix "$destdir_arg" "$prefix_arg"
    version_keys "$version"
    [[ -f $library ]] || die "the library $library is not built (run make lib first)"
    for header in "$@"; do
        [[ -f $header && $header == *.h && /$header/ != */../* && $header != /* ]] ||
            die "'$header' is not a header file of this checkout"
    done
    if [[ -f $root/$manifest_rel ]]; then
        echo "install: replacing the focalgrad installed in $root"
        uninstall_all "$destdir_arg" "$prefix_arg"
    fi

    # The folders above PREFIX are made silently; from PREFIX down, each one made is noted.
    mkdir -p "$(dirname "$root")"
    make_dir "$root/$(dirname "$manifest_rel")"
    : >"$root/$manifest_rel"
    if [[ ${#pending[@]} -gt 0 ]]; then printf '%s\n' "${pending[@]}" >>"$root/$manifest_rel"; fi
    pending=()

    put "$library" "$root/lib/$(basename "$library")"
    for header in "$@"; do put "$header" "$root/include/focalgrad/$header"; done
    put LICENSE "$root/share/doc/focalgrad/LICENSE"

    local pc=$root/lib/pkgconfig/focalgrad.pc cmake=$root/lib/cmake/focalgrad
    make_dir "$(dirname "$pc")"
    note file "$pc"
    render mk/focalgrad.pc.in "$pc" "${keys[@]}" PREFIX="$prefix" INCLUDEDIR='${prefix}/include' \
        LIBDIR='${prefix}/lib'
    # Relocatable: the config finds the prefix from its own place, PREFIX/lib/cmake/focalgrad.
    make_dir "$cmake"
    note file "$cmake/focalgradConfig.cmake"
    render mk/focalgradConfig.cmake.in "$cmake/focalgradConfig.cmake" "${keys[@]}" \
        INCLUDE_DIR='${CMAKE_CURRENT_LIST_DIR}/../../../include' \
        LIBRARY='${CMAKE_CURRENT_LIST_DIR}/../../'"$(basename "$library")"
    note file "$cmake/focalgradConfigVersion.cmake"
    render mk/focalgradConfigVersion.cmake.in "$cmake/focalgradConfigVersion.cmake" "${keys[@]}"

    echo "install: focalgrad $version in $root: $(basename "$library"), $# headers, focalgrad.pc," \
        "the CMake package config (list: $manifest_rel)"
}

uninstall_all() {
    check_prefix "$1" "$2"
    local manifest=$root/$manifest_rel lines line kind path i files=0 dirs=0 kept=()
    [[ -f $manifest ]] || die "no focalgrad is installed in $root ($manifest_rel is missing): nothing removed"
    mapfile -t lines <"$manifest"
    # Every line is checked before anything is removed: a damaged manifest removes nothing.
    for i in "${!lines[@]}"; do
        line=${lines[i]}
        kind=${line%% *}
        path=${line#* }
        [[ ($kind == file || $kind == dir) && ($path == "$prefix" || $path == "$prefix"/*) &&
            /$path/ != */../* ]] ||
            die "line $((i + 1)) of $manifest is '$line', not a file or folder inside $prefix: nothing removed"
    done
    for line in "${lines[@]}"; do
        path=$destdir${line#* }
        if [[ ${line%% *} == file && (-e $path || -L $path) ]]; then
            rm -f "$path"
            files=$((files + 1))
        fi
    done
    rm -f "$manifest"
    # Folders deepest first: install noted each one after its parent.
    for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
        line=${lines[i]}
        [[ ${line%% *} == dir ]] || continue
        path=$destdir${line#* }
        if [[ ! -d $path ]]; then
            continue
        elif rmdir "$path" 2>/dev/null; then
            dirs=$((dirs + 1))
        else
            kept+=("$path")
        fi
    done
    echo "uninstall: removed $files files and $dirs folders from $root"
    if [[ ${#kept[@]} -gt 0 ]]; then
        echo "uninstall: kept these folders, which hold files focalgrad did not install: ${kept[*]}"
    fi
}

in_tree() {
    local build=$1
    version_keys "$2"
    [[ $build == /* ]] || die "BUILD must be an absolute path, got '$build'"
    mkdir -p "$build/pkgconfig" "$build/cmake"
    render mk/focalgrad.pc.in "$build/pkgconfig/focalgrad-uninstalled.pc" "${keys[@]}" PREFIX="$PWD" \
        INCLUDEDIR="$build/include" LIBDIR="$build"
    render mk/focalgradConfig.cmake.in "$build/cmake/focalgradConfig.cmake" "${keys[@]}" \
        INCLUDE_DIR="$build/include" LIBRARY="$build/libfocalgrad.a"
    render mk/focalgradConfigVersion.cmake.in "$build/cmake/focalgradConfigVersion.cmake" "${keys[@]}"
}

case $cmd in
install) [[ $# -ge 5 ]] || die "usage: install.sh install DESTDIR PREFIX VERSION LIBRARY HEADER..."; install_all "${@:2}" ;;
uninstall) [[ $# -eq 3 ]] || die "usage: install.sh uninstall DESTDIR PREFIX"; uninstall_all "${@:2}" ;;
in-tree) [[ $# -eq 3 ]] || die "usage: install.sh in-tree BUILD VERSION"; in_tree "${@:2}" ;;
*) die "usage: install.sh install|uninstall|in-tree ... (see the top of scripts/install.sh)" ;;
esac
