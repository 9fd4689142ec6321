#!/usr/bin/env bash
# check_format.sh — fails, listing the files, when a tracked .cpp or .h is not formatted
# as .clang-format says. Run by .ci/run; `make format` fixes what it reports.
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=$(command -v clang-format-14 || command -v clang-format || true)
if [[ -z "$fmt" ]]; then
    echo "check_format: clang-format-14 is not installed (scripts/setup.sh clang-format-14)" >&2
    exit 1
fi
bad=()
while IFS= read -r f; do
    "$fmt" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cpp' '*.h')
if [[ ${#bad[@]} -gt 0 ]]; then
    echo "check_format: ${#bad[@]} file(s) are not formatted; run 'make format':" >&2
    printf '    %s\n' "${bad[@]}" >&2
    exit 1
fi
echo "check_format: every tracked .cpp and .h is formatted"
