#!/usr/bin/env bash
# get_mnist.sh — downloads the four MNIST files into DIR (default: datasets/mnist), trying
# public mirrors in order. A download is kept only if its SHA-256 matches the canonical
# archive, and lands atomically (temporary file in DIR, then rename): DIR never holds a
# partial or wrong file. If every mirror fails, one message says where to put the files.
# Not here: checking files already in DIR. They are kept as they are (a re-compressed or
# unpacked copy is fine); the loaders validate headers, sizes and counts when they read.
#
# Usage: scripts/get_mnist.sh [DIR]
# Environment: MNIST_MIRRORS="URL ..." replaces the mirror list (e.g. an internal mirror);
#              MNIST_CONNECT_TIMEOUT (seconds, default 10), MNIST_MAX_TIME (default 300).
set -euo pipefail

dir=${1:-datasets/mnist}
read -r -a mirrors <<< "${MNIST_MIRRORS:-https://ossci-datasets.s3.amazonaws.com/mnist https://storage.googleapis.com/cvdf-datasets/mnist http://yann.lecun.com/exdb/mnist}"
connect_timeout=${MNIST_CONNECT_TIMEOUT:-10}
max_time=${MNIST_MAX_TIME:-300}

# The canonical .gz archives as the mirrors serve them (sizes 9912422, 28881, 1648877 and
# 4542 bytes). torchvision publishes MD5s only; these SHA-256s are the ones TensorFlow
# Datasets and other loaders check, and agree across independent sources.
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
       t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
declare -A sha256=(
    [train-images-idx3-ubyte.gz]=440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609
    [train-labels-idx1-ubyte.gz]=3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c
    [t10k-images-idx3-ubyte.gz]=8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
    [t10k-labels-idx1-ubyte.gz]=f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
)

say() { echo "get_mnist: $*" >&2; }

# The one message for every way of failing: what went wrong, then where the files go.
give_up() {
    say "$1"
    cat >&2 <<EOF
get_mnist: get the four files some other way and put them in $dir/:
    ${files[*]}
  (gzipped as above, or unpacked without the .gz), then run the program again. Or point
  the programs at a directory that already holds them: --data DIR or MNIST_DIR=DIR.
EOF
    exit 1
}

# Prints the SHA-256 of a file.
if command -v sha256sum > /dev/null; then sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum > /dev/null; then sha256_of() { shasum -a 256 "$1" | cut -d' ' -f1; }
else give_up "neither sha256sum nor shasum is installed, so downloads cannot be verified"
fi

# fetch URL FILE: downloads URL into FILE; on failure, prints the reason and returns 1.
fetch() {
    if command -v curl > /dev/null; then
        curl --fail --silent --show-error --location --connect-timeout "$connect_timeout" \
             --max-time "$max_time" --output "$2" "$1" 2>&1
    elif command -v wget > /dev/null; then
        wget --quiet --tries=1 --timeout="$connect_timeout" --output-document="$2" "$1" 2>&1 ||
            { echo "wget failed (exit code $?)"; return 1; }
    else
        echo "neither curl nor wget is installed"
        return 1
    fi
}

# Whether DIR already holds NAME (e.g. train-images-idx3-ubyte.gz) under any name the
# loaders accept: with or without .gz, "-idx" or ".idx".
present() {
    local base=${1%.gz}
    local dotted=${base/-idx/.idx}
    [[ -f "$dir/$base" || -f "$dir/$base.gz" || -f "$dir/$dotted" || -f "$dir/$dotted.gz" ]]
}

mkdir -p "$dir" || give_up "cannot create $dir"
tmp=""
trap '[[ -n "$tmp" ]] && rm -f "$tmp"' EXIT
trap 'exit 130' INT TERM

for name in "${files[@]}"; do
    if present "$name"; then
        say "$dir already has ${name%.gz} (kept as it is)"
        continue
    fi
    reasons=""
    done_=0
    for mirror in "${mirrors[@]}"; do
        url="${mirror%/}/$name"
        tmp=$(mktemp "$dir/.$name.XXXXXX") || give_up "cannot write in $dir"
        if reason=$(fetch "$url" "$tmp"); then
            actual=$(sha256_of "$tmp")
            if [[ "$actual" == "${sha256[$name]}" ]]; then
                chmod 644 "$tmp"  # mktemp creates files readable by their owner only
                mv -f "$tmp" "$dir/$name"
                tmp=""
                say "downloaded $name from $mirror (SHA-256 verified)"
                done_=1
                break
            fi
            reason="SHA-256 mismatch: got $actual, expected ${sha256[$name]}"
        fi
        rm -f "$tmp"
        tmp=""
        reasons+=$'\n'"    $url: ${reason:-download failed}"
    done
    # The other files come from the same mirrors: if this one failed everywhere, so would
    # they, and trying them would only multiply the waiting.
    [[ $done_ -eq 1 ]] || give_up "could not download $name from any mirror:$reasons"
done
say "MNIST is ready in $dir"
