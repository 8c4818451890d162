#!/usr/bin/env bash
# test_openssl_rand.sh - the stock openssl command with attfresh.so from openssl.cnf: `openssl rand`
# drawing from the HSM as OpenSSL's primary generator (C_GenerateRandom seen in the provider's
# call trace, clean exit also with SoftHSM2 loaded directly), the seed-source role failing with
# one clear line, OID names in asn1parse and cmp, a bad config failing with a line naming the
# key, and a configured-but-unused provider never touching the token.
set -uo pipefail
: "${AF_TEST_TOKEN_DIR:?}" "${OPENSSL_MODULES:?}" "${SOFTHSM2_CONF:?}"
base="$AF_TEST_TOKEN_DIR/openssl.cnf"
. "$(dirname "$0")/lib.sh"
af_workdir /tmp/af-cli-rand-XXXXXX

# conf NAME [random-section lines] [extra provider-section lines]: the fixture config plus both
conf() {
    local out="$work/$1.cnf" random=$2 extra=$3
    awk -v random="$random" -v extra="$extra" '
        /^providers = provider_sect$/ { print; if (random != "") print "random = random_sect"; next }
        /^activate = 1$/ && insec { if (extra != "") print extra }
        /^\[attfresh_sect\]/ { insec = 1 } /^\[/ && !/^\[attfresh_sect\]/ { insec = 0 }
        { print }
        END { if (random != "") { print ""; print "[random_sect]"; print random } }' "$base" >"$out"
    echo "$out"
}

primary=$'random = ATTFRESH-RAND\nproperties = provider=attfresh'

# 1. openssl rand with the HSM as primary generator: output, clean exit, C_GenerateRandom traced
c=$(conf primary "$primary" $'debug-log = '"$work"$'/primary.log\ndebug-level = trace')
out=$(OPENSSL_CONF=$c timeout 60 openssl rand -hex 32 2>"$work/primary.err"); rc=$?
check "openssl rand (HSM primary) exits 0 (rc=$rc)" test "$rc" -eq 0
check "openssl rand printed 32 random bytes" grep -Eq '^[0-9a-f]{64}$' <<<"$out"
n=$(grep -c 'C_GenerateRandom' "$work/primary.log" 2>/dev/null || true)
check "C_GenerateRandom called on the token ($n calls traced)" test "${n:-0}" -ge 1
check "no error output" test ! -s "$work/primary.err"

# 2. same with SoftHSM2 loaded directly (crashes at exit without the exit guard)
softhsm=/usr/lib/softhsm/libsofthsm2.so
if [ -e "$softhsm" ]; then
    c=$(conf direct "$primary" "")
    sed -i "s|^pkcs11-module = .*|pkcs11-module = $softhsm|" "$c"
    OPENSSL_CONF=$c timeout 60 openssl rand -hex 16 >/dev/null 2>"$work/direct.err"; rc=$?
    check "openssl rand with libsofthsm2.so directly exits 0 (rc=$rc)" test "$rc" -eq 0
fi

# 3. seed source: fails (no hang, no crash) with our line naming the fix
c=$(conf seed $'seed = ATTFRESH-RAND\nseed_properties = provider=attfresh' "")
OPENSSL_CONF=$c timeout 60 openssl rand -hex 16 >/dev/null 2>"$work/seed.err"; rc=$?
check "seed-source role fails, not hangs/crashes (rc=$rc)" test "$rc" -ne 0 -a "$rc" -ne 124 -a "$rc" -lt 128
check "seed-source error says to use 'random = ATTFRESH-RAND'" grep -q "as a seed source.*random = ATTFRESH-RAND" "$work/seed.err"

# 3b. missing token, missing module: one line with the reason, non-zero exit
c=$(conf notoken "$primary" "")
sed -i "s|^token = .*|token = no-such-token|" "$c"
OPENSSL_CONF=$c timeout 60 openssl rand -hex 8 >/dev/null 2>"$work/notoken.err"; rc=$?
check "missing token: openssl rand fails (rc=$rc)" test "$rc" -ne 0 -a "$rc" -lt 124
check "missing token: error names the token" grep -q "no token matches 'no-such-token'" "$work/notoken.err"
c=$(conf nomodule "$primary" "")
sed -i "s|^pkcs11-module = .*|pkcs11-module = $work/no-such-module.so|" "$c"
OPENSSL_CONF=$c timeout 60 openssl rand -hex 8 >/dev/null 2>"$work/nomodule.err"; rc=$?
check "missing module: openssl rand fails (rc=$rc)" test "$rc" -ne 0 -a "$rc" -lt 124
check "missing module: error names the module" grep -q "cannot load PKCS#11 module '$work/no-such-module.so'" "$work/nomodule.err"

# 4. OID names: asn1parse and cmp know id-it-nonceRequest only with the provider loaded
openssl asn1parse -genstr 'OID:1.3.6.1.5.5.7.4.98' -out "$work/oid.der" >/dev/null
p=$(OPENSSL_CONF=$base openssl asn1parse -inform DER -in "$work/oid.der")
check "asn1parse prints id-it-nonceRequest" grep -q ':id-it-nonceRequest' <<<"$p"
p=$(OPENSSL_CONF=/dev/null openssl asn1parse -inform DER -in "$work/oid.der")
check "without the provider asn1parse prints the number (control)" grep -q ':1.3.6.1.5.5.7.4.98' <<<"$p"
cmpargs=(cmp -cmd genm -infotype nonceRequest -server 127.0.0.1:9 -unprotected_requests)
p=$(OPENSSL_CONF=$base openssl "${cmpargs[@]}" 2>&1)
check "openssl cmp accepts -infotype nonceRequest" bash -c '! grep -q "unknown OID name in -infotype" <<<"$1"' _ "$p"
p=$(OPENSSL_CONF=/dev/null openssl "${cmpargs[@]}" 2>&1)
check "without the provider cmp rejects it (control)" grep -q "unknown OID name in -infotype" <<<"$p"

# 5. bad configuration: the provider does not load, one line names the key
c=$(conf unknown "$primary" "tokn = x")
OPENSSL_CONF=$c openssl list -providers >"$work/unknown.out" 2>"$work/unknown.err"
check "unknown key: provider not loaded" bash -c '! grep -q "^  attfresh" "$1"' _ "$work/unknown.out"
check "unknown key: line names 'tokn'" grep -q "unknown key 'tokn'" "$work/unknown.err"
OPENSSL_CONF=$c openssl rand -hex 8 >/dev/null 2>&1; rc=$?
check "unknown key: openssl rand needing ATTFRESH-RAND fails (rc=$rc)" test "$rc" -ne 0
c=$(conf badvalue "" "debug-level = loud")
OPENSSL_CONF=$c openssl list -providers >"$work/bad.out" 2>"$work/bad.err"
check "bad value: provider not loaded" bash -c '! grep -q "^  attfresh" "$1"' _ "$work/bad.out"
check "bad value: line names 'debug-level'" grep -q "'debug-level'" "$work/bad.err"
check "bad value: exactly one line" test "$(wc -l <"$work/bad.err")" -eq 1

# 6. configured but unused: a digest run loads the provider and never the PKCS#11 module
c=$(conf unused "" $'debug-log = '"$work"$'/unused.log\ndebug-level = trace\nlog-config = yes')
sed -i "s|^pkcs11-module = .*|pkcs11-module = $work/no-such-module.so|" "$c"
echo hello >"$work/data"
OPENSSL_CONF=$c openssl dgst -sha256 "$work/data" >/dev/null 2>"$work/unused.err"; rc=$?
check "unused provider: openssl dgst works (rc=$rc)" test "$rc" -eq 0
check "unused provider: it was loaded (config logged)" grep -q "configuration: pkcs11-module=" "$work/unused.log"
check "unused provider: no PKCS#11 module opened" bash -c '! grep -qi "module\|C_Initialize" <(grep -v "configuration:" "$1")' _ "$work/unused.log"

echo "failures: $fails"
test "$fails" -eq 0
