#!/usr/bin/env bash
# redis-fixture.sh setup|cleanup DIR - a private, throw-away redis-server for one test run: bound to
# 127.0.0.1 on a free port, no persistence, its files under DIR. setup writes DIR/port and
# DIR/redis.pid; cleanup stops exactly that server (by its pid file) and removes DIR.
set -euo pipefail
cmd=${1:?usage: redis-fixture.sh setup|cleanup DIR}
dir=${2:?usage: redis-fixture.sh setup|cleanup DIR}
dir=$(realpath -m "$dir") # redis-server changes into --dir: relative paths would break

stop() {
    local pid
    [ -f "$dir/redis.pid" ] || return 0
    pid=$(cat "$dir/redis.pid")
    # Only our server: a stale pid file must not make us signal some other process.
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = redis-server ] && kill "$pid" 2>/dev/null; then
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$dir/redis.pid"
}

case "$cmd" in
setup)
    command -v redis-server >/dev/null || { echo "redis-fixture: redis-server not installed" >&2; exit 1; }
    stop
    rm -rf "$dir"
    mkdir -p "$dir"
    chmod 700 "$dir"
    for _ in $(seq 20); do
        port=$((20000 + RANDOM % 40000))
        # Something already answers there: try another port.
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            continue
        fi
        rm -f "$dir/redis.pid"
        redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes --save '' \
            --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
            --logfile "$dir/redis.log" --loglevel warning
        for _ in $(seq 50); do
            if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
                echo "$port" >"$dir/port"
                echo "redis-server ready on 127.0.0.1:$port (pid $(cat "$dir/redis.pid"))"
                exit 0
            fi
            sleep 0.1
        done
        stop # lost the race for the port, or did not start: try again
    done
    echo "redis-fixture: could not start redis-server; log:" >&2
    cat "$dir/redis.log" >&2 || true
    exit 1
    ;;
cleanup)
    stop
    rm -rf "$dir"
    ;;
*)
    echo "redis-fixture.sh: unknown command '$cmd'" >&2
    exit 2
    ;;
esac
