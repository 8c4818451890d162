#!/usr/bin/env bash
# est_vs_nginx.sh - EST nonce requests/s of `attfresh serve` against nginx serving a static JSON
# of the same size (the HTTP ceiling of this machine), both on 127.0.0.1 with the same TLS
# certificate and key (EC P-256, TLS 1.3 on both; MODE=plain runs both without TLS), both with 2
# worker threads/processes and an access log file, measured with wrk (bounded: DURATION seconds,
# loopback only). Prints requests/s of each and the ratio (target of issue 4: EST >= 50 % of nginx).
# Not part of the tests. Environment: BUILD (default build), NO_BUILD=1 (use BUILD as it is),
# MODE (tls | plain), RAND (hsm: nonces from SoftHSM2 through attfresh.so, the default | soft),
# DURATION (20), CONNECTIONS (32), WRK_THREADS (2), REPEAT (1; rows interleaved per repeat).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
mode=${MODE:-tls}
rand=${RAND:-hsm}
dur=${DURATION:-20}
conns=${CONNECTIONS:-32}
wthreads=${WRK_THREADS:-2}
repeat=${REPEAT:-1}
[ "$dur" -ge 1 ] && [ "$dur" -le 60 ] || { echo "DURATION must be 1..60 s" >&2; exit 2; }
case "$mode" in tls | plain) ;; *) echo "MODE must be tls or plain" >&2; exit 2 ;; esac
case "$rand" in hsm | soft) ;; *) echo "RAND must be hsm or soft" >&2; exit 2 ;; esac
for t in wrk curl openssl python3; do
    command -v "$t" >/dev/null || { echo "est_vs_nginx.sh: $t missing (scripts/deps.sh)" >&2; exit 1; }
done
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "est_vs_nginx.sh: nginx missing (nginx-light, scripts/deps.sh)" >&2; exit 1; }

echo "est_vs_nginx.sh: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); mode $mode," \
    "nonces from ${rand}, wrk -t$wthreads -c$conns -d${dur}s"
