#!/usr/bin/env bash
# test.sh - THE test command (README's second command; .ci/run runs exactly this):
#   1. scripts/deps.sh (packages),
#   2. build/ (Release) with -Werror, every CTest tier (unit, token, cli),
#   3. build-asan/ with ASan+UBSan and -Werror, the unit tier (no LSan suppressions) and the token
#      tier (LSan suppressions for leaks inside SoftHSM2/p11-kit only: tests/lsan.supp),
#   4. scripts/fuzz.sh 20 (every fuzz target briefly) when it exists.
# Runs every stage even after a failure, prints one summary line, exits non-zero on any failure.
# Environment: JOBS (default 2), AF_TEST_STAGES (default "build ctest asan fuzz"),
# AF_FUZZ_SECONDS (default 20).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${JOBS:-2}
stages=${AF_TEST_STAGES:-build ctest asan fuzz}
fuzz_seconds=${AF_FUZZ_SECONDS:-20}
t0=$SECONDS
results=()
failed=0

banner() { printf '\n==== %s ====\n' "$*"; }
# record NAME STATUS: remembers one stage's outcome for the summary
record() {
    results+=("$1=$2")
    [ "$2" = ok ] || [ "$2" = skipped ] || failed=1
}
# keep_going DIR: the native build tool's keep-going flag for the generator DIR was configured with
keep_going() {
    if grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$1/CMakeCache.txt" 2>/dev/null; then
        echo "-k 0"
    else
        echo "-k"
    fi
}
has_stage() { [[ " $stages " == *" $1 "* ]]; }
# run_stage NAME CMD...: runs CMD, records ok/FAIL with its duration
run_stage() {
    local name=$1 start=$SECONDS
    shift
    banner "$name: $*"
    if "$@"; then
        record "$name" ok
    else
        record "$name" FAIL
    fi
    echo "---- $name took $((SECONDS - start)) s"
}

run_stage deps bash scripts/deps.sh
[ "$failed" = 0 ] || {
    echo "test.sh: FAILED: packages could not be installed" >&2
    exit 1
}

# ctest_logged LOG ARGS...: ctest with ARGS, its output also kept in LOG for the totals
ctest_logged() {
    local log=$1
    shift
    ctest "$@" 2>&1 | tee "$log"
    return "${PIPESTATUS[0]}"
}
# count_ctest LOG: adds a ctest run's closing line ("... F tests failed out of N") to the totals
tests_passed=0
tests_failed=0
count_ctest() {
    local line f n
    line=$(grep -E 'tests failed out of [0-9]+' "$1" 2>/dev/null | tail -1)
    [ -n "$line" ] || return 0
    f=$(sed -E 's/.* ([0-9]+) tests failed out of [0-9]+.*/\1/' <<<"$line")
    n=$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$line")
    tests_failed=$((tests_failed + f))
    tests_passed=$((tests_passed + n - f))
}
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

# ---- main build: -Werror, all tiers ----------------------------------------------------------
main_built=0
if has_stage build || has_stage ctest; then
    run_stage configure cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAF_WERROR=ON \
        -DAF_SANITIZE=OFF -DAF_FUZZ=OFF -DAF_TESTS=ON
    if [ "${results[-1]}" = configure=ok ]; then
        # -k: a target that fails to build does not stop the others, so the tests that could be
        # built still run and report (the build stage stays FAIL).
        run_stage build cmake --build build -j"$jobs" -- $(keep_going build)
        main_built=1
    fi
fi
if has_stage ctest; then
    if [ "$main_built" = 1 ]; then
        # Serial: the token and cli tests share one fresh token per run.
        run_stage ctest ctest_logged "$logdir/ctest" --test-dir build --output-on-failure
        count_ctest "$logdir/ctest"
    else
        record ctest skipped-configure-failed
    fi
fi

# ---- sanitizer build: ASan+UBSan, unit and token tiers -----------------------------------------
if has_stage asan; then
    asan_built=0
    run_stage asan-configure cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAF_WERROR=ON \
        -DAF_SANITIZE=ON -DAF_FUZZ=OFF -DAF_TESTS=ON
    if [ "${results[-1]}" = asan-configure=ok ]; then
        run_stage asan-build cmake --build build-asan -j"$jobs" -- $(keep_going build-asan)
        asan_built=1
    fi
    if [ "$asan_built" = 1 ]; then
        # CTest passes ASAN_OPTIONS per test; LSAN_OPTIONS is ours. fast_unwind_on_malloc=0: the
        # system libraries have no frame pointers, so only the slow unwinder sees the whole stack
        # of a leak (which library it happened in, and our caller). The unit tier runs with no
        # suppressions at all; the token tier with tests/lsan.supp (SoftHSM2 and p11-kit only).
        LSAN_OPTIONS="fast_unwind_on_malloc=0" \
            run_stage asan-unit ctest_logged "$logdir/asan-unit" --test-dir build-asan \
            --output-on-failure -L unit
        count_ctest "$logdir/asan-unit"
        LSAN_OPTIONS="fast_unwind_on_malloc=0:suppressions=$root/tests/lsan.supp:print_suppressions=0" \
            run_stage asan-token ctest_logged "$logdir/asan-token" --test-dir build-asan \
            --output-on-failure -L token
        count_ctest "$logdir/asan-token"
    else
        record asan-unit skipped-configure-failed
        record asan-token skipped-configure-failed
    fi
fi

# ---- fuzzing: every target briefly -----------------------------------------------------------
if has_stage fuzz; then
    if [ -f scripts/fuzz.sh ]; then
        run_stage fuzz bash scripts/fuzz.sh "$fuzz_seconds"
    else
        record fuzz skipped
    fi
fi

elapsed=$((SECONDS - t0))
if [ "$failed" = 0 ]; then
    echo "test.sh: PASSED (${results[*]}) in $((elapsed / 60)) min $((elapsed % 60)) s"
else
    echo "test.sh: FAILED (${results[*]}) in $((elapsed / 60)) min $((elapsed % 60)) s"
fi
# The CTest programs of all test passes (main build, then ASan), as one closing line.
echo "tests: $tests_passed passed, $tests_failed failed"
exit "$failed"
