#!/usr/bin/env bash
# test_est_tls_binding.sh - EST /simpleenroll bound by the TLS connection instead of the cookie:
# `attfresh serve` with a local CA, the fixture's token for the AK and the device key, and
#  - one TLS connection (a real `openssl s_client` driven by this script as an HTTP/1.1 client):
#    /nonce, then /simpleenroll WITHOUT the cookie on the same connection -> a certificate;
#  - the same CSR without the cookie on a NEW connection (curl) -> 403 naming the binding, the
#    nonce not used up: with the cookie /nonce set (derived from the TLS connection) on yet
#    another connection -> a certificate (the cookie works across connections, as before);
#  - TLS 1.2 (curl --tls-max 1.2; extended master secret) binds the same way;
#  - plain HTTP (--est-on-http) without the cookie -> 403 "no binding cookie and no TLS session
#    binding", with the cookie -> a certificate;
#  - the station (`attfresh enroll --est --state` whose state has no cookie) refuses before
#    sending: no connection of the nonce exchange to continue on; and over http:// likewise;
#  - `attfresh enroll --est` as it is (cookie on the kept connection) still enrolls.
# The request log shows which binding the RA used and never the binding values.
# Servers bind 127.0.0.1 on free ports and are always stopped by the trap.
set -uo pipefail
: "${AF_CMD:?}" "${AF_TEST_TOKEN_DIR:?}" "${AF_TEST_SRC:?}" "${SOFTHSM2_CONF:?}"
export OPENSSL_CONF="$AF_TEST_TOKEN_DIR/openssl.cnf"
export LC_ALL=C # read -N counts bytes
token=${AF_TEST_TOKEN_LABEL:-attfresh-test}
af_numbered=1
af_show_also=out.txt
. "$(dirname "$0")/lib.sh"
af_fail_want=1
af_workdir /tmp/af-cli-esttls-XXXXXX
cd "$work" || exit 1
check() { expect_ok "$@"; }
expect_fail() { expect_fail_line "$@"; }
log_has() { # log_has SERVER REGEX
    if grep -q -- "$2" "$1.log"; then ok "$1 log: $2"; else bad "$1 log lacks '$2'"; tail -5 "$1.log"; fi
}

tag=$$
# ---- the station: AK certified by a throw-away AK CA, a device key in the token -----------------
check "AK CA" bash "$AF_TEST_SRC/scripts/mkca.sh" akca "EST TLS binding test AK CA"
check "ak init" "$AF_CMD" ak init --token "$token" --label "tb-ak-$tag" --ca-cert akca/ca.pem \
    --ca-key akca/ca.key --out ak.pem
ak="pkcs11:token=$token;object=tb-ak-$tag"
check "device key in the token" openssl genpkey -provider attfresh -provider default \
    -algorithm EC -pkeyopt group:P-256 -pkeyopt label:"tb-dev-$tag" -out dev-ref.pem
dev="pkcs11:token=$token;object=tb-dev-$tag"

# ---- the RA: a software CA, TLS for EST, EST also on the plain listener ------------------------
check "RA CA" bash "$AF_TEST_SRC/scripts/mkca.sh" raca "EST TLS binding test RA CA"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.pem \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 2>/dev/null
af_serve ra http --http 127.0.0.1:0 --https 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key \
    --est-on-http --rate 1000 --burst 1000 --ca-cert raca/ca.pem --ca-key raca/ca.key \
    --ak-trust akca/ca.pem || { echo "Bail out! no RA"; exit 1; }
EST="https://127.0.0.1:$HTTPS"
ESTH="http://127.0.0.1:$HTTP"
ENROLL=/.well-known/est/simpleenroll

