# Shared helpers for the benchmark scripts (sourced, not run).
# Needs: redis-server, redis-cli, python3, timeout. Builds daisy in release
# mode unless DAISY_BIN points at a binary.

READY_TIMEOUT_TENTHS=${READY_TIMEOUT_TENTHS:-600}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for tool in redis-server redis-cli redis-benchmark python3 timeout; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y redis-server python3)" >&2; exit 1; }
done

if [[ -z "${DAISY_BIN:-}" ]]; then
    (cd "$root" && cargo build --release -p daisy)
    DAISY_BIN="${CARGO_TARGET_DIR:-$root/target}/release/daisy"
fi

work=$(mktemp -d)
pids=()
# stop_process PID: SIGTERM, then SIGKILL if it is still there after
# STOP_TIMEOUT_TENTHS tenths of a second.
STOP_TIMEOUT_TENTHS=${STOP_TIMEOUT_TENTHS:-100}
stop_process() {
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq "$STOP_TIMEOUT_TENTHS"); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    for pid in "${pids[@]}"; do
        stop_process "$pid"
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_ready NAME PORT LOG: waits (bounded) until the server answers PING.
wait_ready() {
    local name=$1 port=$2 log=$3
    for _ in $(seq "$READY_TIMEOUT_TENTHS"); do
        if [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "$name did not answer PING on port $port; its log:" >&2
    tail -20 "$log" >&2
    exit 1
}

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# load_file KEYS PATH [VALUE_BYTES]: a RESP file of SET key:N <value> for
# redis-cli --pipe; values are VALUE_BYTES (default 16) bytes, "v" and N.
load_file() {
    python3 - "$1" "${3:-16}" >"$2" <<'PY'
import sys
out = sys.stdout.buffer
keys, value_bytes = int(sys.argv[1]), int(sys.argv[2])
for n in range(keys):
    key = b"key:%d" % n
    value = b"v%0*d" % (value_bytes - 1, n)
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value))
PY
}

# now_ms: wall clock in milliseconds.
now_ms() {
    date +%s%3N
}
