#!/usr/bin/env bash
# test_attest_cli.sh - the attestation commands end to end on the fixture's token: ak init with a
# throw-away CA (AK under an intermediate), attest, csr (PKCS#10 and CRMF), openssl req -verify,
# openssl asn1parse naming the attribute, attfresh verify; then the failures, each one clear line
# and a non-zero exit.
set -uo pipefail
: "${AF_CMD:?}" "${AF_TEST_TOKEN_DIR:?}" "${AF_TEST_SRC:?}"
export OPENSSL_CONF="$AF_TEST_TOKEN_DIR/openssl.cnf"
token=${AF_TEST_TOKEN_LABEL:-attfresh-test}
af_numbered=1
af_show_also=out.txt
. "$(dirname "$0")/lib.sh"
af_workdir
cd "$work"
check() { expect_ok "$@"; } # check "what" command...   (expects exit 0)
# expect_fail "what" "stderr pattern" command...   (non-zero exit, exactly one stderr line)
expect_fail() { expect_fail_line "$@"; }

tag=$$
ak="ev-ak-$tag"
dev="ev-dev-$tag"
nonce=00112233445566778899aabbccddeeff
other=00112233445566778899aabbccddee00

# ---- AK in the token, certified by an intermediate of a throw-away CA ---------------------------
check "mkca.sh" bash "$AF_TEST_SRC/scripts/mkca.sh" ca --intermediate
check "mkca.sh other CA" bash "$AF_TEST_SRC/scripts/mkca.sh" ca2 "another CA"
check "ak init" "$AF_CMD" ak init --token "$token" --label "$ak" --ca-cert ca/int.pem \
    --ca-key ca/int.key --out ak.pem
grep -q "^pkcs11:.*object=$ak" out.txt && ok "ak init prints the AK URI" || bad "ak init URI"
openssl x509 -in ak.pem -noout -text >akcert.txt 2>&1
grep -q "id-kp-attestationKey" akcert.txt && ok "AK cert has EKU id-kp-attestationKey (by name)" ||
    bad "AK EKU"
grep -A1 "Key Usage: critical" akcert.txt | grep -q "Digital Signature" && ok "AK KU digitalSignature" ||
    bad "AK KU"
openssl verify -CAfile ca/ca.pem -untrusted ca/int.pem ak.pem >/dev/null 2>&1 &&
    ok "AK cert chains to the CA" || bad "AK chain"
check "ak init without CA writes the public key" "$AF_CMD" ak init --token "$token" \
    --label "$ak-nocert" --out akpub.pem
grep -q "BEGIN PUBLIC KEY" akpub.pem && ok "AK public key PEM" || bad "AK public key PEM"

# the CA key may be a token key too
check "CA key in the token" openssl genpkey -provider attfresh -provider default -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt label:"ev-ca-$tag" -out tokca-ref.pem
check "CA certificate for it" openssl req -x509 -new -key "pkcs11:token=$token;object=ev-ca-$tag" \
    -subj "/CN=token CA $tag" -days 30 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign -out tokca.pem
check "ak init --ca-key pkcs11:" "$AF_CMD" ak init --token "$token" --label "$ak-tokca" \
    --ca-cert tokca.pem --ca-key "pkcs11:token=$token;object=ev-ca-$tag" --out ak-tokca.pem
check "AK certificate from the token CA verifies" openssl verify -CAfile tokca.pem ak-tokca.pem

# ---- the subject key, also in the token ----------------------------------------------------------
check "subject key in the token" openssl genpkey -provider attfresh -provider default \
    -algorithm EC -pkeyopt group:P-256 -pkeyopt label:"$dev" -out dev-ref.pem
keyuri="pkcs11:token=$token;object=$dev"
akuri="pkcs11:token=$token;object=$ak"

# ---- attest, csr, verify ----------------------------------------------------------------------
check "attest" "$AF_CMD" attest --key "$keyuri" --ak "$akuri" --ak-cert ak.pem --nonce "$nonce" \
    --out ev.der
[ -s err.txt ] && bad "attest printed a note for a token key: $(cat err.txt)" || ok "token key has all facts"
check "Evidence parses with openssl asn1parse" openssl asn1parse -inform DER -in ev.der
# --state: the RA's NonceResponse as JSON (base64url nonce) and DER, and plain hex text
"$AF_CMD" nonce make --response --nonce "$nonce" --format json --out state.json 2>/dev/null ||
    printf '{"nonce":"ABEiM0RVZneImaq7zN3u_w"}' >state.json
check "attest --pem --state (JSON NonceResponse)" "$AF_CMD" attest --key "$keyuri" --ak "$akuri" \
    --ak-cert ak.pem --state state.json --pem --out ev.pem
printf '%s\n' "$nonce" >state.hex
check "attest --state (hex text)" "$AF_CMD" attest --key "$keyuri" --ak "$akuri" \
    --ak-cert ak.pem --state state.hex --out ev-hex.der
check "verify --state (hex)" "$AF_CMD" csr --key "$keyuri" --subj /CN=h --evidence ev-hex.der \
    --chain ca/int.pem --out h.csr
check "verify --state (JSON)" "$AF_CMD" verify --csr h.csr --trust ca/ca.pem --state state.json
grep -q "BEGIN PKIX EVIDENCE" ev.pem && ok "PEM Evidence" || bad "PEM Evidence"

check "csr --evidence" "$AF_CMD" csr --key "$keyuri" --subj "/CN=device-$tag/O=attfresh test" \
    --san "DNS:device-$tag.example" --evidence ev.der --chain ca/int.pem --out dev.csr
