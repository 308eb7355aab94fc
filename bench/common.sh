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
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
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

# load_file KEYS PATH: a RESP file of SET key:N <16-byte value> for redis-cli --pipe.
load_file() {
    python3 - "$1" >"$2" <<'PY'
import sys
out = sys.stdout.buffer
for n in range(int(sys.argv[1])):
    key = b"key:%d" % n
    value = b"v%015d" % n
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n" % (len(key), key, value))
PY
}

# now_ms: wall clock in milliseconds.
now_ms() {
    date +%s%3N
}
