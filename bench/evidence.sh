#!/usr/bin/env bash
# evidence.sh - the Evidence layer benchmark, one command: builds attfresh.so and bench_evidence
# (RelWithDebInfo, into BUILD), makes a throw-away SoftHSM2 token, then
#   1. bench_evidence: attest / csr / verify per operation, signing vs the rest, token and
#      software keys side by side (wall time, medians of interleaved repeats);
#   2. with CALLGRIND=1, the same operations under callgrind: instructions per operation, which
#      do not depend on how busy the machine is (the token's C_Sign runs in-process too).
# Options (environment): BUILD (default build-bench-evidence), N (200), REPEAT (7), CALLGRIND (0),
# CG_N (20, operations per callgrind run). Results are also kept in bench/results/ (git-ignored).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build-bench-evidence}
n=${N:-200}
repeat=${REPEAT:-7}
cg_n=${CG_N:-20}
label=attfresh-bench-ev
out=$root/bench/results
mkdir -p "$out"

echo "evidence.sh: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target attfresh_module bench_evidence >/dev/null

tmp=$(mktemp -d /tmp/attfresh-bench-ev.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OPENSSL_MODULES=$build/modules AF_TEST_TOKEN_LABEL=$label
export AF_P11KIT_PROXY=$(pkg-config --variable=proxy_module p11-kit-1)
export SOFTHSM2_CONF=$tmp/token/softhsm2.conf
bash "$root/tests/scripts/token-fixture.sh" setup "$tmp/token" >/dev/null
conf=$tmp/token/openssl.cnf

"$build/bench/bench_evidence" --conf "$conf" --n "$n" --repeat "$repeat" |
    tee "$out/bench_evidence.txt"

if [ "${CALLGRIND:-0}" = 1 ]; then
    echo
    echo "callgrind: instructions per operation (Ir / $cg_n), collected inside the timed loops only"
    printf '%-6s %-10s %12s\n' keys operation Ir/op
    for set in token soft; do
        for op in sign sigverify attest csr verify verify-new; do
            f=$tmp/cg.$set.$op
            valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$f" \
                "$build/bench/bench_evidence" --conf "$conf" --set "$set" --only "$op" \
                --n "$cg_n" --repeat 1 >/dev/null 2>"$f.log"
            ir=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$f" | head -1 | cut -d' ' -f1)
            printf '%-6s %-10s %12d\n' "$set" "$op" $((ir / cg_n))
            cp "$f" "$out/callgrind.$set.$op"
        done
    done | tee "$out/bench_evidence_callgrind.txt"
fi