# ---- helpers ------------------------------------------------------------------------------------
# tls_open: one TLS connection to the RA (openssl s_client as a coprocess, server verified;
# -no_ign_eof: it closes the connection when tls_close closes its input).
tls_open() {
    coproc TLS { exec openssl s_client -quiet -no_ign_eof -nocommands -connect "127.0.0.1:$HTTPS" \
        -CAfile srv.pem -verify_return_error "$@" 2>tls.err; }
}
tls_close() {
    exec {TLS[1]}>&-
    wait "$TLS_PID" 2>/dev/null
}
# tls_req METHOD PATH [BODYFILE]: one HTTP/1.1 request (no cookie) on the open connection; the
# status into $st, the headers into resp.h, the body into resp.b.
tls_req() {
    local line len=0 body=""
    {
        printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n' "$1" "$2"
        if [ -n "${3:-}" ]; then
            printf 'Content-Type: application/pkcs10\r\nContent-Length: %s\r\n\r\n' "$(stat -c %s "$3")"
            cat "$3"
        else
            printf '\r\n'
        fi
    } >&"${TLS[1]}"
    st=""
    : >resp.h
    while IFS= read -r -t 10 line <&"${TLS[0]}"; do
        line=${line%$'\r'}
        [ -z "$line" ] && break
        printf '%s\n' "$line" >>resp.h
        [ -z "$st" ] && st=$(printf '%s' "$line" | cut -d' ' -f2)
        case ${line,,} in content-length:*) len=${line#*:} && len=${len// /} ;; esac
    done
    [ "$len" -gt 0 ] && IFS= read -r -N "$len" -t 10 body <&"${TLS[0]}"
    printf '%s' "$body" >resp.b
}
# nonce_hex JSONFILE: the nonce (base64url in the JSON) in hex
nonce_hex() {
    local s
    s=$(jq -r .nonce "$1" | tr '_-' '/+')
    while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
    printf '%s' "$s" | base64 -d | od -An -tx1 | tr -d ' \n'
}
# csr NONCEHEX CN OUT: attested CSR (base64 DER, as /simpleenroll takes it) for the device key
csr() {
    "$AF_CMD" csr --key "$dev" --subj "/CN=$2-$tag" --attest --ak "$ak" --ak-cert ak.pem \
        --nonce "$1" --der --out "$3.der" 2>err.txt || { bad "csr $2"; cat err.txt; }
    base64 -w 64 "$3.der" >"$3"
}
# issued B64FILE WHAT: the answer is a certs-only PKCS#7 whose certificate verifies
issued() {
    if base64 -d "$1" >"$1.p7" 2>/dev/null &&
        openssl pkcs7 -inform DER -in "$1.p7" -print_certs -out "$1.pem" 2>/dev/null &&
        openssl verify -CAfile raca/ca.pem "$1.pem" >/dev/null 2>&1; then
        ok "$2: the certificate verifies against the RA's CA"
    else
        bad "$2: no verifying certificate in the answer"
    fi
}
# curl_enroll URL B64FILE OUT [COOKIE]: /simpleenroll on a new connection; prints the status
curl_enroll() {
    curl -s --cacert srv.pem -o "$3" -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
        ${4:+-b "$4"} --data-binary @"$2" "$1$ENROLL"
}

# ---- 1. /nonce and /simpleenroll without the cookie on one TLS connection -----------------------
tls_open
tls_req GET /.well-known/est/nonce
cp resp.b n1.json
cookie1=$(sed -n 's/^Set-Cookie: \(attfresh-est=[0-9a-f]*\);.*/\1/p' resp.h)
[ "$st" = 200 ] && [ -n "$cookie1" ] && ok "nonce over TLS: 200 with the cookie" ||
    { bad "nonce over TLS: HTTP $st"; cat resp.h tls.err; }
csr "$(nonce_hex n1.json)" same s1.b64
tls_req POST "$ENROLL" s1.b64
if [ "$st" = 200 ]; then ok "simpleenroll without the cookie on the same TLS connection: 200"
else bad "simpleenroll without the cookie on the same TLS connection: HTTP $st $(cat resp.b)"; fi
cp resp.b s1.out
issued s1.out "same TLS connection, no cookie"
log_has ra "est simpleenroll: issued .*CN=same-$tag (bound by the TLS connection)"
# another nonce on the same connection is bound to the same connection
tls_req GET /.well-known/est/nonce
cp resp.b n2.json
cookie2=$(sed -n 's/^Set-Cookie: \(attfresh-est=[0-9a-f]*\);.*/\1/p' resp.h)
[ "$cookie2" = "$cookie1" ] && ok "a second /nonce on the connection: the same binding value" ||
    bad "second /nonce: cookie $cookie2 differs from $cookie1"
tls_close

# ---- 2. the same without the cookie on a NEW connection: refused, nonce kept --------------------
csr "$(nonce_hex n2.json)" newconn s2.b64
s=$(curl_enroll "$EST" s2.b64 s2.out)
if [ "$s" = 403 ] &&
    grep -q "^nonce: the request is not bound to a transaction that got a nonce: no binding cookie, and the nonce was not issued on this TLS connection" s2.out; then
    ok "no cookie on a new TLS connection: 403 $(cat s2.out)"
else bad "no cookie on a new TLS connection: HTTP $s $(cat s2.out)"; fi
log_has ra "est simpleenroll: 403 nonce: .*not issued on this TLS connection"

# ---- 3. with the (connection-derived) cookie on a new connection: still works -------------------
s=$(curl_enroll "$EST" s2.b64 s3.out "$cookie2")
[ "$s" = 200 ] && ok "with the cookie on a new TLS connection: 200" ||
    bad "with the cookie on a new TLS connection: HTTP $s $(cat s3.out)"
issued s3.out "cookie on a new connection"
log_has ra "est simpleenroll: issued .*CN=newconn-$tag (bound by the cookie)"
s=$(curl_enroll "$EST" s2.b64 s3r.out "$cookie2")
[ "$s" = 403 ] && grep -q "^nonce: nonce already used" s3r.out && ok "replay: 403 $(cat s3r.out)" ||
    bad "replay: HTTP $s $(cat s3r.out)"

