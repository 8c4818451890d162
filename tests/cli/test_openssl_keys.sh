#!/usr/bin/env bash
# test_openssl_keys.sh - token keys with the stock openssl command on the fixture token: genpkey
# into the token, req -new with a pkcs11: URI and with the key-reference PEM, req -verify,
# dgst and pkeyutl sign/verify, pkey -pubout, and every error case with its one clear line.
set -uo pipefail

: "${AF_TEST_TOKEN_DIR:?run through ctest (token fixture)}"
export OPENSSL_CONF="$AF_TEST_TOKEN_DIR/openssl.cnf"
. "$(dirname "$0")/lib.sh"
af_workdir
cd "$work" || exit 1

tag="cli$$"

# expect_fail NAME REGEX CMD...: non-zero exit, exactly one attfresh error line, matching REGEX.
expect_fail() {
    local name=$1 re=$2 rc n
    shift 2
    "$@" >out.txt 2>err.txt
    rc=$?
    n=$(grep -c ':attfresh::' err.txt)
    if [ "$rc" -eq 0 ]; then
        bad "$name: exit 0"
    elif [ "$n" -ne 1 ]; then
        bad "$name: $n attfresh error lines"
        cat err.txt
    elif ! grep ':attfresh::' err.txt | grep -Eq -- "$re"; then
        bad "$name: message does not match /$re/"
        cat err.txt
    else
        ok "$name: $(grep ':attfresh::' err.txt | sed 's/^[^:]*:error:[^:]*:attfresh:://')"
    fi
}

echo "hello token" >msg.txt

# ---- EC P-256: generation in the token, the PEM only refers to it -------------------------------
expect_ok "genpkey EC P-256 into the token" \
    openssl genpkey -provider attfresh -provider default -propquery provider=attfresh \
    -algorithm EC -pkeyopt group:P-256 -pkeyopt "label:$tag-ec" -out mykey.pem
if head -1 mykey.pem | grep -q -- '-----BEGIN ATTFRESH PKCS11 KEY URI-----' \
    && ! grep -q 'PRIVATE KEY' mykey.pem; then
    ok "key file is a reference, not key material"
else
    bad "key file content"
    cat mykey.pem
fi
uri="pkcs11:object=$tag-ec;type=private"

expect_ok "req -new -key pkcs11: URI" openssl req -new -key "$uri" -subj "/CN=$tag uri" -out uri.csr
expect_ok "req -verify (URI key)" openssl req -in uri.csr -verify -noout
grep -q "verify OK" err.txt out.txt && ok "CSR self-signature verifies" || bad "CSR verify text"
expect_ok "req -new -key mykey.pem" openssl req -new -key mykey.pem -subj "/CN=$tag pem" -out pem.csr
expect_ok "req -verify (PEM key)" openssl req -in pem.csr -verify -noout

expect_ok "pkey -text" openssl pkey -in mykey.pem -text -noout
if grep -q '^sensitive: yes' out.txt && grep -q '^extractable: no' out.txt \
    && grep -q "^label: $tag-ec" out.txt && grep -q 'type=private' out.txt; then
    ok "pkey -text shows the token facts"
else
    bad "pkey -text facts"
    cat out.txt
fi
expect_ok "pkey -pubout" openssl pkey -in mykey.pem -pubout -out mykey.pub
grep -q -- '-----BEGIN PUBLIC KEY-----' mykey.pub && ok "public key PEM" || bad "public key PEM"
cmp -s <(openssl req -in uri.csr -pubkey -noout) mykey.pub && ok "CSR carries the token key" \
    || bad "CSR public key differs from the token key"

expect_ok "dgst -sign" openssl dgst -sha256 -sign mykey.pem -out msg.sig msg.txt
expect_ok "dgst -verify" openssl dgst -sha256 -verify mykey.pub -signature msg.sig msg.txt
grep -q "Verified OK" out.txt && ok "dgst says Verified OK" || bad "dgst verify text"
echo "tampered" >>msg.txt
if openssl dgst -sha256 -verify mykey.pub -signature msg.sig msg.txt >out.txt 2>&1; then
    bad "tampered message verified"
else
    ok "tampered message does not verify"
fi
echo "hello token" >msg.txt

openssl dgst -sha256 -binary msg.txt >msg.dgst
expect_ok "pkeyutl -sign" openssl pkeyutl -sign -inkey "$uri" -in msg.dgst -out msg.psig
expect_ok "pkeyutl -verify" openssl pkeyutl -verify -pubin -inkey mykey.pub -in msg.dgst -sigfile msg.psig
grep -q "Signature Verified Successfully" out.txt && ok "pkeyutl verified" || bad "pkeyutl verify text"

# ---- PIN from the passphrase callback or the URI (configuration without pin-source) ----------------
grep -v '^pin-source' "$OPENSSL_CONF" >nopin.cnf
expect_ok "PIN through -passin (URI key)" env OPENSSL_CONF="$work/nopin.cnf" \
    openssl req -new -key "$uri" -passin "file:$AF_TEST_TOKEN_DIR/pin" -subj /CN=p -out p1.csr
expect_ok "PIN through -passin (key file)" env OPENSSL_CONF="$work/nopin.cnf" \
    openssl req -new -key mykey.pem -passin "file:$AF_TEST_TOKEN_DIR/pin" -subj /CN=p -out p2.csr
