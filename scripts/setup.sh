#!/usr/bin/env bash
# setup.sh — installs the Debian packages focalgrad builds against, if any is missing.
# Called by the Makefile before the first compile; safe to run by hand at any time.
#   libopenblas-dev  BLAS for matrix products      doctest-dev  the test framework
#   libstb-dev       image reading and writing     zlib1g-dev   .gz dataset files
#   pkg-config       finds OpenBLAS's flags
# Extra packages for optional targets can be passed as arguments:
#   scripts/setup.sh dataset-fashion-mnist
set -euo pipefail

packages=(libopenblas-dev doctest-dev libstb-dev zlib1g-dev pkg-config "$@")

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "setup: these packages are missing and installing them needs root. Run:" >&2
    echo "    sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "setup: installing missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Try with the package lists we have; refresh them only if that fails (a fresh machine).
if ! "${as_root[@]}" apt-get install -y -q "${missing[@]}" >/tmp/focalgrad-setup.log 2>&1; then
    "${as_root[@]}" apt-get update -q >>/tmp/focalgrad-setup.log 2>&1 || true
    if ! "${as_root[@]}" apt-get install -y -q "${missing[@]}" >>/tmp/focalgrad-setup.log 2>&1; then
        echo "setup: apt-get install failed; the last lines of /tmp/focalgrad-setup.log:" >&2
        tail -n 20 /tmp/focalgrad-setup.log >&2
        exit 1
    fi
fi
echo "setup: installed ${missing[*]}"
