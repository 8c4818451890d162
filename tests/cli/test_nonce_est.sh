#!/usr/bin/env bash
# test_nonce_est.sh - the EST nonce exchange end to end: `attfresh nonce get --est` against
# `attfresh serve` over HTTPS with a throw-away CA (HSM random on the fixture token): GET and
# POST for all four profiles, the seed's example exchange, the binding cookie and TLS details in
# the state file; failures: untrusted server, 400 (len out of range, wrong shape), 503 (store
# full), wrong Content-Type (openssl s_server -WWW serving a file), client authentication
# required, and a TLS client key in the HSM (pkcs11: URI through attfresh.so). Servers bind
# 127.0.0.1 on free ports and are always stopped.
set -uo pipefail

: "${AF_TEST_TOKEN_DIR:?run through ctest (token fixture)}"
: "${AF_CMD:?run through ctest}"
export OPENSSL_CONF="$AF_TEST_TOKEN_DIR/openssl.cnf"
. "$(dirname "$0")/lib.sh"
af_workdir
cd "$work" || exit 1

tag="est$$"

# start_serve NAME ARGS...: attfresh serve with an HTTPS listener; sets $url (https://...).
start_serve() {
    local name=$1
    shift
    af_serve "$name" https --http 127.0.0.1:0 --https 127.0.0.1:0 --tls-cert srv.pem \
        --tls-key srv.key "$@" || exit 1
}

