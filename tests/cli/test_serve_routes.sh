#!/usr/bin/env bash
# test_serve_routes.sh - the CMP and CMC paths of `attfresh serve` with real clients on 127.0.0.1
# free ports: stock `openssl cmp -cmd genm` (PBM, the provider loaded for the OID names) on
# /.well-known/cmp, .../getnonce and .../p/<profile>/getnonce, each answered in its profile's
# response infoType; `attfresh nonce get --cmc` on /cmc and /cmc/p/<profile>; unknown profiles and
# paths 404; one log line per request. The server is always stopped by the trap.
set -uo pipefail
: "${AF_CMD:?}" "${AF_TEST_TOKEN_DIR:?}" "${OPENSSL_MODULES:?}" "${SOFTHSM2_CONF:?}"
export OPENSSL_CONF="$AF_TEST_TOKEN_DIR/openssl.cnf"
. "$(dirname "$0")/lib.sh"
af_workdir /tmp/af-cli-routes-XXXXXX
cd "$work" || exit 1

umask 077
printf 'route-test-secret\n' >secret.txt
af_serve serve http --http 127.0.0.1:0 --cmp-secret-file secret.txt
pid=$PID
port=$HTTP
check "server started and printed its port ($port)" test -n "$port"

# genm PATH INFOTYPE -> openssl cmp's output in genm.txt, exit code returned
genm() {
    timeout 60 openssl cmp -cmd genm -server "127.0.0.1:$port" -path "$1" -infotype "${2#id-it-}" \
        -ref route-test -secret file:secret.txt >genm.txt 2>&1
}
for route in ".well-known/cmp|id-it-nonceRequest|id-it-nonceResponse" \
    ".well-known/cmp/getnonce|id-it-nonceRequest|id-it-nonceResponse" \
    ".well-known/cmp/p/draft-08/getnonce|id-it-nonceRequest|id-it-nonceResponse" \
    ".well-known/cmp/p/rat-e2e/getnonce|id-it-ratNonceRequest|id-it-ratNonceResponse" \
    ".well-known/cmp/p/draft-06|id-it-ratNonceRequest|id-it-ratNonceResponse" \
    ".well-known/cmp/p/siemens-ra/getnonce|id-it-nonceResponse|id-it-siemensNonceResponse"; do
    IFS='|' read -r path req resp <<<"$route"
    genm "$path" "$req"; rc=$?
    check "openssl cmp genm /$path ($req): exit 0 ($rc)" test "$rc" = 0
    check "... genp carries $resp" grep -q "genp contains ITAV of type: $resp\$" genm.txt
done
genm ".well-known/cmp/p/bogus/getnonce" id-it-nonceRequest; rc=$?
check "unknown CMP profile: openssl cmp fails ($rc) on HTTP 404" \
    test "$rc" != 0 && grep -qi "404\|not found" genm.txt

for path in /cmc /cmc/p/draft-08 /cmc/p/rat-e2e /cmc/p/draft-06 /cmc/p/siemens-ra; do
    profile=${path#/cmc/p/}
    [ "$profile" = /cmc ] && profile=draft-08
    timeout 60 "$AF_CMD" nonce get --cmc "http://127.0.0.1:$port$path" --profile "$profile" \
        --len 24 --state "st-$profile.json" >cmc.txt 2>&1; rc=$?
    check "nonce get --cmc $path ($profile): exit 0 ($rc)" test "$rc" = 0
    check "... a 24-byte nonce" grep -Eq '^nonce: [0-9a-f]{48}$' cmc.txt
done
timeout 60 "$AF_CMD" nonce get --cmc "http://127.0.0.1:$port/cmc/p/bogus" >cmc.txt 2>&1; rc=$?
check "unknown CMC profile: exit 1 ($rc) naming HTTP 404" test "$rc" = 1 && grep -q 'HTTP 404' cmc.txt
s=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/cmc/p/draft-08/extra")
check "path below a CMC profile: 404 ($s)" test "$s" = 404
s=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/.well-known/cmp/getnonce/x")
check "path below getnonce: 404 ($s)" test "$s" = 404
s=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/cmc)
check "GET /cmc: 405 ($s)" test "$s" = 405

n=$(grep -c ' 127\.0\.0\.1 \(POST\|GET\) /' serve.log)
check "one log line per request ($n)" test "$n" = 16
check "the CMP secret is not in the log" bash -c '! grep -q route-test-secret "$1"' _ serve.log

kill -TERM "$pid"; wait "$pid"; rc=$?
pids=()
check "SIGTERM: exit 0 ($rc)" test "$rc" = 0

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    cat serve.log
    exit 1
fi
echo "all checks passed"
