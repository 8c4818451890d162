#!/usr/bin/env bash
# fuzz.sh [SECONDS] - builds every libFuzzer target (tests/fuzz/fuzz_*.c) with clang in build-fuzz,
# the library code instrumented too (coverage + ASan + UBSan), and runs each for SECONDS (default
# 30) on a scratch copy of its seed corpus tests/fuzz/corpus/<name>/. Fails on any crash, leak,
# sanitizer report or timeout; the reproducer is left in build-fuzz/artifacts/.
# Environment: CC (default clang, else clang-14), JOBS (default 2), AF_FUZZ_BUILD (build dir),
# AF_FUZZ_ONLY (run only targets whose name contains this).
set -euo pipefail
secs=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AF_FUZZ_BUILD:-$root/build-fuzz}
cc=${CC:-}
if [ -z "$cc" ]; then
    cc=$(command -v clang || command -v clang-14 || true)
fi
[ -n "$cc" ] || { echo "fuzz.sh: clang not found" >&2; exit 1; }

targets=()
for src in "$root"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    [[ -n ${AF_FUZZ_ONLY:-} && $name != *"$AF_FUZZ_ONLY"* ]] && continue
    targets+=("$name")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz targets" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DAF_FUZZ=ON -DAF_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" >/dev/null
cmake --build "$build" --target "${targets[@]}" -j"${JOBS:-2}"

mkdir -p "$build/artifacts"
failed=()
for t in "${targets[@]}"; do
    corpus=${t#fuzz_}
    work="$build/corpus-work/$corpus"
    mkdir -p "$work"
    if [ -d "$root/tests/fuzz/corpus/$corpus" ]; then
        cp -n "$root/tests/fuzz/corpus/$corpus"/* "$work/" 2>/dev/null || true
    fi
    exe="$build/tests/fuzz/$t"
    [ -x "$exe" ] || exe="$build/$t"
    echo "== $t: ${secs}s on $(ls "$work" | wc -l) inputs"
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$t-" "$work" 2>"$build/$t.log"; then
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$build/$t.log" | sed 's/^/   /'
    else
        failed+=("$t")
        echo "== $t FAILED; see $build/$t.log and $build/artifacts/" >&2
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$build/$t.log" | head -5 >&2 || true
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s) ran ${secs}s each without findings"
