# lib.sh - helpers the CLI tests share; sourced as . "$(dirname "$0")/lib.sh" (not a test itself:
# tests/CMakeLists.txt runs only tests/cli/test_*.sh). Result lines, the usual ways of running a
# command and judging it, and a work directory that is removed, after every server the test
# started (their pids in the array pids) is stopped, on any exit.
# Set af_numbered=1 before sourcing for TAP-numbered lines ("ok 3 - ..."; the count is in $n).

fails=0
n=0
pids=()

# ok/bad WHAT...: one result line; bad counts a failure in $fails.
ok() {
    if [ -n "${af_numbered:-}" ]; then
        n=$((n + 1))
        echo "ok $n - $*"
    else
        echo "ok   - $*"
    fi
}
bad() {
    fails=$((fails + 1))
    if [ -n "${af_numbered:-}" ]; then
        n=$((n + 1))
        echo "not ok $n - $*"
    else
        echo "FAIL - $*"
    fi
}

# check WHAT CMD...: the command must succeed (its output is not captured).
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

# expect_ok WHAT CMD...: the command must succeed; its output goes to out.txt and err.txt, and
# err.txt (plus the files named in $af_show_also) is shown on failure.
expect_ok() {
    local what=$1
    shift
    if "$@" >out.txt 2>err.txt; then
        ok "$what"
    else
        bad "$what (exit $?)"
        cat err.txt ${af_show_also:-}
    fi
}

# expect_fail NAME REGEX CMD...: exit 1 with exactly one "attfresh:" line matching REGEX (ERE).
expect_fail() {
    local name=$1 re=$2 rc
    shift 2
    "$@" >out.txt 2>err.txt
    rc=$?
    if [ "$rc" -ne 1 ]; then
        bad "$name: exit $rc, want 1"
        cat err.txt
    elif [ "$(wc -l <err.txt)" -ne 1 ] || ! grep -q '^attfresh: ' err.txt; then
        bad "$name: not one error line"
        cat err.txt
    elif ! grep -Eq -- "$re" err.txt; then
        bad "$name: message does not match /$re/"
        cat err.txt
    else
        ok "$name: $(cut -c1-150 err.txt)"
    fi
}

# expect_fail_line WHAT PATTERN CMD...: non-zero exit and exactly one stderr line matching PATTERN
# (BRE). The failure line names the pattern when $af_fail_want is set.
expect_fail_line() {
    local what=$1 pat=$2
    shift 2
    "$@" >out.txt 2>err.txt
    local rc=$?
    if [ $rc -ne 0 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q -- "$pat" err.txt; then
        ok "$what: $(cat err.txt)"
    else
        bad "$what (exit $rc${af_fail_want:+, want '$pat'}, stderr:)"
        cat err.txt
    fi
}

# af_serve NAME URLRE ARGS...: starts attfresh serve ARGS in the background (stdout NAME.out,
# stderr NAME.log; its pid in PID and appended to pids) and waits, bounded (10 s), until it printed
# a URL whose scheme matches URLRE ('http', 'https' or 'https\?') or died. Sets url (the first such
# URL, no trailing /), HTTP and HTTPS (the ports it printed). Returns 0 when url is set; else says
# so with the server's log and returns 1.
af_serve() {
    local name=$1 scheme=$2 i
    shift 2
    "$AF_CMD" serve "$@" >"$name.out" 2>"$name.log" &
    PID=$!
    pids+=("$PID")
    url=""
    for i in $(seq 1 200); do
        url=$(sed -n "s|^\\($scheme://127\\.0\\.0\\.1:[0-9]*\\)/\$|\\1|p" "$name.out" 2>/dev/null | head -1)
        [ -n "$url" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    HTTP=$(sed -n 's|^http://127.0.0.1:\([0-9]*\)/$|\1|p' "$name.out")
    HTTPS=$(sed -n 's|^https://127.0.0.1:\([0-9]*\)/$|\1|p' "$name.out")
    [ -n "$url" ] && return 0
    echo "cannot start attfresh serve ($name):"
    cat "$name.log"
    return 1
}

# af_cleanup: stops the servers in pids (SIGTERM, then reaps them) and removes $work.
af_cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    rm -rf "${work:-}"
}

# af_workdir [mktemp template]: sets $work to a new temp directory removed by af_cleanup on exit.
af_workdir() {
    work=$(mktemp -d "$@") || exit 1
    trap af_cleanup EXIT
}