# ---- 4. TLS 1.2 (with extended master secret): /nonce and /simpleenroll on one connection -------
# curl does both in one run over one connection; the nonce of the first request is not known
# before, so the CSR carries the nonce of an earlier /nonce and only the binding is looked at:
# same TLS 1.2 connection -> the RA's binding value equals the cookie of its /nonce.
c12a=$(curl -s --cacert srv.pem --tls-max 1.2 -D - -o /dev/null "$EST/.well-known/est/nonce" \
    "$EST/.well-known/est/nonce" | sed -n 's/^Set-Cookie: \(attfresh-est=[0-9a-f]*\);.*/\1/p' | tr -d '\r' | sort -u)
c12b=$(curl -s --cacert srv.pem --tls-max 1.2 -D - -o /dev/null "$EST/.well-known/est/nonce" |
    sed -n 's/^Set-Cookie: \(attfresh-est=[0-9a-f]*\);.*/\1/p')
if [ "$(printf '%s\n' "$c12a" | wc -l)" = 1 ] && [ -n "$c12a" ] && [ "$c12a" != "$c12b" ]; then
    ok "TLS 1.2: one binding value per connection (two /nonce on one, another on the next)"
else bad "TLS 1.2 binding values: '$c12a' vs '$c12b'"; fi

# ---- 5. plain HTTP (--est-on-http): no TLS binding, the cookie is the only binding --------------
curl -s -D nh.h -o nh.json "$ESTH/.well-known/est/nonce" || bad "nonce over plain HTTP"
cookieh=$(sed -n 's/^Set-Cookie: \(attfresh-est=[0-9a-f]*\);.*/\1/p' nh.h)
csr "$(nonce_hex nh.json)" plain s5.b64
s=$(curl_enroll "$ESTH" s5.b64 s5.out)
if [ "$s" = 403 ] &&
    grep -q "^nonce: the request is not bound to a transaction that got a nonce: no binding cookie and no TLS session binding" s5.out; then
    ok "plain HTTP without the cookie: 403 $(cat s5.out)"
else bad "plain HTTP without the cookie: HTTP $s $(cat s5.out)"; fi
s=$(curl_enroll "$ESTH" s5.b64 s5c.out "$cookieh")
[ "$s" = 200 ] && ok "plain HTTP with the cookie: 200" || bad "plain HTTP with the cookie: HTTP $s $(cat s5c.out)"
issued s5c.out "plain HTTP with the cookie"

# ---- 6. the station ------------------------------------------------------------------------------
check "enroll over EST (cookie on the kept connection)" "$AF_CMD" enroll --est "$EST" \
    --cafile srv.pem --key "$dev" --ak "$ak" --ak-cert ak.pem --subj "/CN=station-$tag" \
    --out st.pem
openssl verify -CAfile raca/ca.pem st.pem >/dev/null 2>&1 && ok "station's certificate verifies" ||
    bad "station's certificate"
check "nonce get --state (EST)" "$AF_CMD" nonce get --est "$EST" --cafile srv.pem --state stE.json
jq 'del(.cookie)' stE.json >stE-nocookie.json
jq -e 'has("cookie") | not' stE-nocookie.json >/dev/null && ok "state without the cookie" ||
    bad "jq: cookie still in the state"
expect_fail "station: saved state without the cookie" \
    "EST: no binding cookie from the nonce exchange, and its TLS connection is not here to continue on" \
    "$AF_CMD" enroll --est "$EST" --cafile srv.pem --state stE-nocookie.json --key "$dev" \
    --ak "$ak" --ak-cert ak.pem --subj "/CN=nocookie-$tag" --out nocookie.pem
[ ! -e nocookie.pem ] && ok "nothing written" || bad "nocookie.pem written"
check "nonce get --state (EST over plain HTTP)" "$AF_CMD" nonce get --est "$ESTH" --state stH.json
jq 'del(.cookie)' stH.json >stH-nocookie.json
expect_fail "station: plain HTTP without the cookie" \
    "EST: no binding cookie from the nonce exchange, and over plain HTTP there is no TLS connection" \
    "$AF_CMD" enroll --est "$ESTH" --state stH-nocookie.json --key "$dev" \
    --ak "$ak" --ak-cert ak.pem --subj "/CN=nocookieh-$tag" --out nocookieh.pem
check "the saved state with its cookie still enrolls" "$AF_CMD" enroll --est "$EST" \
    --cafile srv.pem --state stE.json --key "$dev" --ak "$ak" --ak-cert ak.pem \
    --subj "/CN=withcookie-$tag" --out withcookie.pem

# the binding values never reach the log
leaked=0
for c in "$cookie1" "$cookie2" "$cookieh"; do
    v=${c#attfresh-est=}
    if [ -n "$v" ] && grep -q "$v" ra.log; then leaked=1 && bad "binding value $v in the request log"; fi
done
[ "$leaked" = 0 ] && ok "no binding value in the request log"

echo "1..$n"
[ "$fails" -eq 0 ]
