#!/usr/bin/env bash
# test_enroll.sh - the whole enrollment end to end on the fixture's token: an AK (ak init), a
# device key in the token, `attfresh serve` with a local CA whose key is in the token and the AK
# trust anchors, then `attfresh enroll` over CMP (p10cr and ir), EST and CMC, each issued
# certificate checked with `openssl verify` against the RA's CA; then the refusals, each with its
# reason on one line (client) and in the RA's log: changed nonce, nonce from another transaction,
# expired nonce, nonce used twice, untrusted AK, a key the default policy refuses (imported, so
# not local/never-extractable), EST without the binding cookie, a flipped CSR signature byte and a
# replay with curl as the EST client, an RA without a CA.
# Servers bind 127.0.0.1 on free ports and are always stopped by the trap.
set -uo pipefail
: "${AF_CMD:?}" "${AF_TEST_TOKEN_DIR:?}" "${AF_TEST_SRC:?}" "${SOFTHSM2_CONF:?}"
export OPENSSL_CONF="$AF_TEST_TOKEN_DIR/openssl.cnf"
token=${AF_TEST_TOKEN_LABEL:-attfresh-test}
af_numbered=1
af_show_also=out.txt
. "$(dirname "$0")/lib.sh"
af_fail_want=1
af_workdir /tmp/af-cli-enroll-XXXXXX
cd "$work" || exit 1
check() { expect_ok "$@"; } # check "what" command...   (expects exit 0)
# expect_fail "what" "stderr pattern" command...   (non-zero exit, exactly one stderr line)
expect_fail() { expect_fail_line "$@"; }
log_has() { # log_has SERVER REGEX
    if grep -q -- "$2" "$1.log"; then ok "$1 log: $2"; else bad "$1 log lacks '$2'"; tail -5 "$1.log"; fi
}

# start NAME ARGS...: attfresh serve in the background until it printed its URLs; sets HTTP, HTTPS
start() {
    local name=$1
    shift
    af_serve "$name" http "$@"
}

tag=$$
# ---- the station: AK certified by a throw-away AK CA, device keys in the token -----------------
check "AK CA" bash "$AF_TEST_SRC/scripts/mkca.sh" akca "enroll test AK CA"
check "another AK CA" bash "$AF_TEST_SRC/scripts/mkca.sh" otherca "not trusted by the RA"
check "ak init" "$AF_CMD" ak init --token "$token" --label "en-ak-$tag" --ca-cert akca/ca.pem \
    --ca-key akca/ca.key --out ak.pem
check "ak init (untrusted AK)" "$AF_CMD" ak init --token "$token" --label "en-ak2-$tag" \
    --ca-cert otherca/ca.pem --ca-key otherca/ca.key --out ak2.pem
ak="pkcs11:token=$token;object=en-ak-$tag"
ak2="pkcs11:token=$token;object=en-ak2-$tag"
for k in dev1 dev2 dev3 dev4 dev5 dev6 dev7; do
    openssl genpkey -provider attfresh -provider default -algorithm EC -pkeyopt group:P-256 \
        -pkeyopt label:"en-$k-$tag" -out "$k-ref.pem" 2>err.txt || { bad "key $k"; cat err.txt; }
done
key() { echo "pkcs11:token=$token;object=en-$1-$tag"; }
# an imported key: its bits existed outside the token (not local, not never-extractable)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out imp.key 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in imp.key -out imp.p8
check "import a software key into the token" softhsm2-util --import imp.p8 --token "$token" \
    --label "en-imp-$tag" --id "$(printf '%s' "imp$tag" | od -An -tx1 | tr -d ' \n')" \
    --pin "$(cat "$AF_TEST_TOKEN_DIR/pin")"

# ---- the RA: CA key in the token, TLS for EST, MAC secret for CMP -------------------------------
check "RA CA key in the token" openssl genpkey -provider attfresh -provider default -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt label:"en-raca-$tag" -out raca-ref.pem
raca="pkcs11:token=$token;object=en-raca-$tag"
check "RA CA certificate" openssl req -x509 -new -key "$raca" -subj "/CN=enroll test RA CA $tag" \
    -days 30 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -out raca.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.pem \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 2>/dev/null
printf 'enroll-mac-%s\n' "$tag" >mac.txt

start ra --http 127.0.0.1:0 --https 127.0.0.1:0 --tls-cert srv.pem --tls-key srv.key \
    --cmp-secret-file mac.txt --rate 1000 --burst 1000 \
    --ca-cert raca.pem --ca-key "$raca" --ak-trust akca/ca.pem
CMP="http://127.0.0.1:$HTTP/.well-known/cmp"
CMC="http://127.0.0.1:$HTTP/cmc"
EST="https://127.0.0.1:$HTTPS"
cmp_opts=(--cmp "$CMP" --secret-file mac.txt --ref station-1)