expect_ok "PIN through pin-source in the URI" env OPENSSL_CONF="$work/nopin.cnf" \
    openssl req -new -key "$uri?pin-source=file:$AF_TEST_TOKEN_DIR/pin" -subj /CN=p -out p3.csr
expect_ok "req -verify (PIN variants)" openssl req -in p3.csr -verify -noout

# ---- RSA 2048: PKCS#1 v1.5 and PSS ---------------------------------------------------------------
expect_ok "genpkey RSA 2048 into the token" \
    openssl genpkey -propquery provider=attfresh -algorithm RSA -pkeyopt bits:2048 \
    -pkeyopt "label:$tag-rsa" -out rsa.pem
expect_ok "req -new RSA PKCS#1" openssl req -new -key rsa.pem -subj "/CN=$tag rsa" -out rsa.csr
expect_ok "req -verify RSA PKCS#1" openssl req -in rsa.csr -verify -noout
expect_ok "req -new RSA-PSS" openssl req -new -key rsa.pem -subj "/CN=$tag pss" \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -out pss.csr
expect_ok "req -verify RSA-PSS" openssl req -in pss.csr -verify -noout
openssl req -in pss.csr -noout -text | grep -q "Signature Algorithm: rsassaPss" \
    && ok "CSR signed with rsassaPss" || bad "PSS algorithm identifier"
openssl pkey -in rsa.pem -pubout -out rsa.pub
expect_ok "dgst -sign RSA-PSS" openssl dgst -sha384 -sigopt rsa_padding_mode:pss -sign rsa.pem \
    -out rsa.sig msg.txt
expect_ok "dgst -verify RSA-PSS" openssl dgst -sha384 -sigopt rsa_padding_mode:pss \
    -verify rsa.pub -signature rsa.sig msg.txt

# ---- Ed25519 (SoftHSM2 offers CKM_EDDSA) ----------------------------------------------------------
expect_ok "genpkey ED25519 into the token" \
    openssl genpkey -propquery provider=attfresh -algorithm ED25519 -pkeyopt "label:$tag-ed" -out ed.pem
expect_ok "req -new Ed25519" openssl req -new -key ed.pem -subj "/CN=$tag ed" -out ed.csr
expect_ok "req -verify Ed25519" openssl req -in ed.csr -verify -noout
openssl pkey -in ed.pem -pubout -out ed.pub
expect_ok "pkeyutl -sign Ed25519" openssl pkeyutl -sign -rawin -inkey ed.pem -in msg.txt -out ed.sig
expect_ok "pkeyutl -verify Ed25519" openssl pkeyutl -verify -rawin -pubin -inkey ed.pub -in msg.txt \
    -sigfile ed.sig

# ---- errors: one clear line each, non-zero exit --------------------------------------------------
expect_fail "wrong PIN (URI named, PIN masked)" \
    "for pkcs11:object=$tag-ec;type=private\\?pin-value=\\*\\*\\* failed: wrong PIN \\(CKR_PIN_INCORRECT\\)" \
    openssl req -new -key "pkcs11:object=$tag-ec;type=private?pin-value=00000000" -subj /CN=x -out x.csr
expect_fail "missing token" \
    "no token matches pkcs11:token=no-such-token;object=$tag-ec \\(CKR_TOKEN_NOT_PRESENT\\)" \
    openssl req -new -key "pkcs11:token=no-such-token;object=$tag-ec" -subj /CN=x -out x.csr
expect_fail "missing object" \
    "no object matches pkcs11:object=$tag-missing;type=private \\(C_FindObjects: CKR_OK, 0 objects\\)" \
    openssl req -new -key "pkcs11:object=$tag-missing;type=private" -subj /CN=x -out x.csr
expect_fail "malformed URI (PIN masked)" \
    "malformed PKCS#11 URI 'pkcs11:object=%zz;pin-value=\*\*\*'.*P11_KIT_URI_BAD_ENCODING" \
    openssl req -new -key "pkcs11:object=%zz;pin-value=s3cr3t" -subj /CN=x -out x.csr
if grep ':attfresh::' err.txt | grep -q s3cr3t; then bad "PIN in our error line"; else ok "PIN masked"; fi
expect_fail "key type mismatch (RSA padding on EC)" \
    'key type mismatch.*RSA option, but pkcs11:.*;type=private is an EC key \(CKR_KEY_TYPE_INCONSISTENT\)' \
    openssl dgst -sha256 -sigopt pad-mode:pss -sign mykey.pem -out x.sig msg.txt
expect_fail "key type mismatch (pkeyutl PSS on EC)" 'key type mismatch.*pkcs11:.*CKR_KEY_TYPE_INCONSISTENT' \
    openssl pkeyutl -sign -inkey mykey.pem -pkeyopt pad-mode:pss -in msg.dgst -out x.sig

# A token that refuses CKM_ECDSA: a private copy of the fixture's SoftHSM2 configuration.
sed 's/^log.level.*/&\nslots.mechanisms = ALL,-CKM_ECDSA/' "$AF_TEST_TOKEN_DIR/softhsm2.conf" >nomech.conf
expect_fail "mechanism the token lacks" 'the token of pkcs11:.*;type=private lacks CKM_ECDSA \(CKR_MECHANISM_INVALID\)' \
    env SOFTHSM2_CONF="$work/nomech.conf" openssl dgst -sha256 -sign mykey.pem -out x.sig msg.txt

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
