#!/usr/bin/env bash
# cmp_vs_openssl.sh - CMP genm/genp requests/s with MAC (PBM) protection: `attfresh serve` against
# the stock `openssl cmp` mock server (`openssl cmp -port 0 -srv_secret ...`), both answering the
# same pre-built PBM-protected genm (nonce request ITAV, OpenSSL's default PBM: SHA-256 x 500,
# HMAC-SHA1) sent by bench_cmp over HTTP/1.1 keep-alive connections on 127.0.0.1. Bounded:
# REQUESTS per run, MAX_SECONDS per run. Prints each run, the medians and the ratio (target of
# issue 4: attfresh >= 3 x the stock server). Not part of the tests.
# The stock server is single-threaded and logs at -verbosity 3 (errors only, its cheapest);
# attfresh serve runs --threads 2 with its access log to a file and the rate limit off.
# Environment: BUILD (default build), NO_BUILD=1, RAND (hsm: nonces from SoftHSM2 through
# attfresh.so, the default | soft), REQUESTS (20000), CONNECTIONS (8), REPEAT (3), MAX_SECONDS (60).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
rand=${RAND:-hsm}
requests=${REQUESTS:-20000}
conns=${CONNECTIONS:-8}
repeat=${REPEAT:-3}
maxs=${MAX_SECONDS:-60}
case "$rand" in hsm | soft) ;; *) echo "RAND must be hsm or soft" >&2; exit 2 ;; esac
[ "$requests" -ge 100 ] && [ "$requests" -le 1000000 ] || { echo "REQUESTS: 100..1000000" >&2; exit 2; }
[ "$repeat" -ge 1 ] && [ "$repeat" -le 20 ] || { echo "REPEAT: 1..20" >&2; exit 2; }

echo "cmp_vs_openssl.sh: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg);" \
    "nonces from $rand; $requests requests over $conns connections, $repeat repeat(s)"
if [ "${NO_BUILD:-0}" != 1 ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target attfresh_cmd attfresh_module bench_cmp
fi

tmp=$(mktemp -d /tmp/attfresh-cmp-bench.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

umask 077
od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$tmp/mac.txt"
echo >>"$tmp/mac.txt"

# ---- attfresh serve -----------------------------------------------------------------------------
ra_args=(--http 127.0.0.1:0 --threads 2 --rate-limit no --max-per-client 2000000
    --max-outstanding 2000000 --expiry 30 --remember 0 --cmp-secret-file "$tmp/mac.txt"
    --log "$tmp/attfresh.access")
if [ "$rand" = hsm ]; then
    export OPENSSL_MODULES=$build/modules AF_P11KIT_PROXY=$(pkg-config --variable=proxy_module p11-kit-1)
    export AF_TEST_TOKEN_LABEL=attfresh-cmp-bench SOFTHSM2_CONF=$tmp/token/softhsm2.conf
    bash "$root/tests/scripts/token-fixture.sh" setup "$tmp/token" >/dev/null
    ra_args+=(--openssl-conf "$tmp/token/openssl.cnf")
else
    ra_args+=(--soft-rand)
fi
"$build/attfresh" serve "${ra_args[@]}" >"$tmp/attfresh.out" 2>"$tmp/attfresh.err" &
pids+=($!)
ra_pid=$!
ra_port=""
for i in $(seq 1 100); do
    ra_port=$(sed -n 's|^http://127.0.0.1:\([0-9]*\)/$|\1|p' "$tmp/attfresh.out")
    [ -n "$ra_port" ] && break
    sleep 0.1
done
[ -n "$ra_port" ] || { echo "attfresh serve did not start:" >&2; cat "$tmp/attfresh.err" >&2; exit 1; }

# ---- the stock mock server (needs a certificate to hand out, unused for genm) -------------------
OPENSSL_CONF=/dev/null openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/mock.key" -out "$tmp/mock.pem" -subj /CN=mock -days 1 2>/dev/null
(cd "$tmp" && OPENSSL_CONF=/dev/null exec openssl cmp -port 0 -srv_secret "file:$tmp/mac.txt" \
    -srv_ref mock -rsp_cert "$tmp/mock.pem" -verbosity 3 >"$tmp/mock.out" 2>"$tmp/mock.err") &
pids+=($!)
mock_pid=$!
mock_port=""
for i in $(seq 1 100); do
    mock_port=$(sed -n 's/^ACCEPT .*:\([0-9]*\) PID=.*/\1/p' "$tmp/mock.out")
    [ -n "$mock_port" ] && break
    sleep 0.1
done
[ -n "$mock_port" ] || { echo "openssl cmp mock server did not start:" >&2; cat "$tmp/mock.err" >&2; exit 1; }

# ---- measure (rows interleaved per repeat; a short warm-up first) --------------------------------
bench() { "$build/bench/bench_cmp" "$1" "$2" "$tmp/mac.txt" "$3" "$conns" "$maxs"; }
bench "$ra_port" /.well-known/cmp 500 >/dev/null
bench "$mock_port" /pkix/ 500 >/dev/null
# server CPU time (user + system, clock ticks) of a process
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# run PID PORT PATH: one measured run; prints the bench line plus the server's CPU per request
run() {
    local t0 t1 line
    t0=$(ticks "$1")
    line=$(bench "$2" "$3" "$requests")
    t1=$(ticks "$1")
    echo "$line  server_cpu_us/req $(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$requests" \
        'BEGIN {printf "%.0f", d * 1e6 / hz / n}')"
}
rate() { sed -n 's/.*requests\/s \([0-9.]*\).*/\1/p'; }
cpu() { sed -n 's/.*server_cpu_us\/req \([0-9]*\).*/\1/p'; }
ours=()
theirs=()
ours_cpu=()
theirs_cpu=()
for r in $(seq 1 "$repeat"); do
    line=$(run "$ra_pid" "$ra_port" /.well-known/cmp)
    echo "run $r attfresh serve:    $line"
    ours+=("$(echo "$line" | rate)")
    ours_cpu+=("$(echo "$line" | cpu)")
    line=$(run "$mock_pid" "$mock_port" /pkix/)
    echo "run $r openssl cmp -port: $line"
    theirs+=("$(echo "$line" | rate)")
    theirs_cpu+=("$(echo "$line" | cpu)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mo=$(median "${ours[@]}")
mt=$(median "${theirs[@]}")
ratio=$(awk -v a="$mo" -v b="$mt" 'BEGIN {printf "%.2f", a / b}')
echo "median requests/s: attfresh serve $mo, openssl cmp mock server $mt, ratio ${ratio}x" \
    "(target >= 3x: $(awk -v r="$ratio" 'BEGIN {print (r >= 3) ? "met" : "NOT met"}'))"
echo "median server CPU per exchange: attfresh serve $(median "${ours_cpu[@]}") us," \
    "openssl cmp mock server $(median "${theirs_cpu[@]}") us"
grep -q 'genp, nonce of 32 bytes' "$tmp/attfresh.access" || { echo "attfresh served no genp?" >&2; exit 1; }
