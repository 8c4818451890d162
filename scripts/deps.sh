#!/usr/bin/env bash
# deps.sh - installs every Debian 12 package attfresh needs to build, test, fuzz, run the demo and
# the benchmarks. The one list of packages lives here. Fast when everything is present (no apt
# call at all); otherwise one `apt-get update` and one `apt-get install`. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
    # build
    build-essential cmake pkg-config git
    libssl-dev openssl
    libp11-kit-dev p11-kit p11-kit-modules
    libjansson-dev libcbor-dev libcurl4-openssl-dev libmicrohttpd-dev libhiredis-dev libgnutls28-dev
    # tests: HSM, unit runner, servers and clients the tests start themselves
    softhsm2 libcunit1-dev redis-server curl ca-certificates nginx-light
    python3 jq # cli test scripts check JSON with them
    # fuzzing (libFuzzer ships in libclang-rt-14-dev on Debian 12)
    clang libclang-rt-14-dev
    # benchmarks
    hyperfine wrk
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps.sh: all ${#PACKAGES[@]} packages present"
    exit 0
fi

echo "deps.sh: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "deps.sh: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
        exit 1
    }
    SUDO=(sudo)
fi

# The tests and benchmarks start their own redis-server/nginx on loopback; keep the packages'
# system services from starting during installation (fresh containers have no init anyway).
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    own_policy=1
fi
cleanup() { [ "$own_policy" = 1 ] && "${SUDO[@]}" rm -f "$policy"; return 0; }
trap cleanup EXIT

APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0)
"${APT[@]}" update
"${APT[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null
echo "deps.sh: done"
