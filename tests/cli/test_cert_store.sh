#!/usr/bin/env bash
# test_cert_store.sh - the issued certificate written back into the token next to its key, end to
# end on the fixture's token: `attfresh enroll --store-in-token` over CMP against `attfresh serve`
# (with --out, and without), then the stock `openssl storeutl -certs` with the provider config sees
# exactly that certificate under the key's label and id; enrolling the same key again (renewal)
# leaves one certificate, the new one; `attfresh cert store` of the same file changes nothing and
# of an older one replaces; refusals on one line: a key file (not in a token) before any request
# reaches the RA, a certificate of another key (nothing written), neither --out nor
# --store-in-token (usage).
# The server binds 127.0.0.1 on a free port and is always stopped by the trap.
set -uo pipefail
: "${AF_CMD:?}" "${AF_TEST_TOKEN_DIR:?}" "${AF_TEST_SRC:?}" "${SOFTHSM2_CONF:?}"
export OPENSSL_CONF="$AF_TEST_TOKEN_DIR/openssl.cnf"
token=${AF_TEST_TOKEN_LABEL:-attfresh-test}
af_numbered=1
af_show_also=out.txt
. "$(dirname "$0")/lib.sh"
af_workdir /tmp/af-cli-certstore-XXXXXX
cd "$work" || exit 1
check() { expect_ok "$@"; } # check "what" command...   (expects exit 0)

tag=$$
dev="cs-dev-$tag"
devuri="pkcs11:token=$token;object=$dev"
certuri="$devuri;type=cert"

# storeutl_certs: the certificates the stock openssl finds at the key's cert URI, one PEM each
# in found-N.pem; prints how many.
storeutl_certs() {
    rm -f found-*.pem
    openssl storeutl -certs "$certuri" 2>storeutl.err |
        awk '/BEGIN CERTIFICATE/{n++; f="found-" n ".pem"} f{print > f} /END CERTIFICATE/{f=""}'
    ls found-*.pem 2>/dev/null | wc -l
}
# in_token_is FILE WHAT: the token holds exactly one certificate for the key, byte for byte FILE
in_token_is() {
    local cnt
    cnt=$(storeutl_certs)
    if [ "$cnt" -ne 1 ]; then
        bad "$2: openssl storeutl finds $cnt certificates at $certuri, want 1"
        cat storeutl.err
    elif cmp -s <(openssl x509 -in found-1.pem -outform DER) <(openssl x509 -in "$1" -outform DER); then
        ok "$2: openssl storeutl -certs finds exactly $1 in the token"
    else
        bad "$2: the token's certificate is not $1"
        openssl x509 -in found-1.pem -noout -serial -subject
    fi
}

# ---- station: AK and device key in the token; RA with a CA -------------------------------------
check "AK CA" bash "$AF_TEST_SRC/scripts/mkca.sh" akca "cert store test AK CA"
check "RA CA" bash "$AF_TEST_SRC/scripts/mkca.sh" raca "cert store test RA CA"
check "ak init" "$AF_CMD" ak init --token "$token" --label "cs-ak-$tag" --ca-cert akca/ca.pem \
    --ca-key akca/ca.key --out ak.pem
ak="pkcs11:token=$token;object=cs-ak-$tag"
check "device key in the token" openssl genpkey -provider attfresh -provider default \
    -algorithm EC -pkeyopt group:P-256 -pkeyopt label:"$dev" -out /dev/null
printf 'certstore-mac-%s\n' "$tag" >mac.txt
af_serve ra http --http 127.0.0.1:0 --cmp-secret-file mac.txt --rate 1000 --burst 1000 \
    --ca-cert raca/ca.pem --ca-key raca/ca.key --ak-trust akca/ca.pem || exit 1
enroll=("$AF_CMD" enroll --cmp "$url/.well-known/cmp" --secret-file mac.txt --ref station-1
    --ak "$ak" --ak-cert ak.pem)

n0=$(storeutl_certs)
[ "$n0" -eq 0 ] && ok "no certificate next to the new key yet" || bad "$n0 certificates before enrolling"

# ---- enroll --store-in-token --------------------------------------------------------------------
check "enroll --out --store-in-token" "${enroll[@]}" --key "$devuri" --subj "/CN=$dev" \
    --out dev1.pem --store-in-token