# verify_cert FILE KEYNAME SUBJECT: chains to the RA's CA, holds the key, has the subject
verify_cert() {
    local f=$1 k=$2 subj=$3
    if openssl verify -CAfile raca.pem "$f" >/dev/null 2>&1; then ok "$f: openssl verify against the RA CA"
    else bad "$f does not verify"; openssl verify -CAfile raca.pem "$f"; fi
    if [ "$(openssl x509 -in "$f" -noout -pubkey 2>/dev/null)" = \
         "$(openssl pkey -in "$(key "$k")" -pubout 2>/dev/null)" ]; then ok "$f certifies the token key $k"
    else bad "$f: public key differs from $k"; fi
    if openssl x509 -in "$f" -noout -subject -nameopt compat | grep -q "subject=$subj"; then
        ok "$f: subject $subj"; else bad "$f: subject"; openssl x509 -in "$f" -noout -subject; fi
}

# ---- round trips --------------------------------------------------------------------------------
check "enroll over CMP (p10cr)" "$AF_CMD" enroll "${cmp_opts[@]}" --key "$(key dev1)" --ak "$ak" \
    --ak-cert ak.pem --subj "/CN=dev1-$tag/O=attfresh" --san "DNS:dev1.example" --out dev1.pem
grep -q "enrolled over cmp" out.txt && ok "enroll says what it did" || bad "enroll output: $(cat out.txt)"
verify_cert dev1.pem dev1 "/CN=dev1-$tag/O=attfresh"
openssl x509 -in dev1.pem -noout -ext subjectAltName,extendedKeyUsage 2>/dev/null >ext.txt
grep -q "DNS:dev1.example" ext.txt && ok "SAN from the CSR" || bad "SAN missing"
grep -q "TLS Web Client Authentication" ext.txt && ok "EKU clientAuth" || bad "EKU"
log_has ra "cmp p10cr: accepted"

check "enroll over CMP (ir, CRMF extension)" "$AF_CMD" enroll "${cmp_opts[@]}" --crmf \
    --key "$(key dev2)" --ak "$ak" --ak-cert ak.pem --subj "/CN=dev2-$tag" --out dev2.pem
verify_cert dev2.pem dev2 "/CN=dev2-$tag"
log_has ra "cmp ir/cr: accepted"

check "enroll over EST" "$AF_CMD" enroll --est "$EST" --cafile srv.pem --key "$(key dev3)" \
    --ak "$ak" --ak-cert ak.pem --subj "/CN=dev3-$tag" --out dev3.pem
verify_cert dev3.pem dev3 "/CN=dev3-$tag"
log_has ra "est simpleenroll: issued"

check "enroll over CMC" "$AF_CMD" enroll --cmc "$CMC" --key "$(key dev4)" --ak "$ak" \
    --ak-cert ak.pem --subj "/CN=dev4-$tag" --out dev4.pem
verify_cert dev4.pem dev4 "/CN=dev4-$tag"
log_has ra "cmc enroll: issued"

# --trusted: the issued certificate (and a CMC answer's signer) must chain to the RA's CA
check "enroll over CMC --trusted (the RA's CA)" "$AF_CMD" enroll --cmc "$CMC" --key "$(key dev4)" \
    --ak "$ak" --ak-cert ak.pem --subj "/CN=dev4t-$tag" --trusted raca.pem --out dev4t.pem
verify_cert dev4t.pem dev4 "/CN=dev4t-$tag"
expect_fail "CMC answer signed by a CA the station does not trust" \
    "CMC: the Full PKI Response's signer (/CN=enroll test RA CA $tag) does not chain to the trusted certificates" \
    "$AF_CMD" enroll --cmc "$CMC" --key "$(key dev4)" --ak "$ak" --ak-cert ak.pem \
    --subj "/CN=dev4u-$tag" --trusted otherca/ca.pem --out dev4u.pem
[ ! -e dev4u.pem ] && ok "untrusted answer: no certificate written" || bad "dev4u.pem written"
expect_fail "EST certificate from a CA the station does not trust" \
    "the issued certificate (/CN=dev3u-$tag) does not chain to the trusted certificates: self-signed certificate in certificate chain" \
    "$AF_CMD" enroll --est "$EST" --cafile srv.pem --key "$(key dev3)" --ak "$ak" --ak-cert ak.pem \
    --subj "/CN=dev3u-$tag" --trusted otherca/ca.pem --out dev3u.pem
[ ! -e dev3u.pem ] && ok "untrusted certificate: nothing written" || bad "dev3u.pem written"
check "enroll over CMP --trusted (the RA's CA)" "$AF_CMD" enroll "${cmp_opts[@]}" \
    --key "$(key dev1)" --ak "$ak" --ak-cert ak.pem --subj "/CN=dev1t-$tag" --trusted raca.pem \
    --out dev1t.pem
