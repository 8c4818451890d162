#!/usr/bin/env bash
# provider.sh - the provider benchmark, one command: builds (Release) attfresh.so, bench_sign and
# p11count.so, makes a throw-away SoftHSM2 token with an EC P-256 and an RSA-2048 key generated in
# it through attfresh, then measures side by side:
#   1. bench_sign: signatures/s and random calls/s, attfresh vs raw PKCS#11 vs default provider,
#      PKCS#11 calls per signature, with the issue's targets checked;
#   2. hyperfine: `openssl req -new` with a token key vs a file key, and an `openssl` process with
#      attfresh configured but unused vs not configured;
#   3. the cross-check: ../shared/tools/p11sign (built in a temp dir) on the same token and keys.
# Not part of the tests. Options through the environment: BUILD (default build), REPEAT (7),
# RUNS (hyperfine runs, 100), THREADS ("1,2"), EC_COUNT (4000), RSA_COUNT (600),
# RAND_COUNT (100000), SKIP_P11SIGN=1, NICE (e.g. -10: run the measurements at that nice level, to
# keep a busy machine's other work from dominating them; negative needs root). Results are also
# kept in bench/results/ (git-ignored).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
repeat=${REPEAT:-7}
runs=${RUNS:-100}
threads=${THREADS:-1,2}
ec_count=${EC_COUNT:-4000}
rsa_count=${RSA_COUNT:-600}
rand_count=${RAND_COUNT:-100000}
label=attfresh-bench
prio=()
[ -n "${NICE:-}" ] && prio=(nice -n "$NICE")
out=$root/bench/results
mkdir -p "$out"

step() { printf '\n### %s\n' "$*"; }
show() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    "$@"
}

echo "provider.sh: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (figures are only as quiet as the machine)"
step "build (Release) into $build"
bash "$root/scripts/deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target attfresh_module bench_sign bench_req_floor p11count

proxy=$(pkg-config --variable=proxy_module p11-kit-1)
tmp=$(mktemp -d /tmp/attfresh-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
tok=$tmp/token
export OPENSSL_MODULES=$build/modules AF_P11KIT_PROXY=$proxy AF_TEST_TOKEN_LABEL=$label
export SOFTHSM2_CONF=$tok/softhsm2.conf

step "throw-away token '$label' and keys generated in it through attfresh"
bash "$root/tests/scripts/token-fixture.sh" setup "$tok"
conf=$tok/openssl.cnf
for spec in "EC bench-ec group:P-256" "RSA bench-rsa bits:2048"; do
    set -- $spec
    OPENSSL_CONF=$conf show openssl genpkey -provider attfresh -provider default -algorithm "$1" \
        -pkeyopt "$3" -pkeyopt "label:$2" -out "$tmp/$2.ref.pem"
done
show openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/file-ec.pem"
ec_uri="pkcs11:token=$label;object=bench-ec;type=private"
rsa_uri="pkcs11:token=$label;object=bench-rsa;type=private"

# Same configuration with the counting module in front of the real one.
sed "s|^pkcs11-module *=.*|pkcs11-module = $build/bench/p11count.so|" "$conf" >"$tmp/count.cnf"
grep -q "p11count.so" "$tmp/count.cnf" || { echo "provider.sh: no pkcs11-module line in $conf" >&2; exit 1; }

step "bench_sign: attfresh vs raw PKCS#11 vs default provider (this takes a minute)"
rc=0
P11COUNT_MODULE=$proxy show "${prio[@]}" "$build/bench/bench_sign" --conf "$conf" --token "$label" \
    --pin-file "$tok/pin" --ec-label bench-ec --rsa-label bench-rsa --module "$proxy" \
    --count-conf "$tmp/count.cnf" --count-module "$build/bench/p11count.so" \
    --threads "$threads" --repeat "$repeat" --ec-count "$ec_count" --rsa-count "$rsa_count" \
    --rand-count "$rand_count" | tee "$out/bench_sign.txt" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "provider.sh: bench_sign failed ($rc)" >&2; exit 1; }

step "hyperfine: openssl req -new (token key vs file key) and the cost of an unused provider"
req=(openssl req -new -subj /CN=bench -out /dev/null)
# The same job without OpenSSL or attfresh: module load, C_Initialize, C_Login, find, one C_Sign.
floor=(--module "$proxy" --token "$label" --pin-file "$tok/pin" --label bench-ec)
# -N: no shell in between, so the URI needs no quoting; env sets the configuration per command.
show "${prio[@]}" hyperfine -N --style basic --warmup 5 --runs "$runs" --export-csv "$out/req.csv" \
    -n "req file key (no provider config)" "env OPENSSL_CONF=/dev/null ${req[*]} -key $tmp/file-ec.pem" \
    -n "req file key (attfresh configured)" "env OPENSSL_CONF=$conf ${req[*]} -key $tmp/file-ec.pem" \
    -n "req token key (through attfresh)" "env OPENSSL_CONF=$conf ${req[*]} -key $ec_uri" \
    -n "raw PKCS#11 floor (load+init+login+sign)" "$build/bench/bench_req_floor ${floor[*]}" \
    -n "raw PKCS#11 floor program start-up" "$build/bench/bench_req_floor ${floor[*]} --baseline" \
    >/dev/null