grep -q "enrolled over cmp: .* -> dev1.pem and the token" out.txt &&
    ok "enroll says where the certificate went" || bad "enroll output: $(cat out.txt)"
check "the issued certificate verifies" openssl verify -CAfile raca/ca.pem dev1.pem
in_token_is dev1.pem "after enroll"
# the object sits next to the key: same id and label as the private key
p11id() { p11tool --list-all "$1" 2>/dev/null | sed -n 's/^[[:space:]]*ID: //p' | head -1; }
if ! command -v p11tool >/dev/null; then
    ok "id check skipped (no p11tool)"
elif keyid=$(p11id "$devuri;type=public") certid=$(p11id "$certuri") && [ -n "$keyid" ] && [ "$keyid" = "$certid" ]; then
    ok "certificate has the key's CKA_ID ($certid)"
else
    bad "certificate id '$certid' is not the key's '$keyid'"
fi

# renewal: the same key enrolled again, the token keeps only the newer certificate
check "enroll again (renewal), token only" "${enroll[@]}" --key "$devuri" --subj "/CN=$dev" \
    --store-in-token
grep -q -- "-> the token, next to the key" out.txt && ok "enroll without --out" ||
    bad "enroll output: $(cat out.txt)"
openssl storeutl -certs "$certuri" 2>/dev/null |
    awk '/BEGIN CERTIFICATE/{f=1} f{print} /END CERTIFICATE/{exit}' >dev2.pem
if [ -s dev2.pem ] && ! cmp -s <(openssl x509 -in dev1.pem -outform DER) \
    <(openssl x509 -in dev2.pem -outform DER); then
    ok "renewal: the token holds a new certificate"
else
    bad "renewal: the token still holds the first certificate (or none)"
fi
in_token_is dev2.pem "after renewal"

# ---- attfresh cert store -------------------------------------------------------------------------
check "cert store (the same certificate)" "$AF_CMD" cert store --key "$devuri" --in dev2.pem
in_token_is dev2.pem "cert store of the same certificate"
check "cert store (the older one, DER)" bash -c \
    "openssl x509 -in dev1.pem -outform DER -out dev1.der && '$AF_CMD' cert store --key '$devuri' --in dev1.der"
grep -q "in the token next to pkcs11:" out.txt && ok "cert store says where" ||
    bad "cert store output: $(cat out.txt)"
in_token_is dev1.pem "cert store replaces"

# ---- refusals ----------------------------------------------------------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out soft.key 2>/dev/null
before=$(grep -c "cmp p10cr: accepted" ra.log)
[ "$before" -ge 2 ] && ok "the RA logged the $before enrollments" || bad "RA log: $(tail -3 ra.log)"
expect_fail "enroll --store-in-token with a key file" \
    'enroll: --store-in-token: .*key is not in a token' \
    "${enroll[@]}" --key soft.key --subj /CN=soft --out soft.pem --store-in-token
[ ! -e soft.pem ] && ok "nothing written for the key file" || bad "soft.pem written"
[ "$(grep -c "cmp p10cr" ra.log)" -eq "$before" ] && ok "the RA saw no certification request" ||
    bad "a request reached the RA"
expect_fail "cert store of another key's certificate" \
    'cert store: .*certificate /CN=cert store test RA CA is for another key than pkcs11:.*nothing written' \
    "$AF_CMD" cert store --key "$devuri" --in raca/ca.pem
in_token_is dev1.pem "nothing written after the refusal"
expect_fail "cert store --key with a key file" 'cert store: --key: .*key is not in a token' \
    "$AF_CMD" cert store --key soft.key --in dev1.pem
"${enroll[@]}" --key "$devuri" --subj /CN=x >out.txt 2>err.txt
rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--out (or --store-in-token) are required" err.txt &&
    ok "enroll without --out or --store-in-token: usage (exit 2)" || { bad "usage: exit $rc"; cat err.txt; }
"$AF_CMD" cert store --in dev1.pem >out.txt 2>err.txt
rc=$?
[ "$rc" -eq 2 ] && ok "cert store without --key: usage (exit 2)" || { bad "usage: exit $rc"; cat err.txt; }

echo "1..$n"
[ "$fails" -eq 0 ]