if [ "${NO_BUILD:-0}" != 1 ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target attfresh_cmd attfresh_module
fi

tmp=$(mktemp -d /tmp/attfresh-est-bench.XXXXXX)
chmod 755 "$tmp" # nginx workers may run as another user
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # bounded wait until something accepts on 127.0.0.1:$1
    local i
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
    -out "$tmp/cert.pem" -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 2>/dev/null
chmod 644 "$tmp/key.pem"

# ---- attfresh serve -----------------------------------------------------------------------------
ra_args=(--threads 2 --rate-limit no --max-per-client 1000000 --max-outstanding 2000000
    --expiry 5 --remember 0 --log "$tmp/attfresh.access")
if [ "$rand" = hsm ]; then
    export OPENSSL_MODULES=$build/modules AF_P11KIT_PROXY=$(pkg-config --variable=proxy_module p11-kit-1)
    export AF_TEST_TOKEN_LABEL=attfresh-est-bench SOFTHSM2_CONF=$tmp/token/softhsm2.conf
    bash "$root/tests/scripts/token-fixture.sh" setup "$tmp/token" >/dev/null
    export OPENSSL_CONF=$tmp/token/openssl.cnf
else
    ra_args+=(--soft-rand)
fi
if [ "$mode" = tls ]; then
    ra_args+=(--https 127.0.0.1:0 --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem")
    scheme=https
else
    ra_args+=(--http 127.0.0.1:0 --est-on-http)
    scheme=http
fi
"$build/attfresh" serve "${ra_args[@]}" >"$tmp/attfresh.out" 2>"$tmp/attfresh.err" &
pids+=($!)
for i in $(seq 1 100); do
    grep -q "^$scheme://" "$tmp/attfresh.out" 2>/dev/null && break
    sleep 0.1
done
ra_port=$(sed -n "s|^$scheme://127.0.0.1:\([0-9]*\)/\$|\1|p" "$tmp/attfresh.out")
[ -n "$ra_port" ] || { echo "attfresh serve did not start:" >&2; cat "$tmp/attfresh.err" >&2; exit 1; }
ra_url="$scheme://127.0.0.1:$ra_port/.well-known/est/nonce"

# One real response: nginx serves a file of exactly its size.
curl -s --cacert "$tmp/cert.pem" -o "$tmp/sample.json" "$ra_url"
size=$(stat -c %s "$tmp/sample.json")
grep -q '"nonce":"' "$tmp/sample.json" || { echo "no nonce from attfresh serve" >&2; exit 1; }
mkdir -p "$tmp/www"
cp "$tmp/sample.json" "$tmp/www/nonce.json"
chmod -R a+rX "$tmp/www"

# ---- nginx --------------------------------------------------------------------------------------
ng_port=$(free_port)
listen="127.0.0.1:$ng_port"
ssl=""
if [ "$mode" = tls ]; then
    listen="$listen ssl"
    ssl="ssl_certificate $tmp/cert.pem; ssl_certificate_key $tmp/key.pem; ssl_protocols TLSv1.3;"
fi
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log $tmp/nginx/access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen $listen;
        $ssl
        location = /.well-known/est/nonce {
            default_type application/est-attestation-freshness+json;
            alias $tmp/www/nonce.json;
        }
    }
}
EOF
"$nginx" -p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" &
pids+=($!)
wait_port "$ng_port" || { echo "nginx did not start:" >&2; cat "$tmp/nginx/error.log" >&2; exit 1; }
ng_url="$scheme://127.0.0.1:$ng_port/.well-known/est/nonce"
s=$(curl -s --cacert "$tmp/cert.pem" -o "$tmp/ng.json" -w '%{http_code}' "$ng_url")
[ "$s" = 200 ] && cmp -s "$tmp/ng.json" "$tmp/sample.json" || { echo "nginx does not serve the JSON ($s)" >&2; exit 1; }
echo "response body: $size bytes from both (attfresh: a fresh nonce each time; nginx: a static file)"

# ---- measure ------------------------------------------------------------------------------------
run() { # NAME URL -> "req/s non2xx"
    local out
    out=$(wrk -t"$wthreads" -c"$conns" -d"${dur}s" --latency "$2")
    echo "$out" >"$tmp/wrk.$1"
    printf '%s %s\n' "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
        "$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out" | tr -d ' ')"
}
ra_all=()
ng_all=()
for r in $(seq 1 "$repeat"); do
    read -r ng ng_bad < <(run nginx "$ng_url")
    read -r ra ra_bad < <(run attfresh "$ra_url")
    printf 'repeat %d: nginx %10.0f req/s  attfresh %10.0f req/s  (non-2xx: nginx %s, attfresh %s)\n' \
        "$r" "$ng" "$ra" "${ng_bad:-0}" "${ra_bad:-0}"
    ng_all+=("$ng")
    ra_all+=("$ra")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ng=$(median "${ng_all[@]}")
ra=$(median "${ra_all[@]}")
ratio=$(awk -v a="$ra" -v b="$ng" 'BEGIN { printf "%.1f", 100 * a / b }')
echo
echo "| server ($mode, $size-byte JSON, wrk -c$conns, ${dur}s) | requests/s (median of $repeat) |"
echo "|---|---|"
printf '| nginx, static file | %.0f |\n' "$ng"
printf '| attfresh serve EST /nonce (nonce from %s, stored, cookie) | %.0f |\n' "$rand" "$ra"
echo
echo "EST / nginx = $ratio % (target >= 50 %): $(awk -v r="$ratio" 'BEGIN { print (r >= 50) ? "met" : "NOT met" }')"
echo "latency of the last run of each (wrk --latency):"
for n in nginx attfresh; do
    awk -v n="$n" '/Latency Distribution/ { on = 1 } on && /%/ { printf "  %-8s %s\n", n, $0 }' "$tmp/wrk.$n"
done
