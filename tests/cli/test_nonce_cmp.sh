#!/usr/bin/env bash
# test_nonce_cmp.sh - the CMP nonce exchange end to end: `attfresh nonce get --cmp` against
# `attfresh serve` (HSM random on the fixture token) for all four profiles and the state file;
# stock `openssl cmp -cmd genm -infotype nonceRequest` against our server; our client against a
# stock `openssl cmp` mock server ("no nonce response"); and the failures: wrong MAC secret,
# len out of range, bad request encoding, unknown profile path, malformed/oversize/mistyped
# bodies, store full, rate limit. Servers bind 127.0.0.1 on free ports (the stock mock server can
# only bind all interfaces) and are always stopped.
set -uo pipefail

: "${AF_TEST_TOKEN_DIR:?run through ctest (token fixture)}"
: "${AF_CMD:?run through ctest}"
cnf="$AF_TEST_TOKEN_DIR/openssl.cnf"
. "$(dirname "$0")/lib.sh"
af_workdir
cd "$work" || exit 1

# start_serve NAME ARGS...: runs attfresh serve on 127.0.0.1:0; sets $url to its http:// URL.
start_serve() {
    local name=$1
    shift
    af_serve "$name" http --http 127.0.0.1:0 "$@" || exit 1
}

# server log has a line matching REGEX
log_has() { grep -Eq -- "$2" "$1.log"; }

umask 077
echo "cmp-mac-$$-secret" >mac.txt
echo "not-the-secret" >wrong.txt
printf '\x30\x03\x02\x01\x07' >len7.der  # NonceRequest {len 7}
printf '\x30\x03\x02\x01\x41' >len65.der # NonceRequest {len 65}
printf '\x04\x02\x00\x00' >octets.der    # an OCTET STRING where a NonceRequest belongs

# ---- our client against our server, HSM random ---------------------------------------------------
start_serve ra --openssl-conf "$cnf" --cmp-secret-file mac.txt --rate 1000 --burst 1000
ra=$url
for p in draft-08 rat-e2e draft-06 siemens-ra; do
    expect_ok "get $p nonce (len 16)" "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp/p/$p/getnonce" \
        --secret-file mac.txt --ref station1 --len 16 --state "st-$p.json" --json
    if jq -e --arg p "$p" '.profile == $p and (.nonces | length) == 1
            and (.nonces[0].nonce | length) == 32 and .nonces[0].expiry == 300' out.txt >/dev/null
    then ok "$p: 16-byte nonce, expiry 300 s"; else bad "$p: output"; cat out.txt; fi
    if [ "$(stat -c %a "st-$p.json")" = 600 ] \
        && jq -e --arg p "$p" --slurpfile o out.txt '.protocol == "cmp" and .profile == $p
            and (.transactionID | length) == 32 and (.senderNonce | length) == 32
            and (.serverNonce | length) == 32 and .transactionID == $o[0].transactionID
            and .nonce == $o[0].nonces[0].nonce and .expiry > .created' "st-$p.json" >/dev/null
    then ok "$p: state file 0600 with transactionID, both nonces, the nonce and expiry"
    else bad "$p: state file"; ls -l "st-$p.json"; cat "st-$p.json"; fi
done
if log_has ra 'cmp siemens-ra: genp, nonce of 16 bytes'; then ok "server logged the siemens-ra genp"
else bad "server log"; cat ra.log; fi
if ! grep -q "cmp-mac-$$" ra.log; then ok "no secret in the server log"; else bad "secret logged"; fi

AF_TEST_MAC="cmp-mac-$$-secret" expect_ok "secret from the environment, default path" \
    "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp" --secret-env AF_TEST_MAC --ref station1 --json
if jq -e '.profile == "draft-08" and (.nonces[0].nonce | length) == 64' out.txt >/dev/null; then
    ok "draft-08 and 32 bytes by default"
else bad "defaults"; cat out.txt; fi
expect_ok "text output" "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp/getnonce" \
    --secret-file mac.txt --ref station1 --len 8
if grep -Eq '^nonce: [0-9a-f]{16}$' out.txt && grep -q '^expiry: 300 s (until ' out.txt; then
    ok "text output has nonce and expiry"
else bad "text output"; cat out.txt; fi

