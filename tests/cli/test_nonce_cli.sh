#!/usr/bin/env bash
# test_nonce_cli.sh - `attfresh nonce make|show` end to end: make/show round trips for every
# profile x format x wrap in both directions, `openssl asn1parse` on the DER, the --help examples
# run as pasted, atomic --out, and the one-line errors with their exit codes.
set -uo pipefail
: "${AF_CMD:?}"
. "$(dirname "$0")/lib.sh"
af_workdir /tmp/af-cli-nonce-XXXXXX
af() { "$AF_CMD" "$@"; }

# ---- round trips: every profile x format (x wrap) x direction ----------------------------------
for profile in draft-08 rat-e2e draft-06 siemens-ra; do
    for fw in der der:itav der:cmc json cbor; do
        fmt=${fw%%:*}
        wrap=()
        [[ $fw == *:* ]] && wrap=(--wrap "${fw#*:}")
        extra=()
        [[ $profile == draft-06 || $profile == siemens-ra ]] && extra=(--hint https://v.example)
        [[ $profile == siemens-ra ]] && extra+=(--vendorext 0a0b)
        f="$work/$profile-$fmt-${wrap[1]:-bare}"
        if af nonce make --request --profile "$profile" --format "$fmt" "${wrap[@]}" --len 16 \
            --type 1.2.3.4.5 "${extra[@]}" --out "$f.req" &&
            out=$(af nonce show --json --profile "$profile" --format "$fmt" "${wrap[@]}" "$f.req") &&
            [[ $out == *'"len":16'* && $out == *'"type":"1.2.3.4.5"'* ]]; then
            ok "request $profile $fw"
        else
            bad "request $profile $fw: $out"
        fi
        if af nonce make --response --profile "$profile" --format "$fmt" "${wrap[@]}" \
            --nonce 00112233445566778899aabbccddeeff --expiry 600 --now 1800000000 "${extra[@]}" \
            >"$f.resp" &&
            out=$(af nonce show --response --json --now 1800000000 --profile "$profile" \
                --format "$fmt" "${wrap[@]}" - <"$f.resp") &&
            [[ $out == *'"nonce":"00112233445566778899aabbccddeeff"'* ]]; then
            ok "response $profile $fw"
        else
            bad "response $profile $fw: $out"
        fi
        # same request decoded under another shape's profile must fail, never be guessed
        other=draft-06
        [[ $profile == draft-06 || $profile == siemens-ra ]] && other=draft-08
        if [[ -z ${wrap[*]} ]]; then
            check "request $profile $fw is not read as $other" \
                bash -c '! "$0" nonce show --profile "$1" --format "$2" "$3" 2>/dev/null' \
                "$AF_CMD" "$other" "$fmt" "$f.req"
        fi
        if [[ $fmt == der ]]; then
            check "openssl asn1parse reads $profile $fw" \
                openssl asn1parse -inform DER -in "$f.req" -i -noout
        fi
    done
done

# ---- what the DER looks like to openssl ---------------------------------------------------------
af nonce make --request --len 32 --wrap itav --out "$work/itav.der"
asn=$(openssl asn1parse -inform DER -in "$work/itav.der" -i)
check "ITAV carries the draft-08 request infoType" grep -q '1.3.6.1.5.5.7.4.98' <<<"$asn"
check "ITAV value holds len 32 (0x20)" grep -q 'INTEGER *:20' <<<"$asn"
af nonce make --response --profile siemens-ra --nonce-len 16 --wrap cmc --body-part-id 104 \
    --out "$work/cmc.der"
asn=$(openssl asn1parse -inform DER -in "$work/cmc.der" -i)
check "CMC TaggedAttribute has bodyPartID 104 and id-cmc-nonceResp" \
    bash -c 'grep -q "INTEGER *:68" <<<"$0" && grep -q "1.3.6.1.5.5.7.7.99" <<<"$0"' "$asn"
af nonce make --request --oid-request 1.3.6.1.4.1.99999.7 --wrap itav --out "$work/ovr.der"
check "--oid-request overrides the ITAV infoType" \
    bash -c 'openssl asn1parse -inform DER -in "$0" | grep -q 1.3.6.1.4.1.99999.7' "$work/ovr.der"
check "the override is required on the way back" \
    bash -c '! "$0" nonce show --wrap itav "$1" 2>/dev/null' "$AF_CMD" "$work/ovr.der"
check "and accepted with it" \
    af nonce show --wrap itav --oid-request 1.3.6.1.4.1.99999.7 "$work/ovr.der"

# ---- the seed slides' EST example -----------------------------------------------------------------
slides='[{"len":8,"type":"1.2.3.4.5","hint":"https://example.com"}]'
out=$(af nonce make --request --profile draft-06 --format json --len 8 --type 1.2.3.4.5 \
    --hint https://example.com)
check "make reproduces the slides' EST request" test "$out" = "$slides"
out=$(af nonce make --response --profile draft-06 --format json --nonce 0102030405060708 \
    --expiry 2031-10-12T07:20:50.52Z --type 1.2.3.4.5 --hint https://example.com)
check "seed response keeps the RFC 3339 expiry" \
    test "$out" = '[{"nonce":"AQIDBAUGBwg=","expiry":"2031-10-12T07:20:50.52Z","type":"1.2.3.4.5","hint":"https://example.com"}]'
out=$(af nonce make --response --profile draft-06 --format json --nonce 0102030405060708 \
    --expiry 600 --now 1949555450)
check "seconds become an absolute time in the seed JSON form" \
    test "$out" = '[{"nonce":"AQIDBAUGBwg=","expiry":"2031-10-12T07:20:50Z"}]'

# ---- --help and its examples, as pasted ------------------------------------------------------------
check "nonce --help" af nonce --help
check "nonce make --help" bash -c '"$0" nonce make --help | grep -q "^examples:"' "$AF_CMD"
check "nonce show --help" bash -c '"$0" nonce show --help | grep -q "^examples:"' "$AF_CMD"
for sub in make show; do
    # example lines start with "  attfresh"; continuation lines end in a backslash
    af nonce $sub --help | awk '/^examples:/{e=1;next} e' | sed 's/^ *//' |
        awk '{ if (sub(/\\$/, "")) { buf = buf $0; next } print buf $0; buf = "" }' >"$work/ex-$sub"
    n=0
    while IFS= read -r line; do
        [[ -z $line ]] && continue
        n=$((n + 1))
        if (cd "$work" && PATH="$(dirname "$AF_CMD"):$PATH" bash -c "$line" >/dev/null 2>&1); then
            ok "help example: $line"
        else
            bad "help example fails: $line"
        fi
    done <"$work/ex-$sub"
    check "nonce $sub --help has examples" test "$n" -ge 3
done

# ---- errors: one line, reason named, exit codes ------------------------------------------------------
expect_fail() { # what want-exit want-text cmd...
    local what=$1 code=$2 text=$3 rc
    shift 3
    "$@" >"$work/out" 2>"$work/err"
    rc=$?
    if [[ $rc -eq $code && $(wc -l <"$work/err") -eq 1 ]] && grep -q -- "$text" "$work/err"; then
        ok "$what (exit $rc: $(cat "$work/err"))"
    else
        bad "$what: exit $rc, stderr: $(cat "$work/err")"
    fi
}
printf '{"len":7}' >"$work/len7.json"
expect_fail "len 7 rejected" 1 "nonce length request out of range" \
    af nonce show --format json "$work/len7.json"
printf '{"len":8,"len":9}' >"$work/dup.json"
expect_fail "duplicate key rejected" 1 "duplicate member" af nonce show --format json "$work/dup.json"
printf '\x30\x00\x00' >"$work/trail.der"
expect_fail "trailing byte rejected" 1 "trailing data" af nonce show "$work/trail.der"
printf '\x30\x80\x00\x00' >"$work/indef.der"
expect_fail "indefinite length rejected" 1 "not DER" af nonce show "$work/indef.der"
printf '{"nonce":"AQIDBAUGBwg="}' >"$work/padded.json"
expect_fail "padded nonce rejected strictly" 1 "bad nonce value" \
    af nonce show --response --format json "$work/padded.json"
out=$(af nonce show --response --format json --lenient "$work/padded.json")
check "padded nonce accepted leniently, and said so" grep -q "tolerated: base64" <<<"$out"
printf '\x30\x0a\x06\x08\x2b\x06\x01\x05\x05\x07\x04\x62' >"$work/novalue.der"
expect_fail "ITAV without value rejected strictly" 1 "required member missing" \
    af nonce show --wrap itav "$work/novalue.der"
check "ITAV without value is an empty request leniently" af nonce show --wrap itav --lenient \
    "$work/novalue.der"
expect_fail "missing file" 1 "cannot open" af nonce show "$work/nope"
expect_fail "unknown profile" 1 "unknown wire profile" af nonce make --request --profile draft-99
expect_fail "len 65 at make" 1 "nonce length request out of range" af nonce make --request --len 65
expect_fail "nonce of 7 bytes at make" 1 "bad nonce value" \
    af nonce make --response --nonce 01020304050607
expect_fail "hint in the current shape" 1 "does not fit the profile" \
    af nonce make --request --hint x
expect_fail "no direction" 2 "say --request or --response" bash -c '"$0" nonce make 2>&1 >/dev/null | tail -1 >&2; exit ${PIPESTATUS[0]}' "$AF_CMD"
expect_fail "unknown option" 2 "unknown option" af nonce make --request --bogus 1
expect_fail "wrap with json" 2 "--wrap goes with --format der" \
    af nonce make --request --format json --wrap itav
expect_fail "unknown subcommand" 2 "unknown subcommand" bash -c '"$0" nonce frob 2>&1 >/dev/null | { head -1 >&2; cat >/dev/null; }; exit ${PIPESTATUS[0]}' "$AF_CMD"

# ---- atomic output: a failed make leaves an existing file alone ---------------------------------------
echo keep >"$work/keep"
af nonce make --request --len 65 --out "$work/keep" 2>/dev/null
check "failed make leaves --out untouched" grep -qx keep "$work/keep"
check "no temp files left behind" bash -c '[ -z "$(ls "$0" | grep tmp)" ]' "$work"

echo "$fails failure(s)"
[[ $fails -eq 0 ]]
