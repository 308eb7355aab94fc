#!/usr/bin/env bash
# Durable DaisyDB next to durable Redis, in the same run on this machine:
#  1. SET/INCR throughput, daisy --fsync always vs redis-server
#     --appendonly yes --appendfsync always (redis-benchmark -c 50);
#  2. restart time holding KEYS keys: daisy from its snapshot (and from its
#     log alone) vs redis-server from its RDB file;
#  3. command latency (p50/p99) while background snapshots run, vs without.
#
#   bench/durable.sh                 # N=100000 requests, KEYS=1000000
#   N=20000 KEYS=100000 bench/durable.sh   # a quick run
set -euo pipefail

N=${N:-100000}
KEYS=${KEYS:-1000000}
ROUNDS=${ROUNDS:-3}
LATENCY_N=${LATENCY_N:-300000}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}

source "$(dirname "$0")/common.sh"

# start_daisy NAME [ARGS...]: starts daisy on a free port with data dir
# $work/NAME; sets port and pid.
start_daisy() {
    local name=$1
    shift
    port=$(free_port)
    mkdir -p "$work/$name"
    "$DAISY_BIN" server --client-addr "127.0.0.1:$port" --data-dir "$work/$name" "$@" \
        >>"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
}

start_redis() {
    local name=$1
    shift
    port=$(free_port)
    mkdir -p "$work/$name"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize no --dir "$work/$name" "$@" \
        >>"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# ready_ms PORT: polls every 5 ms until PONG; prints the milliseconds waited.
ready_ms() {
    local start
    start=$(now_ms)
    for _ in $(seq 24000); do
        if [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; then
            echo $(($(now_ms) - start))
            return 0
        fi
        sleep 0.005
    done
    echo "server on port $1 never answered" >&2
    exit 1
}

median_rps() {
    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

rps() {
    timeout "$BENCH_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -n "$N" -t "$2" --csv 2>/dev/null |
        awk -F'"' 'NR > 1 && $2 != "" { print $4 }'
}

echo "== 1. throughput with fsync on every write (median of $ROUNDS, -c 50, -n $N)"
start_daisy d1 --fsync always
daisy_port=$port
wait_ready daisy "$daisy_port" "$work/d1.log"
start_redis r1 --save '' --appendonly yes --appendfsync always
redis_port=$port
wait_ready redis "$redis_port" "$work/r1.log"
printf '%-6s %14s %14s %12s\n' test 'daisy req/s' 'redis req/s' 'daisy/redis'
for test in set incr; do
    d=$(for _ in $(seq "$ROUNDS"); do rps "$daisy_port" "$test"; done | median_rps)
    r=$(for _ in $(seq "$ROUNDS"); do rps "$redis_port" "$test"; done | median_rps)
    awk -v t="$test" -v d="$d" -v r="$r" 'BEGIN { printf "%-6s %14.0f %14.0f %12.2f\n", toupper(t), d, r, d / r }'
done
stop "$(pgrep -f "client-addr 127.0.0.1:$daisy_port" || true)"
redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true

echo "== 2. restart time holding $KEYS keys (SET key:N, 16-byte values)"
load_file "$KEYS" "$work/load.resp"
start_daisy d2 --fsync everysec --snapshot-log-bytes 0 --snapshot-interval-secs 0
wait_ready daisy "$port" "$work/d2.log"
timeout "$BENCH_TIMEOUT" redis-cli -p "$port" --pipe <"$work/load.resp" >/dev/null
d_pid=$pid
stop "$d_pid"
start_daisy d2 --fsync everysec --snapshot-log-bytes 0 --snapshot-interval-secs 0
from_log=$(ready_ms "$port")
redis-cli -p "$port" save >/dev/null
keys=$(redis-cli -p "$port" dbsize)
stop "$pid"
start_daisy d2 --fsync everysec --snapshot-log-bytes 0 --snapshot-interval-secs 0
from_snapshot=$(ready_ms "$port")
daisy_latency_port=$port

start_redis r2 --save '' --appendonly no
wait_ready redis "$port" "$work/r2.log"
timeout "$BENCH_TIMEOUT" redis-cli -p "$port" --pipe <"$work/load.resp" >/dev/null
redis-cli -p "$port" save >/dev/null
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait "$pid" 2>/dev/null || true
start_redis r2 --save '' --appendonly no
redis_restart=$(ready_ms "$port")
redis_latency_port=$port
echo "daisy holds $keys keys"
echo "daisy from its log alone:     ${from_log} ms"
echo "daisy from its snapshot:      ${from_snapshot} ms"
echo "redis-server from its RDB:    ${redis_restart} ms"
awk -v d="$from_snapshot" -v r="$redis_restart" 'BEGIN { printf "snapshot restart daisy/redis: %.2f\n", d / r }'

echo "== 3. latency (ms) of SET/GET with 10 clients, without and with background snapshots"
latency() {
    timeout "$BENCH_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$1" -c 10 -n "$LATENCY_N" -t set,get -r "$KEYS" 2>/dev/null |
        awk '/latency summary/ { getline; getline; printf "p50 %s p99 %s max %s\n", $3, $5, $6 }' | tail -1
}
with_snapshots() {
    local port=$1
    (
        for _ in $(seq 200); do
            redis-cli -p "$port" bgsave >/dev/null 2>&1 || true
            sleep 0.2
        done
    ) &
    local saver=$!
    latency "$port"
    kill "$saver" 2>/dev/null || true
    wait "$saver" 2>/dev/null || true
}
echo "daisy  without: $(latency "$daisy_latency_port")"
echo "daisy  with:    $(with_snapshots "$daisy_latency_port")"
echo "redis  without: $(latency "$redis_latency_port")"
echo "redis  with:    $(with_snapshots "$redis_latency_port")"
