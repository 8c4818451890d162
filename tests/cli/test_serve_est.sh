#!/usr/bin/env bash
# test_serve_est.sh - `attfresh serve` end to end with curl as the EST client, on 127.0.0.1 free
# ports: GET/POST, media types, the HttpOnly/Secure binding cookie, 400 (bad JSON, wrong media
# type, len out of range), 413 (oversize body), 404 (unknown path/profile, EST on plain HTTP),
# 503 (store full, rate limit), nonces drawn from the HSM (C_GenerateRandom in the provider's
# trace), TLS client-certificate authentication, a TLS server key in the token (pkcs11: URI),
# the request log (one line per request, no cookie values), clean SIGTERM shutdown.
# Every server is started by this script and always stopped by its trap.
set -uo pipefail
: "${AF_CMD:?}" "${AF_TEST_TOKEN_DIR:?}" "${OPENSSL_MODULES:?}" "${SOFTHSM2_CONF:?}"
base="$AF_TEST_TOKEN_DIR/openssl.cnf"
. "$(dirname "$0")/lib.sh"
af_workdir /tmp/af-cli-serve-XXXXXX
cd "$work" || exit 1
MT='application/est-attestation-freshness+json'

# The fixture's config with the provider's call trace on, to see C_GenerateRandom.
awk -v tracef="$work/p11.log" '{ print } /^\[attfresh_sect\]/ { print "debug-log = " tracef; print "debug-level = trace" }' \
    "$base" >"$work/openssl.cnf"
export OPENSSL_CONF="$work/openssl.cnf"

# Server TLS material (software key) and a client CA with one client certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.pem \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -subj /CN=test-client-ca -days 2 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cli.key -out cli.csr \
    -subj /CN=station 2>/dev/null
openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem -days 2 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem \
    -subj /CN=stranger -days 2 2>/dev/null

# start NAME ARGS...: runs attfresh serve in the background, waits (bounded) until it printed its
# URLs; sets HTTP/HTTPS (ports) and PID.
start() {
    local name=$1
    shift
    af_serve "$name" 'https\?' "$@"
}
stop() { kill -TERM "$1" 2>/dev/null; wait "$1"; }