show "${prio[@]}" hyperfine -N --style basic --warmup 10 --runs $((runs * 3)) --export-csv "$out/startup.csv" \
    -n "rand 16 (no provider config)" "env OPENSSL_CONF=/dev/null openssl rand -hex 16" \
    -n "rand 16 (attfresh configured unused)" "env OPENSSL_CONF=$conf openssl rand -hex 16" \
    >/dev/null
# hyperfine CSV: command,mean,stddev,median,user,system,min,max (seconds); names have no commas
awk -F, 'FNR == 1 { next }
    { name[++n] = $1; med[n] = $4 * 1000; sd[n] = $3 * 1000; mn[n] = $7 * 1000 }
    END {
        printf "%-40s %10s %8s %8s\n", "command", "median ms", "min ms", "stddev"
        for (i = 1; i <= n; i++) printf "%-40s %10.2f %8.2f %8.2f\n", name[i], med[i], mn[i], sd[i]
        printf "\nTargets (issue 2), medians (minimums in brackets):\n"
        r = med[3] / med[1]
        printf "  %-4s %-58s %.2f x (%.2f x)\n", r <= 1.25 ? "ok" : "MISS", \
            "req with token key <= 1.25 x file key (no provider config)", r, mn[3] / mn[1]
        printf "       token key vs file key, both with attfresh configured: %.2f x (%.2f x)\n", \
            med[3] / med[2], mn[3] / mn[2]
        # the token fixed cost a raw PKCS#11 program pays (module load, init, login, one sign)
        fl = med[4] - med[5]
        printf "       token fixed cost (raw floor - its start-up): %.2f ms (%.2f ms)\n", \
            fl, mn[4] - mn[5]
        printf "       best any provider can do, file key + token fixed cost: %.2f x file key\n", \
            (med[1] + fl) / med[1]
        printf "       OpenSSL + attfresh on top of that for the token key: %.2f ms (%.2f ms)\n", \
            med[3] - med[2] - fl, mn[3] - mn[2] - (mn[4] - mn[5])
        d = med[7] - med[6]
        printf "  %-4s %-58s %.3f ms (%.3f ms)\n", d <= 0.2 ? "ok" : "MISS", \
            "configured-but-unused provider adds <= 0.2 ms", d, mn[7] - mn[6]
    }' "$out/req.csv" "$out/startup.csv" | tee "$out/hyperfine.txt"

if [ "${SKIP_P11SIGN:-0}" != 1 ]; then
    step "cross-check with ../shared/tools/p11sign (same token, keys, configuration)"
    src=$root/../shared/tools/p11sign
    if [ -f "$src/p11sign.c" ]; then
        cp -r "$src" "$tmp/p11sign"
        chmod -R u+w "$tmp/p11sign"
        make -s -C "$tmp/p11sign" >/dev/null
        pin=$(cat "$tok/pin")
        # p11sign takes the PIN on its command line; this is the throw-away benchmark token.
        "${prio[@]}" bash "$tmp/p11sign/run-matrix.sh" --bin "$tmp/p11sign/p11sign" --module "$proxy" \
            --token "$label" --pin "$pin" --ec-label bench-ec --rsa-label bench-rsa \
            --ec-uri "$ec_uri" --rsa-uri "$rsa_uri" --prov-conf "$conf" --repeat 3 \
            --ec-count "$ec_count" --rsa-count "$rsa_count" --rand-count "$rand_count" \
            --threads "${threads//,/ }" --out "$out/p11sign.csv" --only '^(raw-token-key|provider-|default-soft|raw-C_Gen)' |
            tee "$out/p11sign.txt"
        for t in ${threads//,/ }; do
            "${prio[@]}" "$tmp/p11sign/p11sign" evprand --conf "$conf" --evp-rand ATTFRESH-RAND \
                --rand-propq provider=attfresh --count "$rand_count" --threads "$t" ||
                echo "p11sign evprand (ATTFRESH-RAND, $t threads) failed"
        done | tee -a "$out/p11sign.txt"
    else
        echo "provider.sh: $src not found; cross-check skipped"
    fi
fi

step "done; results in $out"
echo "provider.sh: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
