#!/usr/bin/env bash
# enroll.sh - the enrollment benchmark, one command: builds (Release) attfresh.so, bench_enroll and
# p11count.so, makes a throw-away SoftHSM2 token with an AK (certified by a throw-away AK CA), a
# device key and the RA's CA key generated in it, then runs bench_enroll: enrollments/s through the
# whole flow (nonce, Evidence, CSR, certificate) over CMP p10cr, CMP ir, EST and CMC, and the
# share of the token's signing (C_Sign per enrollment, counted by p11count.so, times the token's
# own signing time) against the rest. Target (issue 5): rest <= token signing.
# Not part of the tests. Environment: BUILD (default build), COUNT (enrollments per protocol, 300),
# KEEP=1 keeps the token directory, ONLY="CMP p10cr"|"CMP ir"|EST|CMC runs one protocol row,
# KEEP_OPTS=1 uses one set of station options for all enrollments (kept connections) instead of
# new options per enrollment (one station run each: a new connection and TLS handshake).
# Results are also kept in bench/results/enroll.txt (git-ignored).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
count=${COUNT:-300}
label=attfresh-bench
out=$root/bench/results
mkdir -p "$out"

step() { printf '\n### %s\n' "$*"; }
show() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    "$@"
}

echo "enroll.sh: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (figures are only as quiet as the machine)"
step "build (Release) into $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target attfresh_module attfresh_cmd bench_enroll p11count >/dev/null

proxy=$(pkg-config --variable=proxy_module p11-kit-1)
tmp=$(mktemp -d /tmp/af-bench-enroll-XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
export OPENSSL_MODULES=$build/modules
export SOFTHSM2_CONF=$tmp/token/softhsm2.conf
export AF_TEST_TOKEN_LABEL=$label

step "throw-away token '$label': AK, device key and RA CA key generated in it"
bash "$root/tests/scripts/token-fixture.sh" setup "$tmp/token"
conf=$tmp/token/openssl.cnf
export OPENSSL_CONF=$conf
bash "$root/scripts/mkca.sh" "$tmp/akca" "bench AK CA" >/dev/null
show "$build/attfresh" ak init --token "$label" --label bench-ak --ca-cert "$tmp/akca/ca.pem" \
    --ca-key "$tmp/akca/ca.key" --out "$tmp/ak.pem" >/dev/null
for k in bench-dev bench-raca; do
    show openssl genpkey -provider attfresh -provider default -algorithm EC -pkeyopt group:P-256 \
        -pkeyopt label:$k -out "$tmp/$k-ref.pem"
done
raca="pkcs11:token=$label;object=bench-raca"
openssl req -x509 -new -key "$raca" -subj "/CN=bench RA CA" -days 2 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -out "$tmp/raca.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/srv.key" \
    -out "$tmp/srv.pem" -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 2>/dev/null

# Same configuration with the counting module in front of the real one.
sed "s|^pkcs11-module *=.*|pkcs11-module = $build/bench/p11count.so|" "$conf" >"$tmp/count.cnf"
grep -q "p11count.so" "$tmp/count.cnf" || { echo "enroll.sh: no pkcs11-module line in $conf" >&2; exit 1; }

step "bench_enroll: $count enrollments per protocol"
rc=0
P11COUNT_MODULE=$proxy show "$build/bench/bench_enroll" ${KEEP_OPTS:+--keep-opts} --conf "$tmp/count.cnf" \
    --count-module "$build/bench/p11count.so" --count "$count" \
    --ca-cert "$tmp/raca.pem" --ca-key "$raca" --ak-trust "$tmp/akca/ca.pem" \
    --ak "pkcs11:token=$label;object=bench-ak" --ak-cert "$tmp/ak.pem" \
    --key "pkcs11:token=$label;object=bench-dev" --tls-cert "$tmp/srv.pem" --tls-key "$tmp/srv.key" \
    ${ONLY:+--only "$ONLY"} \
    | tee "$out/enroll.txt" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "enroll.sh: bench_enroll failed ($rc)" >&2; exit 1; }
exit "$rc"
