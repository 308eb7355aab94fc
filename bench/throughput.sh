#!/usr/bin/env bash
# Throughput of `daisy server` against `redis-server`, measured in the same
# run with redis-benchmark: 50 clients, with and without pipelining.
#
#   bench/throughput.sh            # N=100000 requests per test
#   N=1000000 bench/throughput.sh  # longer run
#   DAISY_BIN=/path/to/daisy bench/throughput.sh   # skip the cargo build
#
# Both servers run on this machine next to the client, so the numbers are
# for comparing the two, not absolute capacity.
set -euo pipefail

N=${N:-100000}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-set,get,incr,lpush,hset}
PIPELINES=${PIPELINES:-"1 16"}
# Upper bound on one redis-benchmark run, so a stuck server cannot hang us.
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
READY_TIMEOUT_TENTHS=100

root=$(cd "$(dirname "$0")/.." && pwd)
for tool in redis-server redis-benchmark redis-cli python3 timeout; do
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

daisy_port=$(free_port)
mkdir -p "$work/daisy"
"$DAISY_BIN" server --client-addr "127.0.0.1:$daisy_port" --data-dir "$work/daisy" \
    >"$work/daisy.log" 2>&1 &
pids+=($!)
wait_ready daisy "$daisy_port" "$work/daisy.log"

redis_port=$(free_port)
mkdir -p "$work/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$work/redis" >"$work/redis.log" 2>&1 &
pids+=($!)
wait_ready redis-server "$redis_port" "$work/redis.log"

# Prints "TEST RPS" lines for one server and one pipeline depth.
bench() {
    local port=$1 pipeline=$2
    timeout "$BENCH_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" \
        -t "$TESTS" -P "$pipeline" --csv 2>/dev/null |
        awk -F'"' 'NR > 1 && $2 != "" { print $2, $4 }'
}

printf '%-8s %3s %14s %14s %12s\n' test P 'daisy req/s' 'redis req/s' 'daisy/redis'
for pipeline in $PIPELINES; do
    bench "$daisy_port" "$pipeline" >"$work/daisy.$pipeline"
    bench "$redis_port" "$pipeline" >"$work/redis.$pipeline"
    join <(sort "$work/daisy.$pipeline") <(sort "$work/redis.$pipeline") |
        awk -v p="$pipeline" '{ printf "%-8s %3s %14.0f %14.0f %12.2f\n", $1, p, $2, $3, ($3 > 0 ? $2 / $3 : 0) }'
done