verify_cert dev1t.pem dev1 "/CN=dev1t-$tag"

# continuing from `attfresh nonce get --state`, the transaction saved in between
check "nonce get --state (CMP)" "$AF_CMD" nonce get "${cmp_opts[@]}" --state st5.json
check "enroll --state" "$AF_CMD" enroll "${cmp_opts[@]}" --state st5.json --key "$(key dev5)" \
    --ak "$ak" --ak-cert ak.pem --subj "/CN=dev5-$tag" --out dev5.pem
verify_cert dev5.pem dev5 "/CN=dev5-$tag"

# ---- refusals -----------------------------------------------------------------------------------
# the nonce hex appears verbatim in the state (hex field and inside the response DER)
swap_nonce() { # swap_nonce STATE OLDHEX NEWHEX OUT
    sed "s/$2/$3/g" "$1" >"$4"
}

expect_fail "nonce used twice" "nonce: nonce already used" \
    "$AF_CMD" enroll "${cmp_opts[@]}" --state st5.json --key "$(key dev5)" --ak "$ak" \
    --ak-cert ak.pem --subj "/CN=dev5-$tag" --out again.pem
grep -q "notAuthorized" err.txt && ok "used twice: failInfo notAuthorized" || bad "failInfo"
log_has ra "cmp p10cr: rejection notAuthorized: nonce: nonce already used"
[ ! -e again.pem ] && ok "nothing written on refusal" || bad "again.pem written"

check "nonce get (A)" "$AF_CMD" nonce get "${cmp_opts[@]}" --state stA.json
check "nonce get (B)" "$AF_CMD" nonce get "${cmp_opts[@]}" --state stB.json
na=$(grep -o '"nonce":"[0-9a-f]*"' stA.json | head -1 | cut -d'"' -f4)
nb=$(grep -o '"nonce":"[0-9a-f]*"' stB.json | head -1 | cut -d'"' -f4)
if [ -n "$na" ] && [ -n "$nb" ] && grep -q "$nb" stB.json; then ok "nonces in the states"
else bad "cannot find the nonces in the state files"; cat stA.json; fi
# the same nonce with its first hex digit changed
case ${nb:0:1} in 0) changed=1${nb:1} ;; *) changed=0${nb:1} ;; esac
swap_nonce stB.json "$nb" "$changed" stB-changed.json
expect_fail "changed nonce" "nonce: nonce not issued by this RA" \
    "$AF_CMD" enroll "${cmp_opts[@]}" --state stB-changed.json --key "$(key dev6)" --ak "$ak" \
    --ak-cert ak.pem --subj "/CN=dev6-$tag" --out x.pem
swap_nonce stB.json "$nb" "$na" stB-withA.json
expect_fail "nonce from another transaction" "nonce: nonce issued for another transaction" \
    "$AF_CMD" enroll "${cmp_opts[@]}" --state stB-withA.json --key "$(key dev6)" --ak "$ak" \
    --ak-cert ak.pem --subj "/CN=dev6-$tag" --out x.pem
# the refusals did not burn B's nonce: its own transaction still enrolls
check "B's nonce still good in B's transaction" "$AF_CMD" enroll "${cmp_opts[@]}" --state stB.json \
    --key "$(key dev6)" --ak "$ak" --ak-cert ak.pem --subj "/CN=dev6-$tag" --out dev6.pem
verify_cert dev6.pem dev6 "/CN=dev6-$tag"

expect_fail "untrusted AK" "ak-chain" \
    "$AF_CMD" enroll "${cmp_opts[@]}" --key "$(key dev7)" --ak "$ak2" --ak-cert ak2.pem \
    --subj "/CN=dev7-$tag" --out x.pem
grep -q "notAuthorized" err.txt && ok "untrusted AK: notAuthorized" || bad "failInfo"

expect_fail "imported key under the default policy (EST: 403)" "HTTP 403: key-policy" \
    "$AF_CMD" enroll --est "$EST" --cafile srv.pem --key "pkcs11:token=$token;object=en-imp-$tag" \
    --ak "$ak" --ak-cert ak.pem --subj "/CN=imported-$tag" --out x.pem
log_has ra "est simpleenroll: 403 key-policy"

expect_fail "imported key under the default policy (CMC: badIdentity)" "CMC enrollment refused: badIdentity: key-policy" \
    "$AF_CMD" enroll --cmc "$CMC" --key "pkcs11:token=$token;object=en-imp-$tag" \
    --ak "$ak" --ak-cert ak.pem --subj "/CN=imported-$tag" --out x.pem