check "openssl req -verify" openssl req -verify -noout -in dev.csr
grep -q "verify OK" err.txt out.txt && ok "openssl says verify OK" || bad "openssl req -verify output"
openssl asn1parse -in dev.csr >asn1.txt 2>&1
grep -q ":id-aa-attestation" asn1.txt && ok "asn1parse names id-aa-attestation" || bad "asn1parse name"

check "attfresh verify" "$AF_CMD" verify --csr dev.csr --trust ca/ca.pem --nonce "$nonce"
for c in csr-signature attestation-attribute bundle-decode evidence-decode evidence-rules \
    evidence-signature ak-chain ak-usage key-binding nonce key-policy; do
    grep -q "^PASS $c" out.txt && ok "check $c passes" || bad "check $c"
done
check "attfresh verify --json" "$AF_CMD" verify --csr dev.csr --trust ca/ca.pem --nonce "$nonce" --json
grep -q '^{"passed":true,"checks":\[' out.txt && ok "JSON result" || bad "JSON result"

check "csr --attest (Evidence made on the way)" "$AF_CMD" csr --key "$keyuri" --subj "/CN=d2" \
    --attest --ak "$akuri" --ak-cert ak.pem --nonce "$nonce" --chain ca/int.pem --der --out d2.der
check "verify the DER CSR" "$AF_CMD" verify --csr d2.der --trust ca/ca.pem --nonce "$nonce"
check "csr --crmf" "$AF_CMD" csr --key "$keyuri" --subj "/CN=d3" --evidence ev.pem \
    --chain ca/int.pem --crmf --out d3.crmf
check "verify the CRMF CertReqMsg" "$AF_CMD" verify --csr d3.crmf --trust ca/ca.pem --nonce "$nonce"

# ---- other AK algorithms ------------------------------------------------------------------------
for alg in ec-p384 rsa-pss ed25519; do
    pss=
    [ "$alg" = rsa-pss ] && pss=--pss
    if "$AF_CMD" ak init --token "$token" --label "$ak-$alg" --alg "$alg" --ca-cert ca/int.pem \
        --ca-key ca/int.key --out "ak-$alg.pem" >/dev/null 2>err.txt &&
        "$AF_CMD" csr --key "$keyuri" --subj "/CN=$alg" --attest --ak "pkcs11:token=$token;object=$ak-$alg" \
            --ak-cert "ak-$alg.pem" --nonce "$nonce" --chain ca/int.pem $pss --out "$alg.csr" 2>>err.txt &&
        "$AF_CMD" verify --csr "$alg.csr" --trust ca/ca.pem --nonce "$nonce" >out.txt 2>>err.txt; then
        ok "AK $alg round trip"
    else
        bad "AK $alg round trip"
        cat err.txt out.txt
    fi
done

# ---- failures: one clear line, non-zero exit ----------------------------------------------------
expect_fail "changed nonce" "nonce failed" \
    "$AF_CMD" verify --csr dev.csr --trust ca/ca.pem --nonce "$other"
expect_fail "no nonce expected" "nonce failed" "$AF_CMD" verify --csr dev.csr --trust ca/ca.pem
expect_fail "untrusted AK" "ak-chain failed" \
    "$AF_CMD" verify --csr dev.csr --trust ca2/ca.pem --nonce "$nonce"
printf 'local = false\n' >strict.policy
expect_fail "policy" "key-policy failed: local is true" \
    "$AF_CMD" verify --csr dev.csr --trust ca/ca.pem --nonce "$nonce" --policy strict.policy
printf 'colour = blue\n' >badpolicy
expect_fail "bad policy file" "policy line 1: unknown setting" \
    "$AF_CMD" verify --csr dev.csr --trust ca/ca.pem --nonce "$nonce" --policy badpolicy
check "second subject key" openssl genpkey -provider attfresh -provider default \
    -algorithm EC -pkeyopt group:P-256 -pkeyopt label:"$dev-2" -out dev2-ref.pem
expect_fail "Evidence about another key" "Evidence about another key" \
    "$AF_CMD" csr --key "pkcs11:token=$token;object=$dev-2" --subj /CN=x --evidence ev.der --out x.csr
expect_fail "missing AK object" "cannot load the attestation key" \
    "$AF_CMD" attest --key "$keyuri" --ak "pkcs11:token=$token;object=no-such-ak" --ak-cert ak.pem \
    --nonce "$nonce"
expect_fail "not hex" "not hex" \
    "$AF_CMD" attest --key "$keyuri" --ak "$akuri" --ak-cert ak.pem --nonce xyz
head -c 300 dev.csr >trunc.csr
expect_fail "garbage CSR" "neither a PKCS#10" "$AF_CMD" verify --csr trunc.csr --trust ca/ca.pem --nonce "$nonce"
# a flipped byte inside the Evidence signature: the CSR is re-made from the tampered Evidence
python3 - <<'PY'
d = bytearray(open("ev.der", "rb").read())
# the signature value is the last OCTET STRING; its last byte is inside ECDSA s
d[-1] ^= 1
open("ev-bad.der", "wb").write(d)
PY
check "csr from tampered Evidence" "$AF_CMD" csr --key "$keyuri" --subj /CN=t --evidence ev-bad.der \
    --chain ca/int.pem --out bad.csr
expect_fail "flipped signature byte" "evidence-signature failed" \
    "$AF_CMD" verify --csr bad.csr --trust ca/ca.pem --nonce "$nonce"
expect_fail "usage error" "required" "$AF_CMD" verify --csr dev.csr

echo "1..$n"
[ "$fails" -eq 0 ]
