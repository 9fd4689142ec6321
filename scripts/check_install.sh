#!/usr/bin/env bash
# check_install.sh — what `make check-install` runs (a step of .ci/run): installs focalgrad
# into a fresh temporary prefix, builds examples/user_project (copied outside the checkout)
# with its Makefile through pkg-config and with CMake through find_package, and runs both;
# then the same two builds against the checkout without installing; then uninstalls, after
# which the prefix must be empty. Also checks a DESTDIR install, a reinstall, and that
# uninstall keeps a file focalgrad did not install. Needs cmake (scripts/setup.sh cmake).
#   scripts/check_install.sh BUILD        BUILD: the flavour's build directory (build/)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "$1" && pwd)
make=${MAKE:-make}
version=$(sed -n 's/^#define FOCALGRAD_VERSION "\([^"]*\)".*/\1/p' core/version.h)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/focalgrad-check-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
# The user project is built as a stranger would build it: none of this make's settings.
clean_env=(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CXX -u CXXFLAGS)

fail() {
    echo "check-install: FAILED: $*" >&2
    exit 1
}
step() { echo "check-install: $* (at $((SECONDS - start)) s)"; }

# run_project DIR LABEL: runs DIR/app (or DIR/build/app), which must exit 0 and name the version.
run_project() {
    local app=$1/app out
    [[ -x $app ]] || app=$1/build/app
    out=$("$app" 2>&1) || fail "$2: $app failed: $out"
    grep -q "^focalgrad $version (headers $version)$" <<<"$out" || fail "$2: $app does not print focalgrad $version: $out"
    echo "$out" | sed "s/^/    $2 | /" | tail -n 2
}

# project NAME: a fresh copy of the user project outside the checkout.
project() {
    cp -r examples/user_project "$tmp/$1"
    echo "$tmp/$1"
}

step "make install PREFIX=$tmp/prefix"
prefix=$tmp/prefix
mkdir "$prefix"
$make -s install PREFIX="$prefix"
for f in lib/libfocalgrad.a lib/pkgconfig/focalgrad.pc lib/cmake/focalgrad/focalgradConfig.cmake \
    lib/cmake/focalgrad/focalgradConfigVersion.cmake include/focalgrad/focalgrad.h \
    include/focalgrad/core/version.h share/doc/focalgrad/LICENSE; do
    [[ -f $prefix/$f ]] || fail "make install did not install $f"
done
internal=$(cd "$prefix/include" && find . -path '*/internal/*')
[[ -z $internal ]] || fail "internal headers were installed: $internal"
# Every <focalgrad/...> that an installed header includes is installed too.
missing=$(cd "$prefix/include" && grep -rhoE '#include <focalgrad/[^>]+>' . | sed 's/#include <\(.*\)>/\1/' |
    sort -u | while read -r h; do [[ -f $h ]] || echo "$h"; done)
[[ -z $missing ]] || fail "installed headers include headers that were not installed: $missing"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[[ $(pkg-config --modversion focalgrad) == "$version" ]] || fail "focalgrad.pc does not say version $version"
echo "    $(find "$prefix" -type f | wc -l) files; pkg-config --cflags --libs focalgrad: $(pkg-config --cflags --libs focalgrad)"

step "the user project, Makefile with pkg-config"
dir=$(project pkgconfig)
(cd "$dir" && "${clean_env[@]}" make -s -j2) || fail "the user project's Makefile did not build against $prefix"
run_project "$dir" pkg-config

step "the user project, CMake with find_package"
dir=$(project cmake)
"${clean_env[@]}" cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 ||
    fail "cmake could not configure the user project against $prefix: $(tail -n 20 "$tmp/cmake.log")"
"${clean_env[@]}" cmake --build "$dir/build" -j 2 >>"$tmp/cmake.log" 2>&1 || fail "cmake --build failed: $(tail -n 20 "$tmp/cmake.log")"
run_project "$dir" cmake
unset PKG_CONFIG_PATH

step "the user project against the checkout, not installed"
dir=$(project in-tree-pkgconfig)
(cd "$dir" && "${clean_env[@]}" PKG_CONFIG_PATH="$build/pkgconfig" make -s -j2) ||
    fail "the user project did not build with PKG_CONFIG_PATH=$build/pkgconfig"
run_project "$dir" in-tree-pkgconfig
dir=$(project in-tree-cmake)
"${clean_env[@]}" cmake -S "$dir" -B "$dir/build" -Dfocalgrad_DIR="$build/cmake" >"$tmp/cmake.log" 2>&1 &&
    "${clean_env[@]}" cmake --build "$dir/build" -j 2 >>"$tmp/cmake.log" 2>&1 ||
    fail "the user project did not build with -Dfocalgrad_DIR=$build/cmake: $(tail -n 20 "$tmp/cmake.log")"
run_project "$dir" in-tree-cmake

step "reinstall, then make uninstall"
out=$($make -s install PREFIX="$prefix")
[[ $out == *"replacing the focalgrad installed in $prefix"* ]] || fail "a second install did not replace the first: $out"
$make -s uninstall PREFIX="$prefix"
left=$(find "$prefix" -mindepth 1)
[[ -z $left ]] || fail "make uninstall left these in the prefix: $left"

step "a file of the user's survives uninstall"
$make -s install PREFIX="$prefix" >/dev/null
echo '#pragma once' >"$prefix/include/focalgrad/mine.h"
$make -s uninstall PREFIX="$prefix" >/dev/null
left=$(cd "$prefix" && find . -mindepth 1 | sort | tr '\n' ' ')
[[ $left == "./include ./include/focalgrad ./include/focalgrad/mine.h " ]] ||
    fail "uninstall should have kept exactly include/focalgrad/mine.h, the prefix holds: $left"
rm -r "$prefix/include"

step "make install DESTDIR=$tmp/stage PREFIX=/opt/focalgrad"
$make -s install DESTDIR="$tmp/stage" PREFIX=/opt/focalgrad >/dev/null
[[ -f $tmp/stage/opt/focalgrad/lib/libfocalgrad.a ]] || fail "DESTDIR install did not stage the library"
grep -qx 'prefix=/opt/focalgrad' "$tmp/stage/opt/focalgrad/lib/pkgconfig/focalgrad.pc" ||
    fail "the staged focalgrad.pc does not name PREFIX=/opt/focalgrad"
$make -s uninstall DESTDIR="$tmp/stage" PREFIX=/opt/focalgrad >/dev/null
[[ ! -e $tmp/stage/opt/focalgrad ]] || fail "DESTDIR uninstall left $tmp/stage/opt/focalgrad"

step "passed"