# EST /simpleenroll without the cookie of the nonce answer: not fresh
check "nonce get --state (EST)" "$AF_CMD" nonce get --est "$EST" --cafile srv.pem --state stE.json
check "csr for EST by hand" "$AF_CMD" csr --key "$(key dev7)" --subj "/CN=dev7-$tag" --attest \
    --ak "$ak" --ak-cert ak.pem --state stE.json --der --out e.der
base64 -w 64 e.der >e.b64
s=$(curl -s --cacert srv.pem -o noc.b -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
    --data-binary @e.b64 "$EST/.well-known/est/simpleenroll")
if [ "$s" = 403 ] && grep -q "nonce: the request is not bound" noc.b; then ok "EST without the cookie: 403 $(cat noc.b)"
else bad "EST without the cookie: HTTP $s $(cat noc.b)"; fi

# curl as the EST client with the cookie of the nonce answer: a flipped signature byte is refused
# (400, bad POP) without using the nonce up; the intact CSR then enrolls; a replay is refused (403)
cookie=$(jq -r .cookie stE.json)
cp e.der flipped.der
size=$(stat -c %s e.der)
last=$(tail -c 1 e.der | od -An -tu1 | tr -d ' ')
printf "\\$(printf %03o $((last ^ 1)))" | dd of=flipped.der bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
cmp -s e.der flipped.der && bad "byte not flipped" || ok "CSR with its last signature byte flipped"
post_est() { # post_est DER OUT: prints the HTTP status
    base64 -w 64 "$1" >"$1.b64"
    curl -s --cacert srv.pem -o "$2" -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
        -b "$cookie" --data-binary @"$1.b64" "$EST/.well-known/est/simpleenroll"
}
s=$(post_est flipped.der flip.b)
if [ "$s" = 400 ] && grep -q "^csr-signature" flip.b; then ok "flipped signature byte: 400 $(cat flip.b)"
else bad "flipped signature byte: HTTP $s $(cat flip.b)"; fi
log_has ra "est simpleenroll: 400 csr-signature"
s=$(post_est e.der good.b)
if [ "$s" = 200 ] && base64 -d good.b >good.p7 2>/dev/null &&
    openssl pkcs7 -inform DER -in good.p7 -print_certs -out good.pem 2>/dev/null; then
    ok "curl /simpleenroll with the cookie: 200, certs-only PKCS#7"
else bad "curl /simpleenroll: HTTP $s"; fi
openssl verify -CAfile raca.pem good.pem >/dev/null 2>&1 && ok "curl-enrolled certificate verifies" ||
    bad "curl-enrolled certificate"
s=$(post_est e.der replay.b)
if [ "$s" = 403 ] && grep -q "nonce: nonce already used" replay.b; then ok "replayed CSR: 403 $(cat replay.b)"
else bad "replayed CSR: HTTP $s $(cat replay.b)"; fi

# expired: an RA whose nonces live one second
start short --http 127.0.0.1:0 --cmp-secret-file mac.txt --expiry 1 --rate 1000 --burst 1000 \
    --ca-cert raca.pem --ca-key "$raca" --ak-trust akca/ca.pem
SHORT="http://127.0.0.1:$HTTP/.well-known/cmp"
check "nonce get (short-lived)" "$AF_CMD" nonce get --cmp "$SHORT" --secret-file mac.txt \
    --ref station-1 --state stX.json
sleep 2
expect_fail "expired nonce" "nonce: nonce expired" \
    "$AF_CMD" enroll --cmp "$SHORT" --secret-file mac.txt --ref station-1 --state stX.json \
    --key "$(key dev7)" --ak "$ak" --ak-cert ak.pem --subj "/CN=dev7-$tag" --out x.pem

# an RA without a CA hands out nonces but certifies nothing
start noca --http 127.0.0.1:0 --cmp-secret-file mac.txt --rate 1000 --burst 1000
expect_fail "RA without a CA" "this RA has no CA" \
    "$AF_CMD" enroll --cmp "http://127.0.0.1:$HTTP/.well-known/cmp" --secret-file mac.txt \
    --ref station-1 --key "$(key dev7)" --ak "$ak" --ak-cert ak.pem --subj "/CN=dev7-$tag" --out x.pem
[ ! -e x.pem ] && ok "no certificate file after any refusal" || bad "x.pem exists"

# usage errors
expect_fail "two protocols" "exactly one of --cmp, --est, --cmc" \
    "$AF_CMD" enroll --cmp "$CMP" --cmc "$CMC" --key k --ak a --ak-cert c --subj /CN=x --out x.pem
if grep -q "enroll-mac-$tag" ra.log short.log noca.log; then bad "MAC secret in a server log"
else ok "no secret in the server logs"; fi

echo "1..$n"
[ "$fails" -eq 0 ]
