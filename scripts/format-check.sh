#!/usr/bin/env bash
# format-check.sh [--fix] [PATH...] - checks C sources against .clang-format (clang-format from
# the clang package of scripts/deps.sh). Default: every tracked *.c/*.h. Lists the files that
# differ and exits 1; --fix rewrites them in place. Not part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fix=0
if [ "${1:-}" = --fix ]; then
    fix=1
    shift
fi
cf=$(command -v clang-format || command -v clang-format-14 || true)
[ -n "$cf" ] || { echo "format-check.sh: clang-format not found (apt-get install clang-format)" >&2; exit 2; }
if [ $# -gt 0 ]; then
    files=("$@")
else
    mapfile -t files < <(git ls-files '*.c' '*.h')
fi
bad=0
for f in "${files[@]}"; do
    if [ "$fix" = 1 ]; then
        "$cf" -i "$f"
    elif ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "needs formatting: $f"
        bad=1
    fi
done
[ "$bad" = 0 ] && echo "format-check.sh: ${#files[@]} files checked" || exit 1