# req NAME CURL-ARGS...: curl against the HTTPS listener; NAME.h headers, NAME.b body; prints status
req() {
    local name=$1
    shift
    curl -s --cacert srv.pem -D "$name.h" -o "$name.b" -w '%{http_code}' "$@"
}
hdr() { grep -i "^$2:" "$1.h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

# ---- 1. the main server: HSM random, both listeners ---------------------------------------------
start main --http 127.0.0.1:0 --https 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key --max-body 4096
check "server prints its bound ports" test -n "$HTTP" -a -n "$HTTPS"
check "server says it draws from ATTFRESH-RAND" grep -q 'from ATTFRESH-RAND' main.log
E="https://127.0.0.1:$HTTPS/.well-known/est"

before=$(grep -c C_GenerateRandom p11.log 2>/dev/null || echo 0)
s=$(req get -c jar.txt "$E/nonce")
check "GET /nonce: 200 ($s)" test "$s" = 200
check "GET /nonce: Content-Type $MT" test "$(hdr get Content-Type)" = "$MT"
check "GET /nonce: 32-byte base64url nonce, expiry 300" \
    grep -Eq '^\{"nonce":"[A-Za-z0-9_-]{43}","expiry":300\}$' get.b
cookie=$(hdr get Set-Cookie)
check "cookie attfresh-est=<32 hex>" grep -Eq '^attfresh-est=[0-9a-f]{32};' <<<"$cookie"
check "cookie HttpOnly" grep -q '; HttpOnly' <<<"$cookie"
check "cookie Secure" grep -q '; Secure' <<<"$cookie"
check "cookie SameSite=Strict" grep -q '; SameSite=Strict' <<<"$cookie"
check "curl's jar keeps it as an HttpOnly cookie" grep -q '^#HttpOnly_127.0.0.1.*attfresh-est' jar.txt
check "Cache-Control: no-store" test "$(hdr get Cache-Control)" = no-store
after=$(grep -c C_GenerateRandom p11.log 2>/dev/null || echo 0)
check "the nonce came from the HSM (C_GenerateRandom $before -> $after)" test "$after" -gt "$before"
cval=$(sed -n 's/^attfresh-est=\([0-9a-f]*\);.*/\1/p' <<<"$cookie")

s=$(req get2 "$E/nonce")
check "a second GET gets another cookie" test "$(hdr get2 Set-Cookie | cut -d';' -f1)" != "attfresh-est=$cval"
check "... and another nonce" test "$(cat get2.b)" != "$(cat get.b)"

for len in 8 48 64; do
    s=$(req post$len -X POST -H "Content-Type: $MT" --data "{\"len\":$len}" "$E/nonce")
    n=$(python3 -c 'import json,sys,base64; v=json.load(open(sys.argv[1]))["nonce"]; print(len(base64.urlsafe_b64decode(v+"="*(-len(v)%4))))' "post$len.b" 2>/dev/null)
    check "POST len $len: 200 with $len bytes ($s, $n)" test "$s" = 200 -a "$n" = "$len"
done
s=$(req mt -X POST -H "Content-Type: $MT; charset=utf-8" --data '{}' "$E/nonce")
check "POST with media type parameters: 200 ($s)" test "$s" = 200

# 400 without a body
for case in 'len7|{"len":7}' 'len65|{"len":65}' 'json|{"len":' 'dup|{"len":8,"len":9}' \
    'unknown|{"bogus":1}' 'string|{"len":"8"}'; do
    name=${case%%|*}
    data=${case#*|}
    s=$(req bad$name -X POST -H "Content-Type: $MT" --data "$data" "$E/nonce")
    check "POST $data: 400 without body ($s)" test "$s" = 400 -a ! -s "bad$name.b"
done
s=$(req wrongmt -X POST -H 'Content-Type: application/json' --data '{"len":8}' "$E/nonce")
check "POST with application/json: 400 ($s)" test "$s" = 400 -a ! -s wrongmt.b
s=$(req nomt -X POST -H 'Content-Type:' --data-binary '{"len":8}' "$E/nonce")
check "POST without Content-Type: 400 ($s)" test "$s" = 400
s=$(req put -X PUT -H "Content-Type: $MT" --data '{}' "$E/nonce")
check "PUT: 405 ($s) with Allow: GET, POST" test "$s" = 405 -a "$(hdr put Allow)" = "GET, POST"

# 413: announced (Content-Length) and chunked
head -c 5000 /dev/zero | tr '\0' ' ' >big.json
s=$(req big -X POST -H "Content-Type: $MT" --data-binary @big.json "$E/nonce")
check "5000-byte body over --max-body 4096: 413 ($s)" test "$s" = 413
s=$(req bigc -X POST -H "Content-Type: $MT" -H 'Transfer-Encoding: chunked' --data-binary @big.json "$E/nonce")
check "5000-byte chunked body: 413 ($s)" test "$s" = 413

# 404s and the seed profile by label
s=$(req seed "$E/draft-06/nonce")
check "GET /est/draft-06/nonce: 200 application/json ($s)" \
    test "$s" = 200 -a "$(hdr seed Content-Type)" = application/json
check "... seed shape: an array with a padded base64 nonce and RFC 3339 expiry" \
    grep -Eq '^\[\{"nonce":"[A-Za-z0-9+/]{43}=","expiry":"[0-9]{4}-[0-9]{2}-[0-9]{2}T' seed.b
s=$(req label "$E/tpm/nonce")
check "GET /est/tpm/nonce (label): 200 ($s)" test "$s" = 200
for p in "/.well-known/est/a/b/nonce" "/.well-known/est/nonce/x" "/.well-known/cmp/p/bogus" \
    "/cmc/p/bogus" "/.well-known/est/bad%20label/nonce" "/"; do
    s=$(req nf "https://127.0.0.1:$HTTPS$p")
    check "GET $p: 404 ($s)" test "$s" = 404
done
s=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/.well-known/est/nonce")
check "EST on the plain HTTP listener: 404 ($s)" test "$s" = 404
s=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/pkcs7-mime' \
    --data-binary 'junk' "http://127.0.0.1:$HTTP/cmc")
check "CMC on HTTP with a junk body: 400 ($s)" test "$s" = 400

s=$(req inj "https://127.0.0.1:$HTTPS/x%0aFAKE%20LINE%1b")
check "path with an encoded line break: 404 ($s)" test "$s" = 404

# the log: one line per request above, the cookie value never in it
n=$(grep -c ' /\.well-known/est/\| /cmc\| /\.well-known/cmp\| / ' main.log)
check "request log has the requests ($n lines)" test "$n" -ge 25
check "log line shape: time client method path status outcome" \
    grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z 127\.0\.0\.1 GET /\.well-known/est/nonce 200 est draft-08' main.log
check "log gives the reason of a 400" grep -q 'POST /.well-known/est/nonce 400 est: bad request: .*len 65' main.log
check "log never holds the cookie value" bash -c '! grep -q "$1" "$2"' _ "$cval" main.log
check "a client cannot break a log line" bash -c '! grep -q "^FAKE" "$1" && grep -q "GET /x?FAKE LINE? 404" "$1"' _ main.log

stop "$PID"; rc=$?
check "SIGTERM: exit 0 ($rc)" test "$rc" = 0
check "SIGTERM: logged shutdown" grep -q 'SIGTERM, shutting down' main.log
s=$(curl -s -o /dev/null -w '%{http_code}' --cacert srv.pem "$E/nonce")
check "after SIGTERM nothing listens ($s)" test "$s" = 000

# ---- 2. 503: store full, rate limit ----------------------------------------------------------
start full --https 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key --soft-rand --max-outstanding 2
E="https://127.0.0.1:$HTTPS/.well-known/est"
s1=$(req f1 "$E/nonce"); s2=$(req f2 "$E/nonce"); s3=$(req f3 "$E/nonce")
check "store of 2: 200 200 503 ($s1 $s2 $s3)" test "$s1$s2$s3" = 200200503
check "503 has Retry-After and no body" test -n "$(hdr f3 Retry-After)" -a ! -s f3.b
check "503 logged as store full" grep -q '503 est: no nonce: .*full' full.log
stop "$PID"

start rl --https 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key --soft-rand --burst 2 --rate 0.001
E="https://127.0.0.1:$HTTPS/.well-known/est"
s1=$(req r1 "$E/nonce"); s2=$(req r2 "$E/nonce"); s3=$(req r3 "$E/nonce")
check "burst 2: 200 200 503 ($s1 $s2 $s3)" test "$s1$s2$s3" = 200200503
check "503 logged as rate limit" grep -q '503 est: no nonce: .*rate limit' rl.log
stop "$PID"

# ---- 3. empty-nonce policy from a config file --------------------------------------------------
cat >ra.conf <<EOF
# test config
https = 127.0.0.1:0
tls-cert = $work/srv.pem
tls-key = $work/srv.key
soft-rand = yes
empty-nonce-labels = legacy
nonce-len = 16
expiry = 60
EOF
start conf --config ra.conf
E="https://127.0.0.1:$HTTPS/.well-known/est"
s=$(req legacy "$E/legacy/nonce")
check "label 'legacy' answers the empty nonce with 200 ($s)" \
    test "$s" = 200 -a "$(cat legacy.b)" = '{"nonce":""}'
s=$(req c16 "$E/nonce")
check "config nonce-len 16 and expiry 60" grep -Eq '^\{"nonce":"[A-Za-z0-9_-]{22}","expiry":60\}$' c16.b
stop "$PID"
"$AF_CMD" serve --config ra.conf --bogus x >/dev/null 2>bogus.err; rc=$?
check "unknown option: usage error 2 ($rc)" test "$rc" = 2 && grep -q "unknown option '--bogus'" bogus.err
echo "tls-ky = x" >badkey.conf
"$AF_CMD" serve --config badkey.conf >/dev/null 2>badkey.err; rc=$?
check "unknown config key: 2, names file:line and key ($rc)" \
    test "$rc" = 2 && grep -q "badkey.conf:1: unknown setting 'tls-ky'" badkey.err

# ---- 4. TLS client-certificate authentication ------------------------------------------------------
start mtls --https 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key --soft-rand --client-ca ca.pem
E="https://127.0.0.1:$HTTPS/.well-known/est"
s=$(req m1 --cert cli.pem --key cli.key "$E/nonce")
check "client certificate from the CA: 200 ($s)" test "$s" = 200
s=$(req m2 "$E/nonce")
check "no client certificate: 403 ($s)" test "$s" = 403
s=$(req m3 --cert other.pem --key other.key "$E/nonce")
check "client certificate from another CA: refused ($s)" test "$s" = 403 -o "$s" = 000
check "log names the client-certificate failure" grep -q ' 403 client certificate: ' mtls.log
stop "$PID"

# ---- 5. TLS server key in the token (pkcs11: URI through GnuTLS) ---------------------------------
label="ra-tls-$$"
if openssl genpkey -propquery provider=attfresh -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt "label:$label" -out tlsref.pem 2>genkey.err \
    && openssl req -x509 -key "pkcs11:object=$label;type=private" -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -days 2 -out p11.pem 2>req.err; then
    tok=$(cat "$AF_TEST_TOKEN_DIR/pin")
    start p11 --https 127.0.0.1:0 --tls-cert p11.pem \
        --tls-key "pkcs11:token=attfresh-test;object=$label;type=private" \
        --tls-pin-file "$AF_TEST_TOKEN_DIR/pin"
    s=$(curl -s --cacert p11.pem -o p11.b -w '%{http_code}' "https://127.0.0.1:$HTTPS/.well-known/est/nonce")
    check "HTTPS with the server key in the token: 200 ($s)" test "$s" = 200
    check "the PIN is not in the log" bash -c '! grep -qF "$1" "$2"' _ "$tok" p11.log
    stop "$PID"
    echo 00000000 >wrongpin.txt
    "$AF_CMD" serve --https 127.0.0.1:0 --tls-cert p11.pem \
        --tls-key "pkcs11:token=attfresh-test;object=$label;type=private" --tls-pin-file wrongpin.txt \
        >/dev/null 2>wrongpin.err; rc=$?
    check "wrong token PIN: exit 1 with one line ($rc)" test "$rc" = 1 -a "$(wc -l <wrongpin.err)" = 1
    check "... naming the key and the PIN problem" grep -q "cannot use the TLS key pkcs11:.*PIN" wrongpin.err
else
    bad "could not make a token key and certificate for the pkcs11: TLS case"
    cat genkey.err req.err 2>/dev/null
fi

# ---- 6. the nonce store in Redis (a private redis-server on a free port) ---------------------------
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
        >redis-server.log 2>&1 &
    pids+=($!)
    for i in $(seq 1 100); do redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
    start redis --https 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key --soft-rand \
        --redis "127.0.0.1:$rport" --redis-prefix "serve-test"
    s=$(req rd "https://127.0.0.1:$HTTPS/.well-known/est/nonce")
    check "nonce with the store in Redis: 200 ($s)" test "$s" = 200
    check "the RA said it uses Redis" grep -q 'store redis' redis.log
    n=$(redis-cli -p "$rport" --scan --pattern '{serve-test}:*' | wc -l)
    check "Redis holds the nonce's keys under the prefix ($n)" test "$n" -ge 1
    stop "$PID"
    "$AF_CMD" serve --https 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key --soft-rand \
        --redis 127.0.0.1:1 >/dev/null 2>noredis.err; rc=$?
    check "unreachable Redis: exit 1 with the reason ($rc)" \
        test "$rc" = 1 && grep -q 'cannot connect to Redis at 127.0.0.1:1' noredis.err
else
    bad "redis-server/redis-cli not installed (scripts/deps.sh)"
fi

# ---- 7. a missing HSM generator is one clear line -------------------------------------------------
OPENSSL_CONF=/dev/null "$AF_CMD" serve --https 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key \
    >/dev/null 2>norand.err; rc=$?
check "no provider loaded: exit 1 naming ATTFRESH-RAND and --soft-rand ($rc)" \
    test "$rc" = 1 && grep -q 'ATTFRESH-RAND.*--soft-rand' norand.err

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
