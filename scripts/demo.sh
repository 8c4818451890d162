#!/usr/bin/env bash
# demo.sh - the main job on an embedded default, one command on a fresh Debian 12 machine:
# installs the packages, builds attfresh (Release) into build/, makes a throw-away SoftHSM2 token,
# generates an EC P-256 key IN the token with the stock `openssl genpkey`, makes a CSR signed in the
# token with the stock `openssl req`, verifies it in software, and draws `openssl rand` from the HSM;
# then the whole enrollment (docs/enroll.md): an AK in the token, an RA (`attfresh serve`) whose CA
# key is in the token, and `attfresh enroll` over CMP, EST and CMC - nonce, Evidence, attested CSR
# and certificate in one transaction - each certificate checked with `openssl verify`, and a
# replayed nonce refused.
# Every command is printed as run (paste-able once the exports shown are set). The token lives in a
# temp dir removed on exit. Steps are functions listed in STEPS: add new ones there.
# Environment: BUILD (default build), AF_DEMO_KEEP=1 keeps the temp dir.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${BUILD:-build}
label=attfresh-demo
key_label=demo-key
work=$(mktemp -d /tmp/attfresh-demo.XXXXXX)
tok=$work/token

ra_pid=
cleanup() {
    if [ -n "$ra_pid" ]; then
        kill -TERM "$ra_pid" 2>/dev/null && wait "$ra_pid" 2>/dev/null || true
    fi
    if [ "${AF_DEMO_KEEP:-0}" = 1 ]; then
        echo "demo.sh: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# ---- printing ------------------------------------------------------------------------------------
n_step=0
step() {
    n_step=$((n_step + 1))
    printf '\n\033[1m[%d] %s\033[0m\n' "$n_step" "$*"
}
say() { printf '    %s\n' "$*"; }
# Quotes an argument for display only when the shell needs it, so shown commands paste as is.
q() {
    if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//\'/\'\\\'\'}"
    fi
}
# run CMD...: prints the command, then runs it (its output indented)
run() {
    local a line='$'
    for a in "$@"; do line+=" $(q "$a")"; done
    printf '  %s\n' "$line"
    "$@" 2>&1 | sed 's/^/      /'
    return "${PIPESTATUS[0]}"
}
# run_quiet CMD...: the same, output shown only when it fails
run_quiet() {
    local a line='$'
    for a in "$@"; do line+=" $(q "$a")"; done
    printf '  %s\n' "$line"
    "$@" >"$work/last.log" 2>&1 || {
        sed 's/^/      /' "$work/last.log"
        return 1
    }
}
# setenv NAME VALUE: exports and shows it
setenv() {
    export "$1=$2"
    printf '  $ export %s=%s\n' "$1" "$(q "$2")"
}

# ---- steps ---------------------------------------------------------------------------------------
step_deps() {
    step "Packages (Debian 12): scripts/deps.sh installs what is missing"
    run bash scripts/deps.sh
}

step_build() {
    step "Build (Release) into $build/"
    # The demo is not the warnings gate (scripts/test.sh is): -DAF_WERROR=OFF, also when test.sh
    # configured this build directory before.
    run_quiet cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DAF_WERROR=OFF -DAF_SANITIZE=OFF
    run_quiet cmake --build "$build" -j2 --target "${BUILD_TARGETS[@]}"
    say "built: ${BUILD_TARGETS[*]} (the provider module is $build/modules/attfresh.so)"
}

step_token() {
    step "A throw-away SoftHSM2 token '$label' (in $tok, removed on exit)"
    setenv SOFTHSM2_CONF "$tok/softhsm2.conf"
    setenv OPENSSL_MODULES "$root/$build/modules"
    AF_TEST_TOKEN_LABEL=$label AF_P11KIT_PROXY=$(pkg-config --variable=proxy_module p11-kit-1) \
        run bash tests/scripts/token-fixture.sh setup "$tok"
    say "SoftHSM2 is registered with p11-kit, so attfresh finds it through p11-kit's proxy."
    say "The OpenSSL configuration loading attfresh next to the default provider:"
    sed -n '/^\[provider_sect\]/,$p' "$tok/openssl.cnf" | sed 's/^/      /'
    setenv OPENSSL_CONF "$tok/openssl.cnf"
}

step_keygen() {
    step "Generate an EC P-256 key pair IN the token with the stock openssl genpkey"
    run openssl genpkey -provider attfresh -provider default -algorithm EC \
        -pkeyopt group:P-256 -pkeyopt "label:$key_label" -out "$work/$key_label.pem"
    say "The PEM only refers to the key in the token (no key material):"
    sed 's/^/      /' "$work/$key_label.pem"
    run openssl pkey -in "pkcs11:token=$label;object=$key_label;type=public" -pubin -noout -text
}

step_csr() {
    step "Make a CSR signed in the token with the stock openssl req"
    run openssl req -new -key "pkcs11:token=$label;object=$key_label;type=private" \
        -subj "/CN=attfresh demo station/O=attfresh" -out "$work/demo.csr"
    run openssl req -in "$work/demo.csr" -noout -subject -pubkey
}

step_verify() {
    step "Verify the CSR signature in software (plain OpenSSL, no provider configured)"
    run env OPENSSL_CONF=/dev/null openssl req -in "$work/demo.csr" -noout -verify
}

step_rand() {
    step "openssl rand drawing from the HSM (ATTFRESH-RAND as OpenSSL's primary generator)"
    # The same configuration plus a [random] section, and attfresh's trace log on stderr: it
    # prints one line per C_GenerateRandom, the proof that the bytes came from the token.
    sed -e '/^\[openssl_init\]/a random = random_sect' \
        -e '/^\[attfresh_sect\]/a debug-level = trace' \
        -e '/^\[attfresh_sect\]/a debug-log = stderr' \
        "$tok/openssl.cnf" >"$work/rand.cnf"
    cat >>"$work/rand.cnf" <<'CNF'

[random_sect]
random = ATTFRESH-RAND
properties = provider=attfresh
CNF
    say "the configuration with [random_sect] and the trace ($work/rand.cnf):"
    sed -n -e '/^\[openssl_init\]/,/^$/p' -e '/^\[attfresh_sect\]/,$p' "$work/rand.cnf" |
        sed 's/^/      /'
    run env OPENSSL_CONF="$work/rand.cnf" openssl rand -hex 32 | tee "$work/rand.out"
    grep -q 'trace: C_GenerateRandom' "$work/rand.out" || {
        say "the HSM was NOT called (no C_GenerateRandom in attfresh's trace)"
        return 1
    }
    say "attfresh's trace shows C_GenerateRandom: the random bytes came from the token."
}

# ---- the whole enrollment (docs/enroll.md) ------------------------------------------------------
ak_uri="pkcs11:token=$label;object=demo-ak"

step_enroll_setup() {
    step "Enrollment: an Attestation Key in the token, certified by a throw-away AK CA"
    run_quiet bash scripts/mkca.sh "$work/akca" "attfresh demo AK CA"
    run "$build/attfresh" ak init --token "$label" --label demo-ak --ca-cert "$work/akca/ca.pem" \
        --ca-key "$work/akca/ca.key" --out "$work/ak.pem"
    for k in device-cmp device-est device-cmc; do
        run_quiet openssl genpkey -provider attfresh -provider default -algorithm EC \
            -pkeyopt group:P-256 -pkeyopt "label:$k" -out "$work/$k-ref.pem"
    done
    say "device keys device-cmp, device-est, device-cmc generated in the token"

    step "The RA: attfresh serve with a local CA whose key is in the token (CMP, CMC over HTTP; EST over HTTPS)"
    run_quiet openssl genpkey -provider attfresh -provider default -algorithm EC \
        -pkeyopt group:P-256 -pkeyopt label:demo-ra-ca -out "$work/ra-ca-ref.pem"
    run openssl req -x509 -new -key "pkcs11:token=$label;object=demo-ra-ca" \
        -subj "/CN=attfresh demo RA CA" -days 30 -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign -out "$work/ra-ca.pem"
    run_quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$work/tls.key" -out "$work/tls.pem" -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -days 2
    (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$work/mac.txt")
    local a line='$'
    set -- "$build/attfresh" serve --http 127.0.0.1:0 --https 127.0.0.1:0 \
        --tls-cert "$work/tls.pem" --tls-key "$work/tls.key" --cmp-secret-file "$work/mac.txt" \
        --ca-cert "$work/ra-ca.pem" --ca-key "pkcs11:token=$label;object=demo-ra-ca" \
        --ak-trust "$work/akca/ca.pem" --log "$work/ra.log"
    for a in "$@"; do line+=" $(q "$a")"; done
    printf '  %s &\n' "$line"
    "$@" >"$work/ra.out" 2>&1 &
    ra_pid=$!
    for _ in $(seq 1 100); do
        grep -q '^https://' "$work/ra.out" 2>/dev/null && break
        kill -0 "$ra_pid" 2>/dev/null || break
        sleep 0.1
    done
    http_port=$(sed -n 's|^http://127.0.0.1:\([0-9]*\)/$|\1|p' "$work/ra.out")
    https_port=$(sed -n 's|^https://127.0.0.1:\([0-9]*\)/$|\1|p' "$work/ra.out")
    [ -n "$http_port" ] && [ -n "$https_port" ] || { sed 's/^/      /' "$work/ra.out"; return 1; }
    say "RA listening on http://127.0.0.1:$http_port/ and https://127.0.0.1:$https_port/"
}

# enroll_via NAME KEY ARGS...: attfresh enroll (which checks the certificate chains to the RA's CA,
# --trusted), then openssl verify of the certificate
enroll_via() {
    local name=$1 key=$2
    shift 2
    step "attfresh enroll over $name: nonce, Evidence (AK in the token), CSR (key in the token), certificate"
    run "$build/attfresh" enroll "$@" --key "pkcs11:token=$label;object=$key" --ak "$ak_uri" \
        --ak-cert "$work/ak.pem" --subj "/CN=$key/O=attfresh demo" --trusted "$work/ra-ca.pem" \
        --out "$work/$key.pem"
    run openssl verify -CAfile "$work/ra-ca.pem" "$work/$key.pem"
}

step_enroll_cmp() {
    enroll_via CMP device-cmp --cmp "http://127.0.0.1:$http_port/.well-known/cmp" \
        --secret-file "$work/mac.txt" --ref demo-station --save-state "$work/cmp-state.json"
}

step_enroll_est() {
    enroll_via EST device-est --est "https://127.0.0.1:$https_port" --cafile "$work/tls.pem"
}

step_enroll_cmc() {
    enroll_via CMC device-cmc --cmc "http://127.0.0.1:$http_port/cmc"
}

step_enroll_replay() {
    step "The RA refuses a replay: the CMP transaction again, its nonce already used"
    if run "$build/attfresh" enroll --cmp "http://127.0.0.1:$http_port/.well-known/cmp" \
        --secret-file "$work/mac.txt" --ref demo-station --state "$work/cmp-state.json" \
        --key "pkcs11:token=$label;object=device-cmp" --ak "$ak_uri" --ak-cert "$work/ak.pem" \
        --subj /CN=device-cmp --out "$work/replay.pem"; then
        say "the replay was NOT refused"
        return 1
    fi
    say "the RA's request log:"
    sed 's/^/      /' "$work/ra.log"
}

# The steps, in order, and the CMake targets they need (a new step adds its own, e.g. attfresh_cmd).
STEPS=(step_deps step_build step_token step_keygen step_csr step_verify step_rand)
BUILD_TARGETS=(attfresh_module)
# enrollment (docs/enroll.md): the attfresh command, RA and station
STEPS+=(step_enroll_setup step_enroll_cmp step_enroll_est step_enroll_cmc step_enroll_replay)
BUILD_TARGETS+=(attfresh_cmd)

for s in "${STEPS[@]}"; do
    "$s" || {
        printf '\ndemo.sh: FAILED in %s\n' "$s" >&2
        exit 1
    }
done
printf '\ndemo.sh: done: key generated in the token, CSR signed in the token and verified, random from the HSM;\n'
printf 'enrolled over CMP, EST and CMC with nonce-bound Evidence, certificates verified, a replay refused.\n'