# ---- stock openssl cmp as the client ---------------------------------------------------------
hostport=${ra#http://}
expect_ok "stock openssl cmp genm -infotype nonceRequest accepts our PBM genp" \
    env OPENSSL_CONF="$cnf" openssl cmp -cmd genm -infotype nonceRequest -server "$hostport" \
    -path .well-known/cmp/getnonce -secret file:mac.txt -ref station1 -recipient /CN=attfresh-ra
if grep -q 'genp contains ITAV of type: id-it-nonceResponse' err.txt out.txt; then
    ok "stock client saw id-it-nonceResponse"
else bad "stock client output"; cat out.txt err.txt; fi
if log_has ra 'POST /.well-known/cmp/getnonce 200 cmp draft-08: genp'; then
    ok "absent infoValue answered as the empty request"
else bad "absent infoValue"; tail -3 ra.log; fi
if env OPENSSL_CONF="$cnf" openssl cmp -cmd genm -infotype nonceRequest -server "$hostport" \
    -path .well-known/cmp -secret file:wrong.txt -ref station1 -recipient /CN=attfresh-ra \
    >out.txt 2>err.txt; then
    bad "stock client with a wrong secret succeeded"
else ok "stock client with a wrong secret fails"; fi

# ---- failures against our server -------------------------------------------------------------
expect_fail "wrong MAC secret" 'protection.*wrong pbm value' \
    "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp" --secret-file wrong.txt --ref station1
if log_has ra 'error badMessageCheck: request refused: wrong pbm value'; then
    ok "server answered badMessageCheck"
else bad "server failInfo for the wrong secret"; tail -3 ra.log; fi
expect_fail "len 7 refused" 'rejection; PKIFailureInfo: badRequest.*len.*out of range' \
    "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp" --secret-file mac.txt --ref station1 \
    --request-file len7.der
expect_fail "len 65 refused" 'PKIFailureInfo: badRequest.*out of range' \
    "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp" --secret-file mac.txt --ref station1 \
    --request-file len65.der
expect_fail "request of the wrong type" 'PKIFailureInfo: badDataFormat' \
    "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp" --secret-file mac.txt --ref station1 \
    --request-file octets.der
expect_fail "len 7 refused by the client before sending" 'len 7 outside 8..64' \
    "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp" --secret-file mac.txt --ref station1 --len 7
expect_fail "unknown profile path" 'HTTP error.*code=404' \
    "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp/p/no-such/getnonce" --secret-file mac.txt \
    --ref station1
expect_fail "request profile differs from the path's" 'badRequest.*no nonce request' \
    "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp/p/siemens-ra" --profile draft-08 \
    --secret-file mac.txt --ref station1
for form in --secret=abc "--secret abc"; do
    # shellcheck disable=SC2086
    "$AF_CMD" nonce get --cmp "$ra/.well-known/cmp" $form --ref station1 >out.txt 2>err.txt
    rc=$?
    if [ "$rc" -eq 2 ] && grep -q 'never go on the command line' err.txt; then
        ok "$form refused as a usage error"
    else bad "$form: exit $rc"; cat err.txt; fi
done

# transfer-level failures, with curl as a raw HTTP client
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
c=$(code -X POST -H 'Content-Type: application/pkixcmp' --data-binary 'not a PKIMessage' \
    "$ra/.well-known/cmp")
[ "$c" = 400 ] && ok "malformed body: HTTP 400" || bad "malformed body: HTTP $c"
head -c 70000 /dev/zero >big.bin
c=$(code -X POST -H 'Content-Type: application/pkixcmp' --data-binary @big.bin "$ra/.well-known/cmp")
[ "$c" = 413 ] && ok "oversize body: HTTP 413" || bad "oversize body: HTTP $c"
c=$(code -X POST -H 'Content-Type: text/plain' --data-binary @len7.der "$ra/.well-known/cmp")
[ "$c" = 415 ] && ok "wrong Content-Type: HTTP 415" || bad "wrong Content-Type: HTTP $c"
c=$(code "$ra/.well-known/cmp")
[ "$c" = 405 ] && ok "GET: HTTP 405" || bad "GET: HTTP $c"
c=$(code -X POST -H 'Content-Type: application/pkixcmp' --data-binary @len7.der \
    "$ra/.well-known/cmp/p/no-such")
[ "$c" = 404 ] && ok "unknown profile path: HTTP 404" || bad "unknown profile path: HTTP $c"

# ---- bounded state: store full and rate limit -------------------------------------------------
start_serve full --soft-rand --cmp-secret-file mac.txt --max-outstanding 2 --rate 1000 --burst 1000
for i in 1 2; do
    expect_ok "store not yet full ($i)" "$AF_CMD" nonce get --cmp "$url/.well-known/cmp" \
        --secret-file mac.txt --ref station1
done
expect_fail "store full" 'PKIFailureInfo: systemUnavail' \
    "$AF_CMD" nonce get --cmp "$url/.well-known/cmp" --secret-file mac.txt --ref station1

start_serve slow --soft-rand --cmp-secret-file mac.txt --rate 0.01 --burst 1
expect_ok "within the rate" "$AF_CMD" nonce get --cmp "$url/.well-known/cmp" \
    --secret-file mac.txt --ref station1
expect_fail "rate limit hit" 'PKIFailureInfo: systemUnavail' \
    "$AF_CMD" nonce get --cmp "$url/.well-known/cmp" --secret-file mac.txt --ref station1

# ---- signature protection: the station's key in the HSM, the RA's in a file ---------------------
pem() { OPENSSL_CONF=/dev/null openssl "$@"; }
pem req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -subj "/CN=cmp test CA $$" -days 1 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,digitalSignature >/dev/null 2>&1
pem req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem \
    -subj "/CN=other CA $$" -days 1 >/dev/null 2>&1
pem req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ra.key -out ra.csr \
    -subj /CN=attfresh-ra >/dev/null 2>&1
pem x509 -req -in ra.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out ra.pem \
    -extfile <(echo keyUsage=critical,digitalSignature) >/dev/null 2>&1
if env OPENSSL_CONF="$cnf" openssl genpkey -propquery provider=attfresh -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt "label:cmp$$" -out st-ref.pem >/dev/null 2>err.txt \
    && env OPENSSL_CONF="$cnf" openssl req -new -key "pkcs11:object=cmp$$;type=private" \
        -subj "/CN=station cmp$$" -out st.csr 2>>err.txt \
    && pem x509 -req -in st.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out st.pem \
        -extfile <(echo keyUsage=critical,digitalSignature) 2>>err.txt; then
    ok "station key made in the token, certificate issued"
else bad "station key in the token"; cat err.txt; fi
start_serve sig --soft-rand --cmp-key ra.key --cmp-cert ra.pem --cmp-trust ca.pem \
    --rate 1000 --burst 1000
for i in 1 2; do
    expect_ok "signature-protected genm by an HSM key, signed genp ($i)" env OPENSSL_CONF="$cnf" \
        "$AF_CMD" nonce get --cmp "$url/.well-known/cmp" \
        --key "pkcs11:object=cmp$$;type=private" --cert st.pem --trusted ca.pem --json
done
if jq -e '(.nonces[0].nonce | length) == 64' out.txt >/dev/null; then ok "signed exchange nonce"
else bad "signed exchange output"; cat out.txt; fi
expect_fail "genp signer not trusted" 'protection not accepted' env OPENSSL_CONF="$cnf" \
    "$AF_CMD" nonce get --cmp "$url/.well-known/cmp" --key "pkcs11:object=cmp$$;type=private" \
    --cert st.pem --trusted other.pem
expect_fail "no protection chosen" 'no protection' \
    "$AF_CMD" nonce get --cmp "$url/.well-known/cmp"
expect_fail "missing --trusted file" 'cannot open certificate file nope.pem' \
    "$AF_CMD" nonce get --cmp "$url/.well-known/cmp" --secret-file mac.txt --ref x --trusted nope.pem

# ---- our client against the stock openssl cmp mock server ---------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mock.key \
    -out mock.pem -subj /CN=mock -days 1 >/dev/null 2>&1
openssl cmp -port 0 -srv_secret file:mac.txt -srv_ref mock -rsp_cert mock.pem \
    >mock.out 2>mock.log &
pids+=($!)
mport=""
for i in $(seq 1 100); do
    mport=$(sed -n 's/^ACCEPT .*:\([0-9]*\) PID=.*/\1/p' mock.out | head -1)
    [ -n "$mport" ] && break
    sleep 0.1
done
if [ -z "$mport" ]; then
    bad "stock mock server did not start"
    cat mock.out mock.log
else
    expect_fail "stock openssl cmp server: no nonce response" \
        'no nonce response \(1\.3\.6\.1\.5\.5\.7\.4\.99\).*1\.3\.6\.1\.5\.5\.7\.4\.98.*echoes' \
        "$AF_CMD" nonce get --cmp "http://127.0.0.1:$mport/pkix/" --secret-file mac.txt \
        --ref station1
fi

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