# ---- a throw-away CA, a server certificate for 127.0.0.1, another CA nobody trusts -------------
# (plain openssl, without the provider configuration: these keys are files)
openssl() { OPENSSL_CONF=/dev/null command openssl "$@"; }
mkcert() { # mkcert NAME SUBJECT EXT: key NAME.key, certificate NAME.pem issued by ca
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -subj "$2" -out "$1.csr" 2>/dev/null &&
        openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
            -extfile <(printf '%b' "$3") -out "$1.pem" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -subj "/CN=$tag test CA" -days 1 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
    -out other.pem -subj "/CN=$tag other CA" -days 1 >/dev/null 2>&1
mkcert srv /CN=localhost 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'
[ -s srv.pem ] || { echo "cannot make the test certificates"; exit 1; }

# ---- our client against our server ----------------------------------------------------------------
start_serve ra --openssl-conf "$OPENSSL_CONF" --rate 1000 --burst 1000
ra=$url
expect_ok "GET (empty request) to the base URL" "$AF_CMD" nonce get --est "$ra" --cafile ca.pem \
    --state get.json --json
if jq -e '.profile == "draft-08" and (.nonces[0].nonce | length) == 64' out.txt >/dev/null; then
    ok "32-byte nonce by default"
else bad "GET output"; cat out.txt; fi
if grep -q "GET /.well-known/est/nonce 200" ra.log; then ok "sent as GET"; else bad "method"; fi
if [ "$(stat -c %a get.json)" = 600 ] && jq -e '.protocol == "est"
        and (.cookie | test("^attfresh-est=[0-9a-f]{32}$")) and (.tls.version | test("^TLSv1"))
        and (.tls.serverCertSha256 | length) == 64 and (.nonce | length) == 64' get.json >/dev/null
then ok "state file 0600 keeps the binding cookie and TLS details"
else bad "state file"; ls -l get.json; cat get.json; fi
fp=$(openssl x509 -in srv.pem -outform DER | openssl dgst -sha256 -r | cut -c1-64)
if [ "$(jq -r .tls.serverCertSha256 get.json)" = "$fp" ]; then
    ok "server certificate SHA-256 in the state matches"
else bad "server certificate digest"; fi

for p in draft-08 rat-e2e draft-06 siemens-ra; do
    expect_ok "POST $p (len 16)" "$AF_CMD" nonce get --est "$ra/.well-known/est/$p" --cafile ca.pem \
        --len 16 --state "st-$p.json" --json
    if jq -e --arg p "$p" '.profile == $p and (.nonces[0].nonce | length) == 32
            and .nonces[0].expiry == 300' out.txt >/dev/null \
        && jq -e '.cookie | startswith("attfresh-est=")' "st-$p.json" >/dev/null
    then ok "$p: 16-byte nonce, cookie kept"; else bad "$p: output"; cat out.txt "st-$p.json"; fi
    if grep -q "POST /.well-known/est/$p/nonce 200" ra.log; then ok "$p: sent as POST"
    else bad "$p: method"; fi
done

# the seed's example exchange (application/json, array, type and hint echoed)
echo '[{"len":8,"type":"1.2.3.4.5","hint":"https://example.com"}]' >seed.json
expect_ok "seed example exchange (draft-06)" "$AF_CMD" nonce get --est "$ra/.well-known/est/draft-06" \
    --cafile ca.pem --request-file seed.json --json
if jq -e '.profile == "draft-06" and (.nonces[0].nonce | length) == 16
        and .nonces[0].type == "1.2.3.4.5"' out.txt >/dev/null; then
    ok "seed response: 8-byte nonce, type echoed"
else bad "seed response"; cat out.txt; fi

# ---- failures ---------------------------------------------------------------------------------
expect_fail "server certificate from an untrusted CA" 'transport failed.*certificate' \
    "$AF_CMD" nonce get --est "$ra" --cafile other.pem
echo '{"len":7}' >len7.json
expect_fail "len 7: HTTP 400" 'HTTP 400 Bad Request' \
    "$AF_CMD" nonce get --est "$ra" --cafile ca.pem --request-file len7.json
echo '{"len":16}' >obj.json
expect_fail "current-shape body to a seed profile: HTTP 400" 'HTTP 400' \
    "$AF_CMD" nonce get --est "$ra/.well-known/est/draft-06" --cafile ca.pem --request-file obj.json
expect_fail "bad EST URL" 'want https://HOST' \
    "$AF_CMD" nonce get --est "$ra/somewhere/else" --cafile ca.pem

start_serve full --soft-rand --max-outstanding 1 --rate 1000 --burst 1000
expect_ok "store not yet full" "$AF_CMD" nonce get --est "$url" --cafile ca.pem
expect_fail "store full: HTTP 503" 'HTTP 503 Service Unavailable.*Retry-After' \
    "$AF_CMD" nonce get --est "$url" --cafile ca.pem

# a server answering 200 with the wrong media type
mkdir -p www/.well-known/est
echo '{"nonce":"AAAAAAAAAAA"}' >www/.well-known/est/nonce
(cd www && exec openssl s_server -WWW -accept 127.0.0.1:0 -cert ../srv.pem -key ../srv.key \
    >../ss.out 2>&1) &
pids+=($!)
sport=""
for i in $(seq 1 100); do
    sport=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' ss.out | head -1)
    [ -n "$sport" ] && break
    sleep 0.1
done
if [ -n "$sport" ]; then
    expect_fail "wrong Content-Type refused" 'wrong media type.*text/plain' \
        "$AF_CMD" nonce get --est "https://127.0.0.1:$sport" --cafile ca.pem
else bad "openssl s_server did not start"; cat ss.out; fi

# ---- TLS client authentication, the client key in the HSM ----------------------------------------
unset -f openssl
if openssl genpkey -propquery provider=attfresh -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt "label:$tag-tls" -out cli-ref.pem >/dev/null 2>err.txt \
    && openssl req -new -key "pkcs11:object=$tag-tls;type=private" -subj "/CN=$tag station" \
        -out cli.csr 2>>err.txt \
    && openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
        -extfile <(echo extendedKeyUsage=clientAuth) -out cli.pem 2>>err.txt; then
    ok "TLS client key made in the token, certificate issued"
else bad "TLS client key in the token"; cat err.txt; fi
start_serve auth --soft-rand --client-ca ca.pem --rate 1000 --burst 1000
expect_fail "client certificate required" 'client authentication' \
    "$AF_CMD" nonce get --est "$url" --cafile ca.pem
expect_ok "TLS client key by pkcs11: URI" "$AF_CMD" nonce get --est "$url" --cafile ca.pem \
    --key "pkcs11:object=$tag-tls;type=private" --cert cli.pem --json
if jq -e '(.nonces[0].nonce | length) == 64' out.txt >/dev/null; then
    ok "nonce over a TLS session authenticated by the HSM key"
else bad "client-authenticated nonce"; cat out.txt; fi

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
